#!/usr/bin/env python
"""Data for the mixed-load test (bench/run_load.py): the bench ministry plus what the
mixed workload needs on top of it.

    python bench/load_data.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/lms_bench_load \
        [--short] [--learners 500 --heads 20 --mentors 20]

1. bench/generate.py builds the ministry (units, people with role grants — unit heads and
   mentors among them —, courses, enrolments, lesson progress) in a database that is
   dropped and made again (its name must contain "bench");
2. then, through the app's services: a published course with a bank of questions and a
   quiz (unlimited attempts, one page) that the chosen learners are enrolled in;
   mentorships (each chosen mentor gets a few current mentees); a few certificates (rows
   only, no PDF: the public verify page reads the row); a backlog of e-mails in the
   outbox (mentor nudges) for the scheduler to deliver during the run;
3. signed-in sessions (the cookies of bench/sessions.py) for the learners, unit heads
   and mentors, written with everything the load clients need to ``users.json``.
"""
from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402
from bench.sessions import learning_paths, signed_cookies  # noqa: E402

USER_AGENT = "lms-bench-load"
QUIZ_SLUG = "bench-load-quiz"
BANK, DRAWN, CHOICES = 20, 8, 4

SIZES = {  # generate.py sizes: full mode = its defaults
    "short": {"users": 3000, "units": 60, "courses": 6, "enrolments": 9000},
    "full": {"users": 50_000, "units": 400, "courses": 20, "enrolments": 1_000_000},
}


def generate(url: str, short: bool, seed: int) -> dict:
    from bench import generate as generator

    size = SIZES["short" if short else "full"]
    argv = ["--database-url", url, "--users", str(size["users"]), "--units", str(size["units"]),
            "--courses", str(size["courses"]), "--enrolments", str(size["enrolments"]),
            "--seed", str(seed), "--drop-existing"]
    if _common.is_postgres(url):
        argv.append("--create")
    else:
        _common.sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
    original = generator.pg_detach

    def detach(conn, table: str) -> list[str]:
        """generate.py's pg_detach, plus the foreign keys of other tables that point at the
        big table (certificates -> enrolments): TRUNCATE before COPY ... FREEZE refuses a
        table that is referenced. They are put back after the table's own constraints."""
        refs = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE confrelid = %s::regclass AND contype = 'f' AND conrelid <> confrelid",
            (table,)).fetchall()
        refs = [r for r in refs if r[0] not in generator.BIG_TABLES]
        for relation, name, _definition in refs:
            conn.execute(f'ALTER TABLE {relation} DROP CONSTRAINT "{name}"')
        return original(conn, table) + [f'ALTER TABLE {relation} ADD CONSTRAINT "{name}" {definition}'
                                        for relation, name, definition in refs]

    generator.pg_detach = detach
    try:
        return generator.main(argv)
    finally:
        generator.pg_detach = original


