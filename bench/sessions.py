#!/usr/bin/env python
"""Signed-in sessions for the load tool, and the request lists it rotates through.

    python bench/sessions.py --database-url URL [--count 400] [--out /tmp/lms-bench]

Picks COUNT random active learners (no role grant) that have enrolments, opens a
server-side session for each with the app's own ``start_session`` (a user_sessions row
holding sha256 of a random id), and signs the cookie exactly as Flask would after
``sign_in``: the keys Flask-Login sets (``_user_id``, ``_fresh``, ``_id``), the session id
``sid``, ``_permanent``, and the CSRF token Flask-WTF keeps in the session once a page
has shown a form (without it every response would carry a new one).

Writes one file per target to OUT, a line per request: ``path<TAB>Cookie header``.
The cookies are signed with the bench secret key (LMS_SECRET_KEY when set), so the
gunicorn workers must run with the same one (run_learning.py sees to that).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402

USER_AGENT = "lms-bench"
TARGETS = ("bare", "learning", "course", "lesson")


def learning_paths(dbs, user_ids) -> tuple[dict[int, list[str]], dict[str, list[str]]]:
    """The published courses (slugs) each person is enrolled in, and each course's lesson
    keys in reading order: what a load tool needs to make its learners' URLs."""
    from sqlalchemy import select

    from lms.courses.models import Course, CourseStatus, Enrolment, Lesson, Module

    enrolled: dict[int, list[str]] = {}
    for user_id, slug in dbs.execute(
            select(Enrolment.user_id, Course.slug).join(Course, Course.id == Enrolment.course_id)
            .where(Enrolment.user_id.in_(list(user_ids)),
                   Course.status == CourseStatus.PUBLISHED.value)
            .order_by(Enrolment.user_id, Course.slug)):
        enrolled.setdefault(user_id, []).append(slug)
    keys: dict[str, list[str]] = {}
    for slug, key in dbs.execute(
            select(Course.slug, Lesson.key).join(Lesson, Lesson.course_id == Course.id)
            .join(Module, Module.id == Lesson.module_id)
            .where(Lesson.is_archived.is_(False), Module.is_archived.is_(False))
            .order_by(Course.slug, Module.position, Lesson.position)):
        keys.setdefault(slug, []).append(key)
    return enrolled, keys


def signed_cookies(app, tokens: dict[int, str], user_agent: str = USER_AGENT) -> dict[int, str]:
    """The session cookie's value for each user id (server-side session ``tokens``), signed
    exactly as Flask signs it after a sign-in from 127.0.0.1 with ``user_agent``."""
    from lms.extensions import login_manager

    cookies: dict[int, str] = {}
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                  headers={"User-Agent": user_agent}):
        serializer = app.session_interface.get_signing_serializer(app)
        for user_id in sorted(tokens):
            data = {"_user_id": str(user_id), "_fresh": True,
                    "_id": login_manager._session_identifier_generator(), "sid": tokens[user_id],
                    "_permanent": True, "csrf_token": hashlib.sha1(os.urandom(64)).hexdigest()}
            cookies[user_id] = serializer.dumps(data)
    return cookies


def make_sessions(database_url: str, count: int, out: Path, seed: int = 1) -> dict[str, Path]:
    """Open COUNT sessions; returns {target: file of "path<TAB>cookie" lines}."""
    from sqlalchemy import delete, exists, select

    from lms.auth.models import UserSession
    from lms.auth.sessions import start_session
    from lms.courses.models import Enrolment
    from lms.db import db
    from lms.org.models import RoleGrant, User

    _common.use_bench_environ(database_url)
    app = _common.make_app()
    rng = random.Random(seed)
    with app.app_context():
        dbs = db.session
        dbs.execute(delete(UserSession).where(UserSession.user_agent == USER_AGENT))  # earlier runs
        candidates = dbs.scalars(select(User.id).where(
            User.is_active.is_(True), User.must_change_password.is_(False),
            ~exists().where(RoleGrant.user_id == User.id),
            exists().where(Enrolment.user_id == User.id)).order_by(User.id)).all()
        if not candidates:
            raise SystemExit("no learner with enrolments: run bench/generate.py first")
        chosen = rng.sample(candidates, min(count, len(candidates)))
        tokens = {user.id: start_session(dbs, user, "127.0.0.1", USER_AGENT)
                  for user in dbs.scalars(select(User).where(User.id.in_(chosen)))}
        dbs.commit()
        enrolled, keys = learning_paths(dbs, chosen)
        db.engine.dispose()

    name = app.config["SESSION_COOKIE_NAME"]
    cookies = {user_id: f"{name}={value}" for user_id, value in signed_cookies(app, tokens).items()}

    lines: dict[str, list[str]] = {target: [] for target in TARGETS}
    for user_id, cookie in cookies.items():
        lines["bare"].append(f"/_bench/bare\t{cookie}")
        lines["learning"].append(f"/learning\t{cookie}")
        for slug in enrolled.get(user_id, []):
            lines["course"].append(f"/courses/{slug}\t{cookie}")
            lines["lesson"].append(f"/courses/{slug}/lessons/{rng.choice(keys[slug])}\t{cookie}")
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for target, rows in lines.items():
        rng.shuffle(rows)  # consecutive requests come from different people
        files[target] = out / f"requests-{target}.tsv"
        files[target].write_text("\n".join(rows) + "\n")
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--count", type=int, default=400, help="signed-in people (default 400)")
    parser.add_argument("--out", type=Path, default=_common.DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    files = make_sessions(args.database_url, args.count, args.out, args.seed)
    for target, path in files.items():
        print(f"{target:<9} {sum(1 for _ in path.open()):>6} requests  {path}")


if __name__ == "__main__":
    main()
