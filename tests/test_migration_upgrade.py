"""`lms db upgrade` from the first release: a database made at revision 0001 and filled the way
that release filled it (units with materialised paths, people with argon2 password hashes, role
grants, audit events, a staff import), with courses and progress added at 0002 and an
assignment by decision at 0006, is upgraded in place to the current schema. Every row is still
there, the new columns have their defaults, and the current app works on it: the migrated unit
head signs in with the password set under the first release and opens the reports.

Runs on the test backend (SQLite, or PostgreSQL with LMS_TEST_DATABASE_URL).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Iterator

import pytest
from flask import Flask
from sqlalchemy import JSON, Boolean, Date, Integer, LargeBinary, column, insert, select, table, update

from lms import create_app
from lms.auth.passwords import hash_password
from lms.cli import upgrade_database
from lms.courses.models import Enrolment
from lms.db import UTCDateTime, db
from lms.ops.backup import code_head, row_counts
from lms.org import services as org
from lms.org.models import Unit, User
from lms.text import sort_key
from tests.conftest import PASSWORD, Client, app_settings, fresh_database, login

NAME = "Nguyễn Thị Hồng Nhung"
HEAD = "Đặng Quốc Việt"
T0 = datetime(2026, 1, 15, 1, 30, tzinfo=timezone.utc)
T1 = datetime(2026, 2, 20, 9, 0, tzinfo=timezone.utc)


def _type(value: Any) -> Any:
    if isinstance(value, datetime):
        return UTCDateTime()
    if isinstance(value, bool):
        return Boolean()
    if isinstance(value, date):
        return Date()
    if isinstance(value, (dict, list)):
        return JSON()
    if isinstance(value, bytes):
        return LargeBinary()
    return None


def add(conn, table_name: str, /, **values: Any) -> int:
    """INSERT one row into ``table_name`` as the SQL of that release would; returns its id."""
    target = table(table_name, column("id", Integer), *(column(k, _type(v)) for k, v in values.items()))
    return conn.execute(insert(target).values(**values).returning(target.c.id)).scalar_one()


def set_values(conn, table_name: str, row_id: int, /, **values: Any) -> None:
    target = table(table_name, column("id", Integer), *(column(k, _type(v)) for k, v in values.items()))
    conn.execute(update(target).where(target.c.id == row_id).values(**values))


@pytest.fixture()
def app(tmp_path) -> Iterator[Flask]:
    with fresh_database("opsupgrade") as url:
        settings = app_settings(url, str(tmp_path / "instance"))
        settings["MEDIA_PATH"] = str(tmp_path / "media")
        application = create_app(settings)
        yield application
        with application.app_context():
            db.engine.dispose()


def first_release_data(conn, password_hash: str) -> dict[str, int]:
    """What the 0001 release held: a ministry, two departments, staff, roles, audit, an import."""
    def unit(code: str, name: str, name_en: str, kind: str, parent: int | None, path: str) -> int:
        unit_id = add(conn, "units", code=code, name=name, name_en=name_en, kind=kind,
                      parent_id=parent, path="", timezone="Asia/Ho_Chi_Minh", is_active=True,
                      created_at=T0)
        set_values(conn, "units", unit_id, path=f"{path}{unit_id}/")
        return unit_id

    def person(code: str, name: str, email: str, unit_id: int, pw: str | None) -> int:
        folded = sort_key(name)
        return add(conn, "users", employee_code=code, full_name=name, email=email,
                   search_text=f"{folded} {email} {code.lower()}", sort_name=folded,
                   password_hash=pw, unit_id=unit_id, position="Chuyên viên", locale="vi",
                   timezone="Asia/Ho_Chi_Minh", is_active=True, must_change_password=False,
                   failed_logins=0, locked_until=None, last_login_at=T0, created_at=T0,
                   updated_at=T0)

    ids: dict[str, int] = {}
    ids["root"] = root = unit("BNG", "Bộ Ngoại giao", "Ministry of Foreign Affairs", "ministry", None, "/")
    root_path = f"/{root}/"
    ids["consular"] = unit("CLS", "Cục Lãnh sự", "Consular Department", "department", root, root_path)
    ids["office"] = unit("VP", "Văn phòng Bộ", "Ministry Office", "department", root, root_path)
    ids["admin"] = person("A0001", "Quản Trị Viên", "admin@mofa.example", root, password_hash)
    ids["head"] = person("NV002", HEAD, "viet@mofa.example", ids["consular"], password_hash)
    ids["learner"] = person("NV001", NAME, "nhung@mofa.example", ids["consular"], password_hash)
    ids["other"] = person("NV003", "Bùi Thanh Sơn", "son@mofa.example", ids["office"], None)
    for user, role, scope in ((ids["admin"], "admin", None), (ids["head"], "unit_head", ids["consular"]),
                              (ids["head"], "mentor", ids["consular"])):
        add(conn, "role_grants", user_id=user, role=role, unit_id=scope, granted_by_id=ids["admin"],
            granted_at=T0)
    add(conn, "audit_events", created_at=T0, actor_id=ids["admin"], action="person.created",
        target_type="user", target_id=ids["learner"], target_label=NAME,
        details={"unit": "Cục Lãnh sự"}, ip_address="10.0.0.5")
    add(conn, "staff_imports", filename="nhan-su.csv",
        content="employee_code,full_name\nNV003,Bùi Thanh Sơn\n".encode(), sha256="0" * 64,
        uploaded_by_id=ids["admin"], uploaded_at=T0, applied_at=T0, summary="1 new")
    return ids


def courses_release_data(conn, ids: dict[str, int]) -> None:
    """Added by the 0002 release: a published course, its lessons and a finished enrolment."""
    ids["course"] = course = add(
        conn, "courses", slug="an-toan-thong-tin", title="An toàn thông tin cơ bản",
        summary="Tóm tắt.", outcomes="Đặt mật khẩu mạnh", topic="security", language="vi",
        status="published", estimated_minutes=30, certificate_enabled=False, validity_months=None,
        search_text="an toan thong tin co ban", created_by_id=ids["admin"], created_at=T0,
        updated_at=T0, published_at=T0)
    module = add(conn, "course_modules", course_id=course, position=1, title="Chương 1",
                 is_archived=False)
    lessons = [add(conn, "lessons", course_id=course, module_id=module, key=f"bai-{n}",
                   position=n, title=f"Bài {n}", kind="text", body="## Nội dung", media_id=None,
                   url="", is_required=True, complete_on_video_end=False, estimated_minutes=15,
                   is_archived=False, updated_at=T0) for n in (1, 2)]
    ids["enrolment"] = add(
        conn, "enrolments", user_id=ids["learner"], course_id=course, unit_id=ids["consular"],
        source="self", assignment_id=None, due_at=None, status="completed", progress_pct=100,
        enrolled_at=T0, started_at=T0, completed_at=T1, last_lesson_id=lessons[-1],
        last_activity_at=T1, updated_at=T1)
    for lesson in lessons:
        add(conn, "lesson_progress", user_id=ids["learner"], lesson_id=lesson, course_id=course,
            completed_at=T1)


def assignments_release_data(conn, ids: dict[str, int]) -> None:
    """Added by the 0006 release: an assignment by decision to the consular department."""
    ids["assignment"] = add(
        conn, "assignments", title="Bồi dưỡng kỹ năng số 2026", decision_number="1637/QĐ-BNG",
        decision_date=date(2026, 1, 10), decision_sha256=None, decision_filename=None,
        course_id=ids["course"], path_id=None, target_kind="unit", target_unit_id=ids["consular"],
        target_role=None, start_at=T0, due_at=datetime(2026, 12, 31, 16, 59, tzinfo=timezone.utc),
        status="active", created_by_id=ids["admin"], created_at=T0, closed_at=None)
    add(conn, "enrolments", user_id=ids["head"], course_id=ids["course"], unit_id=ids["consular"],
        source="assigned", assignment_id=ids["assignment"],
        due_at=datetime(2026, 12, 31, 16, 59, tzinfo=timezone.utc), status="not_started",
        progress_pct=0, enrolled_at=T1, started_at=None, completed_at=None, last_lesson_id=None,
        last_activity_at=None, updated_at=T1, quiz_score=None, certified_at=None)


def test_upgrading_the_first_release_keeps_every_row_and_the_app_works(app):
    with app.app_context():
        upgrade_database("0001")
        with db.engine.begin() as conn:
            ids = first_release_data(conn, hash_password(PASSWORD))
        upgrade_database("0002")
        with db.engine.begin() as conn:
            courses_release_data(conn, ids)
        upgrade_database("0006")
        with db.engine.begin() as conn:
            assignments_release_data(conn, ids)
            before = {name: n for name, n in row_counts(conn).items() if n}

        upgrade_database()

        with db.engine.begin() as conn:
            after = row_counts(conn)
            assert conn.execute(select(column("version_num")).select_from(table("alembic_version"))
                                ).scalar_one() == code_head()
            reminder_days = conn.execute(select(column("reminder_days")).select_from(
                table("assignments"))).scalar_one()
        assert {name: after[name] for name in before if name != "alembic_version"} == \
            {name: n for name, n in before.items() if name != "alembic_version"}
        assert reminder_days == "7,1"  # the column 0008 added, with its default for old rows

        dbs = db.session
        learner = dbs.get(User, ids["learner"])
        assert (learner.full_name, learner.email, learner.unit_id) == (NAME, "nhung@mofa.example",
                                                                        ids["consular"])
        assert dbs.get(Enrolment, ids["enrolment"]).status == "completed"
        consular = dbs.get(Unit, ids["consular"])
        assert consular.path == f"/{ids['root']}/{ids['consular']}/"
        # The current services work on migrated rows: a new unit under a migrated one.
        with app.test_request_context():
            desk = org.create_unit(dbs, None, org.UnitData(code="CLS-HC", name="Phòng Hộ chiếu",
                                                           kind="division", parent_id=consular.id))
            assert desk.path == f"{consular.path}{desk.id}/"
            dbs.commit()

    # The unit head signs in with the password set under the first release and opens reports.
    app.test_client_class = Client
    client = app.test_client()
    response = login(client, "viet@mofa.example")
    assert response.status_code == 302 and "/login" not in response.location
    reports = client.get("/reports", follow_redirects=True)
    assert reports.status_code == 200
    people = client.get(f"/reports/units/{ids['consular']}/people")
    assert people.status_code == 200 and NAME in people.get_data(as_text=True)
    # The learner's finished course is still finished on their own page.
    login(client, "NV001")
    assert "An toàn thông tin cơ bản" in client.get("/learning").get_data(as_text=True)