def add_extras(url: str, learners: int, heads: int, mentors: int, certificates: int,
               emails: int, seed: int) -> dict:
    """Quiz course, mentorships, certificates, outbox backlog and sessions; returns the
    description of the clients (see ``users.json``)."""
    from sqlalchemy import delete, exists, func, select

    from lms.auth.models import UserSession
    from lms.auth.sessions import start_session
    from lms.certificates.models import Certificate
    from lms.courses.models import Course, Enrolment
    from lms.courses.services import enrol
    from lms.db import db, utcnow
    from lms.mentoring.models import Mentorship
    from lms.notify.models import OutboxEmail
    from lms.notify.services import notify
    from lms.org.models import RoleGrant, Unit, User

    _common.use_bench_environ(url)
    app = _common.make_app()
    rng = random.Random(seed)
    with app.app_context(), app.test_request_context():
        dbs = db.session
        dbs.execute(delete(UserSession).where(UserSession.user_agent == USER_AGENT))
        # -- the quiz course
        quiz = _common.quiz_course(dbs, QUIZ_SLUG, "Kiểm tra an toàn thông tin (tải hỗn hợp)",
                                   "Đọc kỹ trước khi làm bài kiểm tra.", BANK, DRAWN, CHOICES)
        course = dbs.get(Course, quiz.course_id)

        # -- learners: active, no role, enrolled somewhere (as bench/sessions.py picks them)
        candidates = dbs.scalars(select(User.id).where(
            User.is_active.is_(True), User.must_change_password.is_(False),
            ~exists().where(RoleGrant.user_id == User.id),
            exists().where(Enrolment.user_id == User.id)).order_by(User.id)).all()
        chosen = rng.sample(candidates, min(learners, len(candidates)))
        people = {u.id: u for u in dbs.scalars(select(User).where(User.id.in_(chosen)))}
        for user_id in chosen:
            enrol(dbs, people[user_id], course)

        # -- unit heads (one per department in the generated data) and mentors
        head_rows = dbs.execute(select(RoleGrant.user_id, RoleGrant.unit_id).join(
            User, User.id == RoleGrant.user_id).where(
            RoleGrant.role == "unit_head", User.is_active.is_(True)).order_by(RoleGrant.id)).all()
        head_rows = rng.sample(head_rows, min(heads, len(head_rows)))
        mentor_ids = dbs.scalars(select(RoleGrant.user_id).join(User, User.id == RoleGrant.user_id)
                                 .where(RoleGrant.role == "mentor", User.is_active.is_(True))
                                 .order_by(RoleGrant.user_id)).all()
        mentor_ids = rng.sample(list(mentor_ids), min(mentors, len(mentor_ids)))
        taken = set(mentor_ids) | set(chosen)
        free = [uid for uid in candidates if uid not in taken]
        rng.shuffle(free)
        now = utcnow()
        per_mentor = 8
        mentees: dict[int, list[int]] = {}
        for n, mentor_id in enumerate(mentor_ids):
            mentees[mentor_id] = free[n * per_mentor:(n + 1) * per_mentor]
            dbs.add_all(Mentorship(mentor_id=mentor_id, mentee_id=mentee, started_at=now - timedelta(days=60))
                        for mentee in mentees[mentor_id])
        dbs.flush()

        # -- certificates (rows only) of completed enrolments, for the public verify page
        done = dbs.execute(select(Enrolment, User, Course).join(User, User.id == Enrolment.user_id)
                           .join(Course, Course.id == Enrolment.course_id)
                           .where(Enrolment.status == "completed", Enrolment.completed_at.is_not(None))
                           .order_by(Enrolment.id).limit(certificates)).all()
        codes = []
        for n, (enrolment, person, certified) in enumerate(done, 1):
            code = secrets.token_urlsafe(24)
            codes.append(code)
            dbs.add(Certificate(serial=f"BENCH-2026-{n:06d}", code=code, user_id=person.id,
                                course_id=certified.id, enrolment_id=enrolment.id,
                                full_name=person.full_name, course_title=certified.title,
                                hours=round((certified.estimated_minutes or 60) / 60, 1),
                                completed_at=enrolment.completed_at, issued_at=enrolment.completed_at))
        dbs.flush()

        # -- a backlog in the outbox for the scheduler (mentor nudges: one e-mail each)
        pool = [m for ids in mentees.values() for m in ids] or free[:emails]
        recipients = (pool * (emails // max(1, len(pool)) + 1))[:emails]
        for mentor_id in mentor_ids[:1] or [None]:
            mentor = dbs.get(User, mentor_id) if mentor_id else None
            for start in range(0, len(recipients), max(1, len(pool))):
                notify(dbs, recipients[start:start + len(pool)], "nudge", actor=mentor,
                       params={"mentor": mentor.full_name if mentor else "Bench"},
                       body="Nhắc nhở: hãy hoàn thành khóa học bắt buộc.", at=now)
        queued = dbs.scalar(select(func.count()).select_from(OutboxEmail)) or 0

        # -- sessions
        def session_of(user: User) -> str:
            return start_session(dbs, user, "127.0.0.1", USER_AGENT)

        heads_users = {u.id: u for u in dbs.scalars(select(User).where(
            User.id.in_([r[0] for r in head_rows])))}
        mentor_users = {u.id: u for u in dbs.scalars(select(User).where(User.id.in_(mentor_ids)))}
        tokens = {uid: session_of(u) for uid, u in {**people, **heads_users, **mentor_users}.items()}
        dbs.commit()

        enrolled, keys = learning_paths(dbs, chosen)
        unit_codes = dict(dbs.execute(select(Unit.id, Unit.code)).all())
        quiz_id = quiz.id
        db.engine.dispose()

    name = app.config["SESSION_COOKIE_NAME"]
    cookies = signed_cookies(app, tokens, USER_AGENT)
    return {
        "cookie_name": name,
        "quiz_id": quiz_id, "drawn": DRAWN, "choices": CHOICES,
        "learners": [{"id": uid, "cookie": cookies[uid],
                      "courses": [{"slug": slug, "lessons": keys.get(slug, [])}
                                  for slug in enrolled.get(uid, []) if keys.get(slug)]}
                     for uid in chosen],
        "heads": [{"id": uid, "cookie": cookies[uid], "unit_id": unit_id,
                   "unit_code": unit_codes.get(unit_id)} for uid, unit_id in head_rows],
        "mentors": [{"id": uid, "cookie": cookies[uid], "mentees": len(mentees[uid])}
                    for uid in mentor_ids],
        "certificates": codes,
        "outbox_queued": queued,
    }


def build(url: str, out: Path, *, short: bool, learners: int, heads: int, mentors: int,
          certificates: int = 50, emails: int = 200, seed: int = 1) -> tuple[Path, dict]:
    """Everything, from an empty database; returns (users.json, facts)."""
    url = _common.sqlalchemy_url(url)
    started = time.perf_counter()
    summary = generate(url, short, seed)
    generated = time.perf_counter() - started
    users = add_extras(url, learners, heads, mentors, certificates, emails, seed)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "users.json"
    path.write_text(json.dumps(users))
    facts = {"generated": summary["counts"], "generate_seconds": round(generated, 1),
             "seconds": round(time.perf_counter() - started, 1),
             "learners": len(users["learners"]), "heads": len(users["heads"]),
             "mentors": len(users["mentors"]), "certificates": len(users["certificates"]),
             "outbox_queued": users["outbox_queued"], "quiz_id": users["quiz_id"]}
    return path, facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--short", action="store_true", help="a small ministry (3,000 people)")
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--heads", type=int, default=20)
    parser.add_argument("--mentors", type=int, default=20)
    parser.add_argument("--out", type=Path, default=_common.DEFAULT_OUT / "load")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    path, facts = build(args.database_url, args.out, short=args.short, learners=args.learners,
                        heads=args.heads, mentors=args.mentors, seed=args.seed)
    print(json.dumps(facts, indent=2, default=str))
    print(f"clients: {path}")


if __name__ == "__main__":
    main()
