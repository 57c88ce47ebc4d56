"""The `lms` console commands, run the way an operator runs them.

Commands are invoked through Flask's CLI runner with no request context around them
(as in a terminal). The ``connection`` fixture points the app at the test's own
transaction, so a command's ``db.session.commit()`` only releases a savepoint and
everything it wrote is rolled back after the test.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import Result
from flask import Flask
from flask_babel import force_locale, gettext
from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from lms.audit.models import AuditEvent
from lms.cli import cli as lms_cli
from lms.db import make_engine
from lms.extensions import limiter
from lms.org.models import Role, RoleGrant, StaffImport, Unit, UnitKind, User
from tests.conftest import Client, Factory, fresh_database, login

HEADER = "Mã cán bộ,Họ và tên,Email,Mã đơn vị,Chức vụ"
STAFF = [
    "CB001,Nguyễn Văn An,an.nv@mofa.example,VP,Chuyên viên",
    "CB002,Trần Thị Bích Ngọc,ngoc.ttb@mofa.example,CLS,Phó Cục trưởng",
    "CB003,Đặng Quốc Việt,viet.dq@mofa.example,CLS,Chuyên viên",
]
DEMO_PASSWORD = "hocvuso2025"
DEMO_LOGINS = {  # README, "Demo sign-ins"
    "admin@mofa.example": "Trần Minh Quân",
    "trainer@mofa.example": "Lê Thu Hương",
    "head.it@mofa.example": "Hoàng Đức Thắng",
    "head.consular@mofa.example": "Phạm Thị Thanh Hà",
    "mentor@mofa.example": "Đặng Quốc Việt",
    "learner@mofa.example": "Nguyễn Thị Hồng Nhung",
}


# ---------------------------------------------------------------- helpers

@pytest.fixture()
def build(app: Flask, connection):
    """Set up data with the test factory (which needs a request context, closed afterwards)."""
    @contextmanager
    def builder() -> Iterator[Factory]:
        session = Session(bind=connection, expire_on_commit=False,
                          join_transaction_mode="create_savepoint")
        with app.test_request_context():
            yield Factory(session)
        session.commit()
        session.close()
    return builder


def count(session: Session, model, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions))


def messages(app: Flask, message: str, **kwargs) -> set[str]:
    """A message as the command may print it: in the default language or in English."""
    with app.test_request_context():
        found = set()
        for locale in (app.config["BABEL_DEFAULT_LOCALE"], "en"):
            with force_locale(locale):
                found.add(gettext(message, **kwargs))
        return found


@pytest.fixture()
def units(build) -> None:
    with build() as factory:
        factory.unit(code="VP", name="Văn phòng Bộ")
        factory.unit(code="CLS", name="Cục Lãnh sự")


def staff_file(tmp_path: Path, rows: list[str], name: str = "nhan-su.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode("utf-8-sig"))
    return path


# ---------------------------------------------------------------- import-staff

def test_import_staff_dry_run_shows_the_counts_and_writes_nothing(lms, look, units, tmp_path):
    before = (count(look(), User), count(look(), AuditEvent))

    result = lms("import-staff", str(staff_file(tmp_path, STAFF)), "--dry-run")

    assert result.exit_code == 0, result.output
    assert "3 new, 0 to update, 0 unchanged, 0 with problems." in result.output
    assert "Dry run: nothing was written." in result.output
    session = look()
    assert (count(session, User), count(session, AuditEvent)) == before
    assert count(session, StaffImport) == 0


def test_import_staff_imports_everyone(lms, look, units, tmp_path):
    result = lms("import-staff", str(staff_file(tmp_path, STAFF)))

    assert result.exit_code == 0, result.output
    assert "Imported: 3 added, 0 updated, 0 unchanged." in result.output
    session = look()
    people = {p.employee_code: p for p in session.scalars(select(User))}
    assert people["CB002"].full_name == "Trần Thị Bích Ngọc"
    assert people["CB003"].unit.code == "CLS"
    assert all(p.must_change_password and p.password_hash is None
               for code, p in people.items() if code.startswith("CB"))
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "staff.imported"))
    assert event.actor_id is None
    assert (event.details["created"], event.details["updated"]) == (3, 0)
    assert session.scalar(select(StaffImport)).applied_at is not None


def test_import_staff_writes_only_inside_the_test_transaction(lms, look, units, tmp_path,
                                                               connection):
    assert lms("import-staff", str(staff_file(tmp_path, STAFF))).exit_code == 0
    assert count(look(), User) == 3

    # The command committed, but only this test's savepoint: nobody else sees the people.
    with connection.engine.connect() as other:
        seen = other.scalar(text("SELECT count(*) FROM users WHERE employee_code = 'CB001'"))
    assert seen == 0


def test_import_staff_gives_new_accounts_the_temporary_password(lms, look, units, tmp_path,
                                                               client):
    result = lms("import-staff", str(staff_file(tmp_path, STAFF)),
                 "--temporary-password", "Tamthoi-2025")

    assert result.exit_code == 0, result.output
    newcomer = look().scalar(select(User).where(User.employee_code == "CB001"))
    assert newcomer.must_change_password is True
    signed_in = login(client, "an.nv@mofa.example", "Tamthoi-2025")
    assert (signed_in.status_code, signed_in.location) == (302, "/account/password")


def test_import_staff_twice_changes_nothing_and_reports_updates(lms, look, units, tmp_path):
    path = staff_file(tmp_path, STAFF)
    assert lms("import-staff", str(path)).exit_code == 0
    stamps = {p.employee_code: p.updated_at for p in look().scalars(select(User))}

    again = lms("import-staff", str(path))

    assert again.exit_code == 0, again.output
    assert "0 new, 0 to update, 3 unchanged, 0 with problems." in again.output
    assert "Imported: 0 added, 0 updated, 3 unchanged." in again.output
    assert {p.employee_code: p.updated_at for p in look().scalars(select(User))} == stamps

    moved = [STAFF[0].replace(",VP,", ",CLS,"), *STAFF[1:]]
    changed = lms("import-staff", str(staff_file(tmp_path, moved, "thang-sau.csv")), "--dry-run")
    assert changed.exit_code == 0, changed.output
    assert "line 2: update CB001 (unit_code: VP -> CLS)" in changed.output
    assert "0 new, 1 to update, 2 unchanged, 0 with problems." in changed.output


def test_import_staff_with_a_bad_row_stops_and_names_the_line(app, lms, look, units, tmp_path):
    rows = [*STAFF, "CB004,Lê Văn Tám,tam.lv@mofa.example,KHONGCO,"]
    before = count(look(), User)

    result = lms("import-staff", str(staff_file(tmp_path, rows)))

    assert result.exit_code == 1
    assert any(f"line 5: {problem}" in result.stderr
               for problem in messages(app, "Unknown unit code %(code)s.", code="KHONGCO"))
    assert "3 new, 0 to update, 0 unchanged, 1 with problems." in result.output
    assert "Nothing was imported" in result.output
    session = look()
    assert count(session, User) == before
    assert count(session, StaffImport) == 0


def test_import_staff_explains_an_unreadable_file(app, lms, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")

    result = lms("import-staff", str(empty))

    assert result.exit_code == 1
    assert any(f"Error: {m}" in result.output for m in messages(app, "The file is empty."))


def test_import_staff_needs_an_existing_file(lms, tmp_path):
    result = lms("import-staff", str(tmp_path / "khong-co.csv"))
    assert result.exit_code == 2
    assert "does not exist" in result.output


# ---------------------------------------------------------------- create-admin

def create_admin(lms, *extra: str, email: str = "quantri@mofa.example", input: str | None = None):
    return lms("create-admin", "--email", email, "--name", "Nguyễn Quản Trị",
               "--employee-code", "qt0001", *extra, input=input)


def test_create_admin_on_an_empty_database_creates_the_ministry_and_can_sign_in(
        lms, look, client):
    assert count(look(), Unit) == 0

    result = create_admin(lms, "--password", "Baomat-2025x")

    assert result.exit_code == 0, result.output
    assert "Administrator Nguyễn Quản Trị <quantri@mofa.example> created." in result.output
    session = look()
    ministry = session.scalar(select(Unit))
    assert (count(session, Unit), ministry.code, ministry.kind, ministry.parent_id) == (
        1, "BNG", UnitKind.MINISTRY.value, None)
    admin = session.scalar(select(User).where(User.email == "quantri@mofa.example"))
    assert (admin.employee_code, admin.unit_id, admin.must_change_password) == (
        "QT0001", ministry.id, False)
    assert [(g.role, g.unit_id) for g in admin.grants] == [(Role.ADMIN.value, None)]

    signed_in = login(client, "quantri@mofa.example", "Baomat-2025x")
    assert signed_in.status_code == 302 and "/login" not in signed_in.location
    assert client.get("/org/import").status_code == 200  # an admin's page


def test_create_admin_joins_the_existing_ministry_or_the_unit_named(lms, look, build):
    with build() as factory:
        root_id = factory.root.id
        factory.unit(code="CYCNTT", name="Cục Cơ yếu và Công nghệ thông tin")
    units_before = count(look(), Unit)

    first = create_admin(lms, "--password", "Baomat-2025x")
    second = lms("create-admin", "--email", "it.admin@mofa.example", "--name", "Lê Văn Hệ",
                 "--employee-code", "qt0002", "--unit-code", "cycntt",
                 "--password", "Baomat-2025x")

    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    session = look()
    assert count(session, Unit) == units_before
    first_admin = session.scalar(select(User).where(User.employee_code == "QT0001"))
    second_admin = session.scalar(select(User).where(User.employee_code == "QT0002"))
    assert first_admin.unit_id == root_id
    assert second_admin.unit.code == "CYCNTT"


def test_create_admin_asks_for_the_password_twice_when_not_given(lms, client):
    result = create_admin(lms, input="Baomat-2025x\nBaomat-2025x\n")

    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert "Baomat-2025x" not in result.output  # hidden input
    signed_in = login(client, "QT0001", "Baomat-2025x")
    assert signed_in.status_code == 302 and "/login" not in signed_in.location


def test_create_admin_refuses_an_unknown_unit(lms, look):
    result = create_admin(lms, "--unit-code", "khongco", "--password", "Baomat-2025x")

    assert result.exit_code == 1
    assert "Error: Unknown unit code khongco" in result.output
    session = look()
    assert count(session, User) == 0
    assert count(session, Unit) == 0


@pytest.mark.parametrize("password,message,kwargs", [
    ("ngan-1", "The password must be at least %(n)d characters long.", {"n": 10}),
    ("chuachuso-khong", "The password must contain both letters and digits.", {}),
    ("matkhau123", "This password is too common. Choose another one.", {}),
], ids=["too-short", "no-digits", "common"])
def test_create_admin_refuses_a_weak_password(app, lms, look, password, message, kwargs):
    result = create_admin(lms, "--password", password)

    assert result.exit_code == 1
    assert any(f"Error: {m}" in result.output for m in messages(app, message, **kwargs))
    session = look()
    assert count(session, User) == 0
    assert count(session, Unit) == 0  # the ministry is not left behind either


# ---------------------------------------------------------------- seed-demo

@dataclass
class Demo:
    connection: Connection
    result: Result


@pytest.fixture(scope="class")
def demo(app: Flask) -> Iterator[Demo]:
    """`lms seed-demo`, run once for the whole class in a transaction rolled back at the end.

    (The function-scoped ``connection`` fixture cannot be used here: the demo outlives it.)
    """
    original = app.extensions["lms.db"]
    conn = original.kw["bind"].connect()
    outer = conn.begin()
    app.extensions["lms.db"] = sessionmaker(bind=conn, expire_on_commit=False,
                                            join_transaction_mode="create_savepoint")
    try:
        result = app.test_cli_runner().invoke(lms_cli, ["seed-demo"])
        yield Demo(conn, result)
    finally:
        app.extensions["lms.db"] = original
        outer.rollback()
        conn.close()


class TestSeedDemo:
    @pytest.fixture(autouse=True)
    def savepoint(self, demo: Demo):
        """Each test's own writes (sign-ins, a second seeding) are undone after it."""
        limiter.reset()
        nested = demo.connection.begin_nested()
        yield
        if nested.is_active:
            nested.rollback()

    @pytest.fixture()
    def session(self, demo: Demo) -> Iterator[Session]:
        with Session(bind=demo.connection, join_transaction_mode="create_savepoint") as session:
            yield session

    def test_seed_demo_prints_the_six_demo_sign_ins(self, demo):
        assert demo.result.exit_code == 0, demo.result.output
        assert f"password: {DEMO_PASSWORD}" in demo.result.output
        for login_id, name in DEMO_LOGINS.items():
            assert any(login_id in line and name in line
                       for line in demo.result.output.splitlines()), login_id

    def test_the_demo_ministry_has_40_units_on_three_levels(self, session):
        units = session.scalars(select(Unit)).all()
        assert len(units) == 40
        by_depth: dict[int, set[str]] = {}
        for unit in units:
            by_depth.setdefault(unit.depth, set()).add(unit.kind)
        assert by_depth == {
            0: {"ministry"},
            1: {"department", "institute", "mission"},
            2: {"division"},
        }
        root = next(u for u in units if u.parent_id is None)
        assert (root.code, root.name) == ("BNG", "Bộ Ngoại giao")
        assert all(u.path.startswith(f"/{root.id}/") for u in units)

    def test_the_missions_abroad_keep_their_own_time(self, session):
        missions = session.scalars(select(Unit).where(Unit.kind == UnitKind.MISSION.value)).all()
        abroad = {m.code: m.timezone for m in missions if m.timezone != "Asia/Ho_Chi_Minh"}
        assert len(abroad) >= 6
        assert abroad["DSQ-PHAP"] == "Europe/Paris"
        staff_abroad = session.scalars(select(User).join(Unit, User.unit_id == Unit.id)
                                       .where(Unit.code == "DSQ-PHAP")).all()
        assert staff_abroad and {p.timezone for p in staff_abroad} == {"Europe/Paris"}

    def test_the_demo_ministry_has_about_300_staff_with_vietnamese_names(self, session):
        people = session.scalars(select(User)).all()
        assert 270 <= len(people) <= 330
        assert len({p.email for p in people}) == len(people)
        assert all(p.employee_code.startswith("BNG") for p in people)
        assert sum(1 for p in people if p.full_name.startswith("Nguyễn")) >= 30
        assert all(p.is_active and not p.must_change_password for p in people)
        # Every unit has someone in it.
        assert session.scalar(select(func.count()).select_from(Unit).where(
            ~Unit.id.in_(select(User.unit_id)))) == 0

    def test_the_demo_roles_match_the_readme(self, session):
        def roles(login_id: str) -> set[tuple[str, str | None]]:
            person = session.scalar(select(User).where(User.email == login_id))
            return {(g.role, g.unit.code if g.unit else None) for g in person.grants}

        assert roles("admin@mofa.example") == {("admin", None)}
        assert roles("trainer@mofa.example") == {("trainer", None)}
        assert roles("head.it@mofa.example") == {("unit_head", "CYCNTT")}
        assert roles("head.consular@mofa.example") == {("unit_head", "CLS")}
        assert ("mentor", "CYCNTT-HTUD") in roles("mentor@mofa.example")
        assert roles("learner@mofa.example") == set()

    @pytest.mark.parametrize("login_id", [*DEMO_LOGINS, "BNG00001"])
    def test_every_demo_login_signs_in_with_the_demo_password(self, app, login_id):
        app.test_client_class = Client
        browser = app.test_client()

        response = login(browser, login_id, DEMO_PASSWORD)

        assert response.status_code == 302, login_id
        assert "/login" not in response.location and "/account/password" not in response.location
        assert browser.get("/").status_code == 200

    def test_the_demo_assigns_training_by_decision_with_progress_to_show(self, demo, session):
        from lms.assignments.models import Assignment
        from lms.courses.models import Enrolment
        from lms.db import utcnow
        from lms.reports.services import unit_report

        decisions = {a.decision_number: a for a in session.scalars(select(Assignment))}
        assert {"1637/QĐ-BNG", "215/QĐ-CLS", "98/QĐ-CYCNTT"} <= set(decisions)
        ministry_wide = decisions["1637/QĐ-BNG"]
        assert ministry_wide.target_unit.parent_id is None
        assert ministry_wide.course.slug == "an-toan-thong-tin"
        assert decisions["215/QĐ-CLS"].target_unit.code == "CLS"
        now = utcnow()

        def counts(assignment) -> dict[str, int]:
            mine = Enrolment.assignment_id == assignment.id
            return {
                "enrolled": count(session, Enrolment, mine),
                "completed": count(session, Enrolment, mine, Enrolment.completed_at.is_not(None)),
                "not_started": count(session, Enrolment, mine, Enrolment.started_at.is_(None)),
                "overdue": count(session, Enrolment, mine, Enrolment.due_at < now,
                                 Enrolment.completed_at.is_(None)),
            }

        everyone = counts(ministry_wide)
        assert everyone["enrolled"] == count(session, User, User.is_active.is_(True))
        assert 0 < everyone["not_started"] < everyone["completed"] < everyone["enrolled"]
        assert everyone["overdue"] == 0
        consular = counts(decisions["215/QĐ-CLS"])
        assert 0 < consular["overdue"] < consular["enrolled"]
        assert consular["completed"] > 0

        root = session.scalar(select(Unit).where(Unit.parent_id.is_(None)))
        report = unit_report(session, root)
        assert 30 <= report.total.completion_pct <= 90
        assert report.total.overdue == sum(counts(a)["overdue"] for a in decisions.values())
        assert len({figures.completion_pct for _unit, figures in report.rows}) > 5
        # The certificates demo keeps its expired example (1637 enrols everyone in its course).
        assert any(line.split()[:1] == ["expired"] for line in demo.result.output.splitlines())

    def test_everyone_in_the_departments_with_mentors_has_one_shared_out_by_load(self, session):
        from lms.mentoring.models import Mentorship

        current = session.scalars(select(Mentorship).where(Mentorship.ended_at.is_(None))).all()
        grants = session.scalars(select(RoleGrant).where(RoleGrant.role == Role.MENTOR.value)).all()
        mentor_units = {g.user_id: g.unit for g in grants}
        mentor_of = {m.mentee_id: m.mentor_id for m in current}
        assert len(mentor_of) == len(current) >= 200
        assert set(mentor_of.values()) <= set(mentor_units)
        assert all(mentee != mentor for mentee, mentor in mentor_of.items())
        units = session.scalars(select(Unit)).all()
        people = session.scalars(select(User).where(User.is_active.is_(True))).all()
        tops = [u for u in units if u.depth == 1 and u.kind in ("department", "institute")
                and any(unit.path.startswith(u.path) for unit in mentor_units.values())]
        assert len(tops) >= 8
        for top in tops:
            staff = [p for p in people if p.unit.path.startswith(top.path)]
            unpaired = [p for p in staff if p.id not in mentor_of]
            # Nobody is left out, but a department's only mentor, who cannot mentor themselves.
            assert len(unpaired) <= 1 and {p.id for p in unpaired} <= set(mentor_units), top.code
            for person in staff:   # each mentor works in the mentee's department
                if person.id in mentor_of and person.email != "learner@mofa.example":
                    assert mentor_units[mentor_of[person.id]].path.startswith(top.path)
        # In a division with its own mentors, its people are theirs, shared out evenly.
        loads = {mentor: list(mentor_of.values()).count(mentor) for mentor in mentor_units}
        for unit in units:
            own = [uid for uid, u in mentor_units.items() if u.id == unit.id]
            if unit.kind != "division" or not own:
                continue
            for person in (p for p in people if p.unit_id == unit.id and p.id in mentor_of):
                if person.email != "learner@mofa.example" and (person.id not in own or len(own) > 1):
                    assert mentor_of[person.id] in own, unit.code
            assert max(loads[m] for m in own) - min(loads[m] for m in own) <= 1, unit.code
        learner = session.scalar(select(User).where(User.email == "learner@mofa.example"))
        mentor = session.scalar(select(User).where(User.email == "mentor@mofa.example"))
        assert mentor_of[learner.id] == mentor.id

    def test_the_demo_has_help_threads_waiting_answered_solved_and_escalated(self, session):
        from lms.mentoring.models import HelpRequest

        requests = session.scalars(select(HelpRequest).order_by(HelpRequest.created_at)).all()
        mentor = session.scalar(select(User).where(User.email == "mentor@mofa.example"))
        learner = session.scalar(select(User).where(User.email == "learner@mofa.example"))
        waiting = [r for r in requests if r.is_open and r.waiting_since is not None]
        answered = [r for r in requests if r.is_open and r.waiting_since is None]
        solved = [r for r in requests if not r.is_open]
        assert len(waiting) == 1 and waiting[0].mentor_id == mentor.id
        assert len(answered) == 1 and answered[0].learner_id == learner.id
        assert answered[0].messages[-1].author_id == mentor.id
        assert len(solved) >= 3 and all(r.solved_at > r.created_at for r in solved)
        escalated = [r for r in requests if r.escalated_at is not None]
        assert len(escalated) == 1 and escalated[0] in solved
        assert escalated[0].messages[1].author_id != escalated[0].mentor_id  # another mentor
        for request in requests:
            times = [m.created_at for m in request.messages]
            assert times == sorted(times) and times[0] == request.created_at
            assert request.lesson_id is not None and "—" in request.place
        texts = " ".join(m.body for r in requests for m in r.messages)
        for words in ("ký số", "VNeID", "xác thực hai lớp", "mật khẩu"):
            assert words in texts.lower() or words in texts

    def test_mentors_logged_coaching_sessions_with_their_mentees(self, session):
        from lms.db import utcnow
        from lms.mentoring.models import CoachingSession, Mentorship

        sessions = session.scalars(select(CoachingSession)).all()
        mentees = {(m.mentor_id, m.mentee_id) for m in session.scalars(
            select(Mentorship).where(Mentorship.ended_at.is_(None)))}
        assert len(sessions) >= 30
        assert len({s.mentor_id for s in sessions}) >= 15
        today = utcnow().date() + timedelta(days=1)
        for s in sessions:
            assert s.attendees and s.held_on <= today and 30 <= s.duration_minutes <= 120
            assert all((s.mentor_id, a.user_id) in mentees for a in s.attendees)
        assert "Ký số văn bản trên hệ thống quản lý văn bản" in {s.topic for s in sessions}
        mentor = session.scalar(select(User).where(User.email == "mentor@mofa.example"))
        assert sum(1 for s in sessions if s.mentor_id == mentor.id) == 4

    def test_some_staff_hold_a_concurrent_post_and_train_there_too(self, session):
        from lms.assignments.models import Assignment
        from lms.courses.models import Enrolment
        from lms.org.models import ConcurrentPost

        posts = session.scalars(select(ConcurrentPost).where(ConcurrentPost.ended_at.is_(None))).all()
        assert len(posts) >= 3
        assert all(session.get(User, p.user_id).unit_id != p.unit_id for p in posts)
        consular = session.scalar(select(Assignment).where(Assignment.decision_number == "215/QĐ-CLS"))
        helper = next(p for p in posts if p.unit.path.startswith(consular.target_unit.path))
        assert not session.get(User, helper.user_id).unit.path.startswith(consular.target_unit.path)
        assert count(session, Enrolment, Enrolment.user_id == helper.user_id,
                     Enrolment.assignment_id == consular.id) == 1

    def test_four_month_end_snapshots_show_the_figures_climbing(self, session):
        from lms.db import utcnow
        from lms.reports.models import Snapshot, SnapshotKind, SnapshotRow
        from lms.reports.services import last_month_end

        snapshots = session.scalars(select(Snapshot).where(
            Snapshot.kind == SnapshotKind.MONTH_END.value).order_by(Snapshot.as_of)).all()
        assert len(snapshots) == 4
        assert snapshots[-1].as_of == last_month_end(utcnow())
        root = session.scalar(select(Unit.id).where(Unit.parent_id.is_(None)))
        tops = [session.scalar(select(SnapshotRow).where(SnapshotRow.snapshot_id == s.id,
                                                         SnapshotRow.unit_id == root))
                for s in snapshots]
        completed = [row.completed for row in tops]
        assert completed == sorted(completed) and completed[0] < completed[-1]
        assert all(row.completed <= row.started <= row.assigned for row in tops)
        assert all(count(session, SnapshotRow, SnapshotRow.snapshot_id == s.id) == 40
                   for s in snapshots)

    def test_seeding_again_creates_nothing(self, app, demo, session):
        from lms.assignments.models import Assignment
        from lms.courses.models import Enrolment
        from lms.mentoring.models import (
            CoachingAttendee,
            CoachingSession,
            HelpMessage,
            HelpRecipient,
            HelpRequest,
            Mentorship,
        )
        from lms.notify.models import Notification
        from lms.org.models import ConcurrentPost
        from lms.reports.models import Snapshot

        tables = (Unit, User, RoleGrant, AuditEvent, Assignment, Enrolment, ConcurrentPost,
                  Mentorship, Snapshot, HelpRequest, HelpMessage, HelpRecipient, CoachingSession,
                  CoachingAttendee, Notification)
        before = {model: count(session, model) for model in tables}

        again = app.test_cli_runner().invoke(lms_cli, ["seed-demo"])

        assert again.exit_code == 0, again.output
        assert again.output == demo.result.output
        session.expire_all()
        assert {model: count(session, model) for model in tables} == before


