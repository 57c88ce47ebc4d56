"""A learner asks for help on a lesson and a mentor answers, in a real browser.

The learner presses "Ask for help" on a lesson → the mentor sees the question at the top of
their page, and the learner at the top of their mentees → replies in the thread → the
learner reads the reply (bell) and marks the question solved → the mentor's page calms down.
"""
from __future__ import annotations

import re
import secrets
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lms.auth.passwords import hash_password
from lms.courses import authoring
from lms.courses import services as learning
from lms.db import db, utcnow
from lms.mentoring import services as mentoring
from lms.org import services
from lms.org.models import Role, User
from tests.e2e.conftest import LiveServer, check_accessibility, screenshot
from tests.e2e.conftest import sign_in as e2e_sign_in

pytestmark = pytest.mark.e2e

PASSWORD = "HoTro-2025-e2e"
MENTOR, LEARNER, BEHIND = "Đặng Quốc Việt", "Nguyễn Thị Hồng Nhung", "Bùi Thanh Sơn"
QUESTION = "Em bấm “Ký số” nhưng hệ thống báo không tìm thấy chứng thư. Em cần làm gì ạ?"
ANSWER = "Em cắm USB token trước khi mở văn bản, rồi chọn lại chứng thư số trong mục Cài đặt."


def team(server: LiveServer) -> dict:
    """A division with a mentor and two mentees: one overdue on a course, one on track."""
    token = secrets.token_hex(3)
    with server.app.app_context():
        session = db.session
        division = services.create_unit(session, None, services.UnitData(
            code=f"HT-{token}", name=f"Phòng Hỗ trợ {token}", kind="division",
            parent_id=server.seed.department_id))
        people = {}
        for n, name in enumerate((MENTOR, LEARNER, BEHIND), start=1):
            person = services.create_person(session, None, services.PersonData(
                employee_code=f"HT{token.upper()}{n}", full_name=name,
                email=f"hotro{n}.{token}@mofa.example", unit_id=division.id,
                position="Chuyên viên"), password_hash=hash_password(PASSWORD),
                must_change_password=False)
            people[name] = person
        services.grant_role(session, None, people[MENTOR], Role.MENTOR.value, division.id)
        for name in (LEARNER, BEHIND):
            mentoring.pair(session, None, people[MENTOR], people[name])
        course = authoring.create_course(session, None, authoring.CourseData(
            slug=f"ky-so-{token}", title="Ký số văn bản điện tử", summary="Ký số trên hệ thống.",
            topic="documents", estimated_minutes=20))
        module = authoring.add_module(session, None, course, "Chương 1")
        lesson = authoring.add_lesson(session, None, module, authoring.LessonData(
            title="Chứng thư số và USB token", body="## Ký số\n\nCắm USB token trước khi ký."))
        authoring.set_course_status(session, None, course, "published")
        overdue = learning.enrol(session, people[BEHIND], course)
        overdue.due_at = utcnow() - timedelta(days=3)
        session.commit()
        return {"emails": {name: p.email for name, p in people.items()},
                "ids": {name: p.id for name, p in people.items()},
                "lesson_url": f"/courses/{course.slug}/lessons/{lesson.key}"}


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    e2e_sign_in(page, email, password)


def first_mentee(page: Page):
    return page.locator("#mentees li.mentee").first


def test_learner_asks_for_help_and_the_mentor_answers(page: Page, server: LiveServer) -> None:
    org = team(server)
    ids = org["ids"]

    # -- before: the overdue colleague heads the mentor's list, and nobody is waiting
    sign_in(page, org["emails"][MENTOR])
    unread_before = int(page.locator("nav.site-nav .bell__count").get_attribute("data-unread"))
    page.locator("nav.site-nav a[href='/mentoring']").click()
    expect(first_mentee(page)).to_have_attribute("data-person-id", str(ids[BEHIND]))
    expect(page.locator("#no-requests")).to_be_visible()

    # -- the learner asks on the lesson
    sign_in(page, org["emails"][LEARNER])
    page.goto(org["lesson_url"])
    page.locator("#ask-for-help").click()
    expect(page.locator("#help-goes-to [data-mentor-id]")).to_have_attribute(
        "data-mentor-id", str(ids[MENTOR]))
    page.locator("textarea[name=body]").fill(QUESTION)
    check_accessibility(page, "ask for help")
    page.locator("main form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/help/\d+$"))
    thread_url = page.url
    expect(page.locator("#thread-status")).to_have_attribute("data-status", "waiting")
    expect(page.locator("#messages")).to_contain_text(QUESTION)

    # -- the mentor sees it first: the question on top, the learner on top of the mentees
    sign_in(page, org["emails"][MENTOR])
    expect(page.locator("nav.site-nav .bell__count")).to_have_attribute(
        "data-unread", str(unread_before + 1))
    page.locator("nav.site-nav a[href='/mentoring']").click()
    expect(page.locator("#requests li.request").first).to_contain_text(LEARNER)
    expect(first_mentee(page)).to_have_attribute("data-person-id", str(ids[LEARNER]))
    expect(first_mentee(page)).to_have_attribute("data-needs", re.compile(r"\bwaiting\b"))
    check_accessibility(page, "mentor page with a waiting question")
    screenshot(page, "mentor-page-waiting", server.db_kind)

    # -- and replies in the thread
    page.locator("#requests li.request").first.locator("a.button").click()
    expect(page).to_have_url(thread_url)
    page.locator("#reply-form textarea[name=body]").fill(ANSWER)
    page.locator("#reply-form button[type=submit]").click()
    expect(page.locator("#thread-status")).to_have_attribute("data-status", "answered")
    expect(page.locator("#messages")).to_contain_text(ANSWER)
    check_accessibility(page, "help thread")
    screenshot(page, "help-thread-answered", server.db_kind)

    # -- the learner is told, reads the answer and marks the question solved
    sign_in(page, org["emails"][LEARNER])
    page.locator("nav.site-nav a.bell").click()
    check_accessibility(page, "notifications")
    page.locator("main form[action$='/open'] button[type=submit]").first.click()
    expect(page).to_have_url(thread_url)
    expect(page.locator("#messages")).to_contain_text(ANSWER)
    page.locator("#solve-form button[type=submit]").click()
    expect(page.locator("#thread-status")).to_have_attribute("data-status", "solved")
    expect(page.locator("#reply-form")).to_have_count(0)

    # -- the mentor's page: no open question, the overdue colleague first again
    sign_in(page, org["emails"][MENTOR])
    page.goto("/mentoring")
    expect(page.locator("#no-requests")).to_be_visible()
    expect(first_mentee(page)).to_have_attribute("data-person-id", str(ids[BEHIND]))
    with server.app.app_context():
        assert db.session.scalar(select(User.full_name).where(User.id == ids[LEARNER])) == LEARNER
