"""Notifications in a real browser: a learner chooses how they get e-mail, a reminder job
runs, and an admin watches the scheduler and the outbox.

The learner picks a daily digest for mentoring and keeps mandatory training immediate (off is
not offered there) → the reminder job runs for the learner's due date → the learner's bell
shows the reminder → the admin sees the job's run on the scheduler page and the reminder
e-mail waiting in the outbox.
"""
from __future__ import annotations

import secrets
from datetime import timedelta, timezone

import pytest
from playwright.sync_api import Page, expect

from lms.auth.passwords import hash_password
from lms.courses import authoring
from lms.courses import services as learning
from lms.db import db, utcnow
from lms.org import services
from lms.scheduler import run_now
from tests.e2e.conftest import LiveServer, check_accessibility, screenshot, sign_in

pytestmark = pytest.mark.e2e

PASSWORD = "ThongBao-2025-e2e"


def nine_in_hanoi():
    """Today 09:00 in Hanoi (the seed division's people's timezone), as UTC: after the
    reminders' 08:00, whenever the test runs."""
    from zoneinfo import ZoneInfo

    local = utcnow().astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    return local.replace(hour=9, minute=0, second=0, microsecond=0).astimezone(timezone.utc)


def learner_with_a_due_date(server: LiveServer, days: int) -> dict:
    token = secrets.token_hex(3)
    with server.app.app_context():
        session = db.session
        person = services.create_person(session, None, services.PersonData(
            employee_code=f"TB{token.upper()}", full_name="Nguyễn Thị Hồng Nhung",
            email=f"thongbao.{token}@mofa.example", unit_id=server.seed.division_id,
            position="Chuyên viên"), password_hash=hash_password(PASSWORD),
            must_change_password=False)
        course = authoring.create_course(session, None, authoring.CourseData(
            slug=f"thong-bao-{token}", title="Dịch vụ công trực tuyến", summary="Nộp hồ sơ.",
            topic="public_services", estimated_minutes=20))
        module = authoring.add_module(session, None, course, "Chương 1")
        authoring.add_lesson(session, None, module, authoring.LessonData(
            title="Tài khoản định danh điện tử", body="## VNeID\n\nĐăng nhập bằng VNeID."))
        authoring.set_course_status(session, None, course, "published")
        enrolment = learning.enrol(session, person, course, source="assigned")
        enrolment.due_at = nine_in_hanoi() + timedelta(days=days)
        session.commit()
        return {"email": person.email, "id": person.id, "enrolment": enrolment.id}



def test_preferences_a_reminder_and_the_admins_view(page: Page, server: LiveServer) -> None:
    learner = learner_with_a_due_date(server, days=1)
    admin = server.create_admin("QuanTri-2025-e2e")

    # -- the learner: mandatory training cannot be switched off; mentoring goes to a digest
    sign_in(page, learner["email"], PASSWORD)
    page.goto("/account")
    training = page.locator("#email-preferences fieldset[data-category=training]")
    expect(training.locator("input[value=off]")).to_have_count(0)
    page.locator("#email-preferences fieldset[data-category=mentoring] input[value=digest]").check()
    check_accessibility(page, "e-mail preferences")
    page.locator("#email-preferences button[type=submit]").click()
    expect(page.locator(
        "#email-preferences fieldset[data-category=mentoring] input[value=digest]")).to_be_checked()
    expect(page.locator(
        "#email-preferences fieldset[data-category=training] input[value=immediate]")).to_be_checked()

    # -- the reminder job runs (as the scheduler would), once for this hour
    run = run_now(server.app, "notify.reminders", nine_in_hanoi() + timedelta(minutes=5))
    assert run is None or run.status == "done"
    page.goto("/notifications")
    expect(page.locator("nav.site-nav .bell__count")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Dịch vụ công trực tuyến")
    check_accessibility(page, "notifications")

    # -- the admin: the job's run on the scheduler page, the e-mail waiting in the outbox
    sign_in(page, admin["email"], admin["password"])
    page.locator("nav.site-nav a[href='/admin/scheduler']").click()
    expect(page.locator("#job-notify\\.reminders")).to_have_attribute("data-last-status", "done")
    check_accessibility(page, "scheduler page")
    screenshot(page, "scheduler-page", server.db_kind)
    page.goto("/admin/outbox")
    expect(page.locator("#outbox")).to_contain_text(learner["email"])
    check_accessibility(page, "outbox")
    screenshot(page, "outbox-page", server.db_kind)