# ---------------------------------------------------------------- db upgrade and --help

def test_db_upgrade_creates_the_schema_and_is_safe_to_repeat(app):
    """On a brand-new empty database (the app is pointed at it for the test)."""
    original = app.extensions["lms.db"]
    with fresh_database("cli") as url:
        engine = make_engine(url)
        app.extensions["lms.db"] = sessionmaker(bind=engine, expire_on_commit=False)
        try:
            runner = app.test_cli_runner()
            first = runner.invoke(lms_cli, ["db", "upgrade"])
            second = runner.invoke(lms_cli, ["db", "upgrade"])
            with engine.connect() as conn:
                version = conn.scalar(text("SELECT version_num FROM alembic_version"))
                users = conn.scalar(text("SELECT count(*) FROM users"))
        finally:
            app.extensions["lms.db"] = original
            engine.dispose()

    assert first.exit_code == 0, first.output
    assert "Database is at revision head." in first.output
    assert second.exit_code == 0, second.output
    assert version and users == 0


@pytest.mark.parametrize("command,expected", [
    ([], ("db", "create-admin", "import-staff", "seed-demo", "run")),
    (["db", "upgrade"], ("Create the database or bring it to the latest schema",)),
    (["create-admin"], ("--email", "--name", "--employee-code", "--unit-code", "--password")),
    (["import-staff"], ("FILE", "--dry-run", "--temporary-password")),
    (["seed-demo"], ("Load the demo ministry",)),
    (["run"], ("--host", "--port")),
], ids=["lms", "db-upgrade", "create-admin", "import-staff", "seed-demo", "run"])
def test_every_command_explains_itself(app, monkeypatch, command, expected):
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")  # FlaskGroup sets it; restore afterwards

    result = app.test_cli_runner().invoke(lms_cli, [*command, "--help"])

    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    for word in expected:
        assert word in result.output, word


