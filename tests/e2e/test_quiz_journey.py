"""A learner takes a required quiz, in a real browser.

Learner signs in → finishes the course's only lesson (the course is not complete: the quiz
is required) → opens the quiz → starts → answers one question of each of the seven types
(ordering with the "move" buttons) while quiz.js saves in the background → reloads the
page: every answer is still there → finishes → submits → passes → the course completes.
Then the countdown: when the time is up the page submits itself.

Every page is checked with axe-core (WCAG 2.1 A/AA) and for console errors (CSP).
Selectors use ids, names and values, not wording.
"""
from __future__ import annotations

import re
import secrets
import time
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from lms.auth.passwords import hash_password
from lms.courses import authoring
from lms.courses.models import Enrolment
from lms.db import db, utcnow
from lms.org import services
from lms.quizzes.models import Attempt
from tests.e2e.conftest import LiveServer, allow_console_error, check_accessibility, screenshot
from tests.quizzes.test_learner_views import every_type_quiz

pytestmark = pytest.mark.e2e

PASSWORD = "HocVien-2025-quiz"
ORDER = ["Bước-Một", "Bước-Hai", "Bước-Ba", "Bước-Bốn", "Bước-Năm"]


def course_with_quiz(server: LiveServer, **settings) -> tuple[str, int]:
    """A published one-lesson course whose required quiz has every question type."""
    token = secrets.token_hex(3)
    with server.app.app_context():
        session = db.session
        course = authoring.create_course(session, None, authoring.CourseData(
            slug=f"bai-kiem-tra-{token}", title="An toàn thông tin cơ bản", summary="Tóm tắt.",
            outcomes="Đặt mật khẩu mạnh", topic="security"))
        module = authoring.add_module(session, None, course, "Chương 1")
        authoring.add_lesson(session, None, module, authoring.LessonData(
            title="Mật khẩu mạnh", body="## Mật khẩu\n\nÍt nhất 12 ký tự."))
        authoring.set_course_status(session, None, course, "published")
        quiz = every_type_quiz(session, course, **settings)
        session.commit()
        return course.slug, quiz.id


def create_learner(server: LiveServer) -> str:
    token = secrets.token_hex(3)
    email = f"hocvien.quiz.{token}@mofa.example"
    with server.app.app_context():
        services.create_person(db.session, None, services.PersonData(
            employee_code=f"HQ{token.upper()}", full_name="Nguyễn Thị Hồng Nhung", email=email,
            unit_id=server.seed.division_id, position="Chuyên viên"),
            password_hash=hash_password(PASSWORD), must_change_password=False)
        db.session.commit()
    return email


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.locator("#login").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def saved_responses(server: LiveServer, attempt_id: int) -> list:
    with server.app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        return [a.response for a in attempt.answers]


def wait_until_saved(server: LiveServer, attempt_id: int, page: Page) -> None:
    """quiz.js saves in the background: wait until the server holds all seven answers."""
    for _ in range(60):
        if all(r is not None for r in saved_responses(server, attempt_id)):
            expect(page.locator("#quiz-save-status")).to_have_class(re.compile("save-status--ok"))
            return
        time.sleep(0.25)
    pytest.fail(f"answers not saved: {saved_responses(server, attempt_id)}")


def ordering_texts(page: Page) -> list[str]:
    return [t.strip() for t in page.locator(
        "section[data-kind=ordering] .ordering__item .ordering__label [lang]").all_text_contents()]


def answer_everything(page: Page) -> None:
    page.locator("section[data-kind=single] label.choice", has_text="Hà Nội").click()
    page.locator("section[data-kind=multiple] label.choice", has_text="Điện thoại").click()
    page.locator("section[data-kind=multiple] label.choice", has_text="Khoá bảo mật").click()
    page.locator("section[data-kind=truefalse] input[value=false]").check()
    page.locator("section[data-kind=shortanswer] input[type=text]").fill("te-ep-a-hai")
    page.locator("section[data-kind=numeric] input[type=text]").fill("4096,6")
    for index, right in enumerate(["Màu-Đỏ", "Màu-Xanh", "Màu-Trắng"]):
        page.locator(f"section[data-kind=matching] select[name$='-{index}']").select_option(label=right)
    # ordering: the "move up" buttons quiz.js adds, until the items stand in the right order
    for target, item in enumerate(ORDER):
        while ordering_texts(page).index(item) > target:
            page.locator("section[data-kind=ordering] .ordering__item", has_text=item) \
                .locator(".ordering__move[data-move='-1']").click()
    assert ordering_texts(page) == ORDER


