"""Training assigned by decision shows up in a unit head's report, in a real browser.

Admin assigns a course by decision to a department → the head of a division below sees
the division's staff as not started → a learner finishes the course → the head's figure
changes → the people list exported as XLSX opens with openpyxl and has the right rows.
Each unit of this journey is its own (the e2e database is shared by every journey).
"""
from __future__ import annotations

import io
import re
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lms.auth.passwords import hash_password
from lms.courses import authoring
from lms.db import db, utcnow
from lms.org import services
from lms.org.models import Role, User
from tests.e2e.conftest import LiveServer, check_accessibility, screenshot
from tests.e2e.conftest import sign_in as e2e_sign_in

pytestmark = pytest.mark.e2e

PASSWORD = "BaoCao-2025-e2e"
TITLE = "An toàn thông tin khi làm việc từ xa"
LEARNERS = ("Bùi Thanh Sơn", "Nguyễn Thị Hồng Nhung")
HEAD = "Đặng Quốc Việt"


def organisation(server: LiveServer) -> dict:
    """A department with a division, its head and two learners, and a one-lesson course."""
    token = secrets.token_hex(3)
    with server.app.app_context():
        session = db.session
        department = services.create_unit(session, None, services.UnitData(
            code=f"VTT-{token}", name=f"Vụ Thông tin {token}", kind="department",
            parent_id=server.seed.ministry_id))
        division = services.create_unit(session, None, services.UnitData(
            code=f"VTT-{token}-P1", name=f"Phòng Báo chí {token}", kind="division",
            parent_id=department.id))
        people = {}
        for n, name in enumerate((HEAD, *LEARNERS), start=1):
            person = services.create_person(session, None, services.PersonData(
                employee_code=f"BC{token.upper()}{n}", full_name=name,
                email=f"baocao{n}.{token}@mofa.example", unit_id=division.id,
                position="Chuyên viên"), password_hash=hash_password(PASSWORD),
                must_change_password=False)
            people[name] = person.email
        head_person = session.scalar(select(User).where(User.email == people[HEAD]))
        services.grant_role(session, None, head_person, Role.UNIT_HEAD.value, division.id)
        course = authoring.create_course(session, None, authoring.CourseData(
            slug=f"attt-tu-xa-{token}", title=TITLE, summary="Làm việc từ xa an toàn.",
            topic="security", estimated_minutes=30))
        module = authoring.add_module(session, None, course, "Chương 1")
        authoring.add_lesson(session, None, module, authoring.LessonData(
            title="Mạng riêng ảo", body="## VPN\n\nLuôn bật VPN khi làm việc từ xa."))
        authoring.set_course_status(session, None, course, "published")
        session.commit()
        return {"department_id": department.id, "division_id": division.id,
                "course_id": course.id, "slug": course.slug, "emails": people}


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    e2e_sign_in(page, email, password)


def card_value(page: Page, index: int) -> str:
    return page.locator(".report-cards .report-card__value").nth(index).inner_text().strip()


def test_assigned_training_reaches_the_division_heads_report(page: Page, server: LiveServer) -> None:
    org = organisation(server)
    admin = server.create_admin("QuanTri-2025-e2e")

    # -- the admin assigns the course by decision to the whole department
    sign_in(page, admin["email"], admin["password"])
    page.locator("nav.site-nav a[href='/assignments']").click()
    page.locator("main a[href='/assignments/new']").first.click()
    page.locator("#title").fill("Bồi dưỡng an toàn thông tin năm 2026")
    page.locator("#decision_number").fill("1637/QĐ-BNG")
    today = utcnow().date()
    page.locator("#decision_date").fill(today.isoformat())
    page.locator("#training").select_option(f"course:{org['course_id']}")
    page.locator("input[name=target_kind][value=unit]").check()
    page.locator("#target_unit_id").select_option(str(org["department_id"]))
    page.locator("#start_date").fill(today.isoformat())
    page.locator("#due_date").fill((today + timedelta(days=30)).isoformat())
    check_accessibility(page, "assign training form")
    screenshot(page, "assignment-form", server.db_kind)
    page.locator("main form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/assignments/\d+$"))
    expect(page.locator("main")).to_contain_text("1637/QĐ-BNG")
    screenshot(page, "assignment-detail", server.db_kind)

    # -- the division's head sees three people assigned, none started
    sign_in(page, org["emails"][HEAD])
    page.locator("nav.site-nav a[href='/reports']").click()
    expect(page).to_have_url(re.compile(rf"/reports/units/{org['division_id']}"))
    assert card_value(page, 0) == "3"          # people
    assert card_value(page, 4) == "3"          # not started
    completed_before = card_value(page, 1)
    check_accessibility(page, "division dashboard")
    screenshot(page, "division-dashboard", server.db_kind)

    # -- a learner finishes the course
    sign_in(page, org["emails"][LEARNERS[0]])
    page.goto(f"/courses/{org['slug']}")
    page.locator(f"main a[href='/courses/{org['slug']}/resume']").click()   # assigned: enrolled
    page.locator("#complete-lesson button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/courses/{org['slug']}$"))

    # -- the head's figure changes
    sign_in(page, org["emails"][HEAD])
    page.goto(f"/reports/units/{org['division_id']}")
    assert card_value(page, 1) != completed_before
    assert re.match(r"33[,.]3", card_value(page, 1)), card_value(page, 1)
    assert card_value(page, 4) == "2"

    # -- the people list, exported as XLSX
    page.goto(f"/reports/units/{org['division_id']}/people")
    check_accessibility(page, "people list")
    with page.expect_download() as info:
        page.locator("main a[href*='export.xlsx']").first.click()
    book = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    assert len(rows) == 4, rows                 # a header and the three people
    completed = {row[1]: (row[4], row[5]) for row in rows[1:]}   # name: (assigned, completed)
    assert completed == {HEAD: (1, 0), LEARNERS[0]: (1, 1), LEARNERS[1]: (1, 0)}, rows