# ---------------------------------------------------------------- take-snapshot

def test_take_snapshot_takes_the_month_end_snapshot_once(lms, look, build):
    from lms.db import utcnow
    from lms.reports.models import Snapshot, SnapshotKind
    from lms.reports.services import last_month_end

    with build() as factory:
        factory.unit("Vụ Hợp tác quốc tế")
    first, second = lms("take-snapshot"), lms("take-snapshot")
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    snapshots = look().scalars(select(Snapshot)).all()
    assert len(snapshots) == 1
    assert snapshots[0].kind == SnapshotKind.MONTH_END.value
    assert snapshots[0].as_of == last_month_end(utcnow())
    assert len(snapshots[0].rows) == 2   # the ministry and the department


def test_take_snapshot_of_a_given_date_with_a_label(lms, look, build):
    from lms.reports.models import Snapshot

    with build() as factory:
        factory.unit()
    result = lms("take-snapshot", "--date", "2026-06-30", "--label", "Sơ kết 6 tháng")
    assert result.exit_code == 0, result.output
    assert lms("take-snapshot", "--date", "2026-06-31").exit_code != 0
    snapshots = look().scalars(select(Snapshot)).all()
    assert [(s.as_of.isoformat(), s.label) for s in snapshots] == [("2026-06-30", "Sơ kết 6 tháng")]


def test_take_snapshot_without_an_organisation_says_so(lms, app):
    result = lms("take-snapshot")
    assert result.exit_code != 0
    assert "no organisation" in result.output
