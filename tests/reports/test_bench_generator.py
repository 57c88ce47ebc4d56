"""The reports benchmark's generator (bench/generate_ministry.py) at a tiny scale: it builds
through the app's migrations an organisation on three levels whose enrolments agree with
their timestamps, so the benchmark's figures mean something.

Runs on SQLite (a file of its own), or on PostgreSQL in a database of its own when
LMS_TEST_DATABASE_URL is set (the COPY path)."""
from __future__ import annotations

import os
import secrets
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench import _common
from bench.generate_ministry import Ministry, Spec, enrolment_rows, generate
from lms.assignments.models import Assignment, LearningPathCourse
from lms.courses.models import Course, Enrolment, EnrolmentStatus
from lms.org.models import ConcurrentPost, RoleGrant, Unit, User

NOW = datetime(2026, 6, 15, 3, 0, tzinfo=timezone.utc)
# Fewer enrolments than people × courses (1,200): the sampled path, not everyone everywhere.
SPEC = Spec(users=240, units=30, courses=5, enrolments=1000, posts=12, seed=3, now=NOW.timestamp())


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    base = os.environ.get("LMS_TEST_DATABASE_URL")
    folder = tmp_path_factory.mktemp("bench-generator")
    if base:
        url = make_url(base).set(database=f"lms_bench_gen_{secrets.token_hex(4)}").render_as_string(
            hide_password=False)
    else:
        url = f"sqlite:///{folder / 'lms_bench_gen.db'}"
    config = {"INSTANCE_PATH": str(folder / "instance"), "SECRET_KEY": secrets.token_urlsafe(48)}
    summary = generate(url, SPEC, log=lambda _message: None, config=config)
    engine = create_engine(_common.sqlalchemy_url(url))
    try:
        with Session(engine) as session:
            yield summary, session, config
    finally:
        engine.dispose()
        if base:
            admin = create_engine(make_url(base), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                name = make_url(url).database
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{make_url(url).database}{suffix}").unlink(missing_ok=True)


def test_counts_match_the_spec_and_the_summary(generated):
    summary, dbs, _config = generated
    counted = {
        "units": dbs.scalar(select(func.count(Unit.id))),
        "users": dbs.scalar(select(func.count(User.id))),
        "courses": dbs.scalar(select(func.count(Course.id)).where(Course.status == "published")),
        "enrolments": dbs.scalar(select(func.count(Enrolment.id))),
        "assignments": dbs.scalar(select(func.count(Assignment.id))),
        "concurrent_posts": dbs.scalar(select(func.count(ConcurrentPost.id))
                                       .where(ConcurrentPost.ended_at.is_(None))),
    }
    assert counted == {"units": 30, "users": 240, "courses": 5, "enrolments": 1000,
                       "assignments": 4, "concurrent_posts": summary["counts"]["concurrent_posts"]}
    assert {k: summary["counts"][k] for k in counted} == counted
    assert 6 <= counted["concurrent_posts"] <= 12
    assert dbs.scalar(select(func.count()).select_from(
        select(Enrolment.user_id, Enrolment.course_id).group_by(Enrolment.user_id, Enrolment.course_id)
        .subquery())) == 1000
    inactive = dbs.scalar(select(func.count(User.id)).where(User.is_active.is_(False)))
    assert inactive == summary["counts"]["inactive_users"] < 240 * 0.05


def test_units_form_a_tree_on_three_levels_below_the_ministry(generated):
    summary, dbs, _config = generated
    units = {u.id: u for u in dbs.scalars(select(Unit))}
    roots = [u for u in units.values() if u.parent_id is None]
    assert len(roots) == 1 and roots[0].path == f"/{roots[0].id}/" and roots[0].kind == "ministry"
    for unit in units.values():
        if unit.parent_id is not None:
            assert unit.path == f"{units[unit.parent_id].path}{unit.id}/"
    depths = Counter(u.depth for u in units.values())
    assert set(depths) == {0, 1, 2, 3}
    assert depths[1] < depths[2] <= depths[3] + depths[2]
    department = units[summary["department_id"]]
    assert department.depth == 1 and department.kind == "department"
    # Somebody heads it and an admin exists: the benchmark signs in as both.
    assert dbs.scalar(select(func.count(RoleGrant.id)).where(
        RoleGrant.role == "unit_head", RoleGrant.unit_id == department.id)) >= 1
    assert dbs.scalar(select(RoleGrant.role).where(RoleGrant.user_id == 1)) == "admin"
    # Concurrent posts are held outside the person's own unit.
    for post, home in dbs.execute(select(ConcurrentPost, User.unit_id)
                                  .join(User, User.id == ConcurrentPost.user_id)):
        assert post.unit_id != home


def test_statuses_agree_with_timestamps(generated):
    _summary, dbs, _config = generated
    users = {u.id: u for u in dbs.scalars(select(User))}
    courses = {c.id: c for c in dbs.scalars(select(Course))}
    assignments = {a.id: a for a in dbs.scalars(select(Assignment))}
    steps = {(s.path_id, s.course_id) for s in dbs.scalars(select(LearningPathCourse))}
    statuses: Counter[str] = Counter()
    overdue = scored = started = 0
    for e in dbs.scalars(select(Enrolment)):
        statuses[e.status] += 1
        assert e.unit_id == users[e.user_id].unit_id
        assert e.enrolled_at <= NOW and e.updated_at <= NOW
        if e.status == EnrolmentStatus.COMPLETED.value:
            assert e.started_at is not None and e.completed_at is not None and e.progress_pct == 100
            assert e.enrolled_at <= e.started_at <= e.completed_at <= NOW
            assert (e.certified_at is not None) == courses[e.course_id].certificate_enabled
            if e.certified_at is not None:
                assert e.completed_at <= e.certified_at <= NOW
        elif e.status == EnrolmentStatus.IN_PROGRESS.value:
            assert e.started_at is not None and e.completed_at is None and 0 < e.progress_pct < 100
            assert e.enrolled_at <= e.started_at <= e.last_activity_at <= NOW
            assert e.certified_at is None
        else:
            assert e.status == EnrolmentStatus.NOT_STARTED.value
            assert (e.started_at, e.completed_at, e.certified_at, e.quiz_score) == (None, None, None, None)
            assert e.progress_pct == 0
        if e.started_at is not None:
            started += 1
            scored += e.quiz_score is not None
        if e.quiz_score is not None:
            assert 0 <= e.quiz_score <= 100
        if e.source == "assigned":
            assignment = assignments[e.assignment_id]
            assert e.course_id == assignment.course_id or (assignment.path_id, e.course_id) in steps
            assert e.due_at is not None and e.due_at >= assignment.due_at
            assert e.enrolled_at >= assignment.start_at
            overdue += e.due_at < NOW and e.completed_at is None
        else:
            assert e.source == "self" and e.assignment_id is None and e.due_at is None
    total = sum(statuses.values())
    assert 0.35 < statuses["completed"] / total < 0.55
    assert 0.15 < statuses["in_progress"] / total < 0.35
    assert 0.2 < statuses["not_started"] / total < 0.4
    assert 0.25 < scored / started < 0.55
    assert overdue > 0


def test_the_report_engine_reads_it(generated):
    """The root dashboard's totals are the brute-force counts of the generated rows."""
    from lms.reports.services import unit_report

    summary, dbs, config = generated
    app = _common.make_app({**config, "DATABASE_URL": "sqlite://"})
    with app.app_context():
        root = dbs.get(Unit, summary["root_id"])
        report = unit_report(dbs, root, at=NOW)
    active = {u.id for u in dbs.scalars(select(User).where(User.is_active.is_(True)))}
    rows = [e for e in dbs.scalars(select(Enrolment)) if e.user_id in active and e.source == "assigned"]
    assert report.total.headcount == len(active)
    assert report.total.assigned == len(rows)
    assert report.total.completed == sum(1 for e in rows if e.completed_at is not None)
    assert report.total.overdue == sum(1 for e in rows if e.due_at < NOW and e.completed_at is None)


def test_the_same_seed_and_moment_give_the_same_rows(generated):
    _summary, _dbs, config = generated
    app = _common.make_app({**config, "DATABASE_URL": "sqlite://"})
    with app.app_context():
        first, second = Ministry(SPEC), Ministry(SPEC)
        assert [u["full_name"] for u in first.users] == [u["full_name"] for u in second.users]
        assert first.units == second.units and first.posts == second.posts
        assert list(enrolment_rows(first, [1, 2, 3, 4])) == list(enrolment_rows(second, [1, 2, 3, 4]))