def test_learner_answers_reloads_submits_passes_and_completes_the_course(page: Page, server: LiveServer):
    slug, quiz_id = course_with_quiz(server, layout="one_page", time_limit_minutes=30, pass_mark=80,
                                     attempts_allowed=3)
    email = create_learner(server)
    sign_in(page, email)

    # -- the only lesson: finished, yet the course waits for the quiz
    page.goto(f"/courses/{slug}")
    page.locator("main .lesson-list a").first.click()
    page.locator("#complete-lesson button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/courses/{slug}$"))
    expect(page.locator(".flash--success")).to_have_count(0)
    check_accessibility(page, "course page with a quiz")

    # -- the quiz page, then start
    page.locator(f"main a[href='/quizzes/{quiz_id}']").click()
    expect(page).to_have_url(re.compile(rf"/quizzes/{quiz_id}$"))
    check_accessibility(page, "quiz page")
    page.locator(f"form[action='/quizzes/{quiz_id}/start'] button").click()
    expect(page).to_have_url(re.compile(r"/attempts/\d+$"))
    attempt_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#quiz-timer-value")).to_have_text(re.compile(r"^(29|30):\d\d$"))
    check_accessibility(page, "attempt page")

    # -- answer every question; quiz.js saves each in the background
    answer_everything(page)
    wait_until_saved(server, attempt_id, page)
    page.evaluate("() => window.scrollTo(0, 0)")  # the sticky timer bar stays at the top
    screenshot(page, "quiz-attempt-answered", server.db_kind)

    # -- reload: everything is still there, in the same order
    page.reload()
    expect(page.locator("section[data-kind=single] label.choice", has_text="Hà Nội")
           .locator("input")).to_be_checked()
    expect(page.locator("section[data-kind=multiple] input:checked")).to_have_count(2)
    expect(page.locator("section[data-kind=truefalse] input[value=false]")).to_be_checked()
    expect(page.locator("section[data-kind=shortanswer] input[type=text]")).to_have_value("te-ep-a-hai")
    expect(page.locator("section[data-kind=numeric] input[type=text]")).to_have_value("4096,6")
    for index, right in enumerate(["Màu-Đỏ", "Màu-Xanh", "Màu-Trắng"]):
        chosen = page.locator(f"section[data-kind=matching] select[name$='-{index}'] option:checked")
        expect(chosen).to_have_text(right)
    assert ordering_texts(page) == ORDER
    expect(page.locator(".qnav--answered[data-qnav]")).to_have_count(7)

    # -- on a phone
    page.set_viewport_size({"width": 375, "height": 800})
    check_accessibility(page, "attempt page on a phone")
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "quiz-attempt-phone", server.db_kind)
    scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= 375, f"the attempt page scrolls sideways on a phone ({scroll_width}px)"
    page.set_viewport_size({"width": 1280, "height": 900})

    # -- finish, submit, pass: the course completes
    page.locator("button[name=go][value=summary]").click()
    expect(page).to_have_url(re.compile(rf"/attempts/{attempt_id}/summary$"))
    check_accessibility(page, "summary page")
    page.locator(f"form[action='/attempts/{attempt_id}/submit'] button").click()
    expect(page).to_have_url(re.compile(rf"/attempts/{attempt_id}/result$"))
    expect(page.locator(".quiz-score__value")).to_have_text("100%")
    expect(page.locator(".notice--ok")).to_be_visible()  # "Course completed"
    expect(page.locator(".flash--success")).to_be_visible()
    check_accessibility(page, "result page")
    screenshot(page, "quiz-result", server.db_kind)
    page.set_viewport_size({"width": 375, "height": 800})
    screenshot(page, "quiz-result-phone", server.db_kind)
    page.set_viewport_size({"width": 1280, "height": 900})

    with server.app.app_context():
        enrolment = db.session.scalar(select(Enrolment).join(Attempt, Attempt.user_id == Enrolment.user_id)
                                      .where(Attempt.id == attempt_id))
        assert enrolment.is_completed
    page.goto(f"/quizzes/{quiz_id}")
    check_accessibility(page, "quiz page after passing")
    screenshot(page, "quiz-page", server.db_kind)
    page.goto(f"/courses/{slug}")
    expect(page.locator("section[aria-labelledby=quizzes-title] .lesson-list__done")).to_have_count(1)
    check_accessibility(page, "course page after passing")
    screenshot(page, "quiz-course-page", server.db_kind)


def test_the_countdown_submits_the_attempt_when_the_time_is_up(page: Page, server: LiveServer):
    _slug, quiz_id = course_with_quiz(server, layout="per_page", time_limit_minutes=10, pass_mark=50)
    email = create_learner(server)
    sign_in(page, email)
    page.goto(f"/quizzes/{quiz_id}")
    page.locator(f"form[action='/quizzes/{quiz_id}/start'] button").click()
    expect(page).to_have_url(re.compile(r"/attempts/\d+$"))
    attempt_id = int(page.url.rsplit("/", 1)[1])
    check_accessibility(page, "attempt page, one question per page")
    with server.app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        attempt.deadline_at = utcnow() + timedelta(seconds=6)
        db.session.commit()
    page.reload()
    page.locator("section[data-kind=single] label.choice", has_text="Hà Nội").click()
    expect(page).to_have_url(re.compile(rf"/attempts/{attempt_id}/result$"), timeout=20_000)
    with server.app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        assert not attempt.is_open and attempt.auto_submitted
        assert attempt.answers[0].state == "correct"  # the answer given just before the end
    check_accessibility(page, "result after the time ran out")


def test_nothing_is_lost_while_offline(page: Page, server: LiveServer):
    _slug, quiz_id = course_with_quiz(server, layout="one_page")
    email = create_learner(server)
    sign_in(page, email)
    page.goto(f"/quizzes/{quiz_id}")
    page.locator(f"form[action='/quizzes/{quiz_id}/start'] button").click()
    expect(page).to_have_url(re.compile(r"/attempts/\d+$"))
    attempt_id = int(page.url.rsplit("/", 1)[1])
    allow_console_error(page, "ERR_INTERNET_DISCONNECTED|Failed to fetch")
    page.context.set_offline(True)
    page.locator("section[data-kind=shortanswer] input[type=text]").fill("te-ep")
    page.locator("section[data-kind=shortanswer] input[type=text]").fill("te-ep-a-hai")
    expect(page.locator("#quiz-save-status")).to_have_class(re.compile("save-status--problem"))
    assert saved_responses(server, attempt_id)[3] is None
    page.context.set_offline(False)
    for _ in range(60):
        if saved_responses(server, attempt_id)[3] is not None:
            break
        time.sleep(0.25)
    assert saved_responses(server, attempt_id)[3] == "te-ep-a-hai"  # the latest value, once
    expect(page.locator("#quiz-save-status")).to_have_class(re.compile("save-status--ok"))


def test_the_quiz_works_without_javascript(browser: Browser, server: LiveServer):
    """Page by page with the form's own buttons: Next saves, Enter in a text answer saves,
    the question strip jumps back, and the answers are still there."""
    _slug, quiz_id = course_with_quiz(server, layout="per_page", time_limit_minutes=30, pass_mark=50,
                                      shuffle_questions=False)
    email = create_learner(server)
    context = browser.new_context(base_url=server.url, locale="vi-VN", java_script_enabled=False,
                                  viewport={"width": 375, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, email)
        page.goto(f"/quizzes/{quiz_id}")
        page.locator(f"form[action='/quizzes/{quiz_id}/start'] button").click()
        expect(page).to_have_url(re.compile(r"/attempts/\d+$"))
        attempt_id = int(page.url.rsplit("/", 1)[1])
        expect(page.locator("#quiz-timer-value")).to_contain_text("30")  # minutes, printed
        expect(page.locator(".ordering__move")).to_have_count(0)  # no script, no move buttons

        page.locator("section[data-kind=single] label.choice", has_text="Hà Nội").click()
        page.locator("button[name=go][value=next]").click()
        expect(page).to_have_url(re.compile(rf"/attempts/{attempt_id}\?page=2$"))
        page.locator("section[data-kind=multiple] label.choice", has_text="Điện thoại").click()
        page.locator("section[data-kind=multiple] label.choice", has_text="Khoá bảo mật").click()
        page.locator("button[name=go][value='4']").click()  # the question strip saves, then jumps
        expect(page).to_have_url(re.compile(rf"/attempts/{attempt_id}\?page=4$"))
        page.locator("section[data-kind=shortanswer] input[type=text]").fill("te-ep-a-hai")
        page.locator("section[data-kind=shortanswer] input[type=text]").press("Enter")
        expect(page).to_have_url(re.compile(rf"/attempts/{attempt_id}\?page=4$"))
        expect(page.locator(".flash--success")).to_be_visible()  # "saved", and still on question 4
        expect(page.locator("section[data-kind=shortanswer] input[type=text]")).to_have_value("te-ep-a-hai")
        page.locator("button[name=go][value='7']").click()
        # ordering without script: a position per item
        for item in ORDER:
            select = page.locator("section[data-kind=ordering] .ordering__item", has_text=item) \
                .locator("select")
            select.select_option(str(ORDER.index(item) + 1))
        page.locator("button[name=go][value=save]").last.click()
        assert ordering_texts(page) == ORDER
        page.locator("button[name=go][value='1']").click()
        expect(page.locator("section[data-kind=single] label.choice", has_text="Hà Nội")
               .locator("input")).to_be_checked()
        expect(page.locator(".qnav--answered[data-qnav]")).to_have_count(4)
        screenshot(page, "quiz-attempt-nojs-phone", server.db_kind)

        page.locator("button[name=go][value=summary]").click()
        page.locator(f"form[action='/attempts/{attempt_id}/submit'] button").click()
        expect(page).to_have_url(re.compile(rf"/attempts/{attempt_id}/result$"))
        with server.app.app_context():
            attempt = db.session.get(Attempt, attempt_id)
            assert [a.state for a in attempt.answers] == [
                "correct", "correct", "unanswered", "correct", "unanswered", "unanswered", "correct"]
            assert attempt.passed is True  # 4 of 7 ≥ 50%
    finally:
        context.close()
