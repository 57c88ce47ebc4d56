"""A trainer builds a quiz in a real browser and reads its results.

Trainer signs in → opens the course's question bank from the course editor → writes a
single-choice question (previewed with the right answer marked, then saved) → creates a
quiz that draws from the category → learners take it (through the services) → the trainer
reads the attempts with their flags, one attempt, the item statistics, and gives a learner
an extra attempt.

Every page visited is checked with axe-core (WCAG 2.1 A/AA) and for console errors (the
Content-Security-Policy forbids inline scripts and styles). Selectors use ids and names.
"""
from __future__ import annotations

import random
import re
import secrets
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from lms.auth.passwords import hash_password
from lms.courses import authoring
from lms.db import db, utcnow
from lms.org import services
from lms.org.models import Role
from lms.quizzes import attempts as engine
from lms.quizzes import bank
from lms.quizzes.models import Quiz
from lms.quizzes.spec import Choice, QuestionSpec, QuestionType
from tests.e2e.conftest import LiveServer, check_accessibility, screenshot

pytestmark = pytest.mark.e2e

PASSWORD = "GiangVien-2025-e2e"


def create_trainer(server: LiveServer) -> dict[str, str]:
    token = secrets.token_hex(3)
    email = f"quiz.trainer.{token}@mofa.example"
    with server.app.app_context():
        person = services.create_person(db.session, None, services.PersonData(
            employee_code=f"QT{token.upper()}", full_name="Lê Thu Hương", email=email,
            unit_id=server.seed.department_id, position="Giảng viên"),
            password_hash=hash_password(PASSWORD), must_change_password=False)
        services.grant_role(db.session, None, person, Role.TRAINER.value, None)
        db.session.commit()
    return {"email": email}


def create_course(server: LiveServer) -> tuple[int, str]:
    """A published course with a few questions already in its bank (category Mật khẩu)."""
    slug = f"an-toan-thong-tin-{secrets.token_hex(3)}"
    with server.app.test_request_context():
        course = authoring.create_course(db.session, None, authoring.CourseData(
            slug=slug, title="An toàn thông tin trong công việc", topic="security"))
        module = authoring.add_module(db.session, None, course, "Mật khẩu")
        authoring.add_lesson(db.session, None, module, authoring.LessonData(
            title="Mật khẩu mạnh", body="Dùng **cụm từ dài**."))
        authoring.set_course_status(db.session, None, course, "published")
        for n, (stem, right, wrong) in enumerate([
            ("Nên khoá màn hình khi rời bàn làm việc không?", "Có, luôn luôn", "Không cần"),
            ("Thư lạ yêu cầu mật khẩu là gì?", "Thư lừa đảo", "Thư của phòng CNTT"),
            ("Bật xác thực hai lớp ở đâu?", "Trong phần cài đặt tài khoản", "Không cần bật"),
        ]):
            bank.save_question(db.session, course, QuestionSpec(
                type=QuestionType.SINGLE, name=f"co-san-{n + 1}", category="Mật khẩu", stem=stem,
                choices=(Choice(right, 1.0), Choice(wrong, 0.0, "Chưa đúng."))))
        db.session.commit()
        return course.id, slug


def take_quiz(server: LiveServer, quiz_id: int, learners: int = 6) -> list[int]:
    """Learners of the seeded division take the quiz: some right, some wrong, flags on one."""
    ids = []
    with server.app.test_request_context():
        quiz = db.session.get(Quiz, quiz_id)
        now = utcnow() - timedelta(hours=2)
        for n in range(learners):
            token = secrets.token_hex(3)
            person = services.create_person(db.session, None, services.PersonData(
                employee_code=f"HV{token.upper()}", full_name=f"Nguyễn Thị Học Viên {n + 1}",
                email=f"hv.{token}@mofa.example", unit_id=server.seed.division_id,
                position="Chuyên viên"))
            attempt = engine.start_attempt(db.session, quiz, person, now=now,
                                           rng=random.Random(n))
            engine.mark_shown(db.session, attempt, [a.position for a in attempt.answers], now=now)
            if n == 0:
                engine.record_signal(db.session, attempt, "blur", now=now)
                engine.record_signal(db.session, attempt, "paste", 1, now=now)
            luck = random.Random(100 + n)  # stronger learners further down the list
            answers = {a.position: str(a.display.index(0 if luck.random() < 0.25 + 0.12 * n else 1))
                       for a in attempt.answers}
            engine.save_answers(db.session, attempt, answers,
                                now=now + timedelta(seconds=1 if n == 0 else 40))
            engine.submit_attempt(db.session, attempt, now=now + timedelta(minutes=4, seconds=n))
            ids.append(person.id)
        db.session.commit()
    return ids


def sign_in(page: Page, login: str, password: str) -> None:
    page.goto("/login")
    page.locator("#login").fill(login)
    page.locator("#password").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state("load")


def test_trainer_writes_a_question_builds_a_quiz_and_reads_the_results(
        page: Page, server: LiveServer) -> None:
    trainer = create_trainer(server)
    course_id, _slug = create_course(server)
    sign_in(page, trainer["email"], PASSWORD)

    # -- from the course editor to the question bank
    page.goto(f"/author/courses/{course_id}")
    page.locator(f"main a[href='/author/courses/{course_id}/questions']").click()
    expect(page).to_have_url(re.compile(rf"/author/courses/{course_id}/questions$"))
    expect(page.locator("table.bank-table tbody tr")).to_have_count(3)

    # -- a new single-choice question, previewed then saved
    page.locator("#type").select_option("single")
    page.locator("form.new-question button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/questions/new\?type=single"))
    check_accessibility(page, "new question form")
    page.locator("#category_id").select_option(label="Mật khẩu")
    page.locator("#stem").fill("Mật khẩu nào mạnh nhất?")
    page.locator("#choices-0-text").fill("Một cụm từ dài dễ nhớ")
    page.locator("#choices-0-credit").fill("100")
    page.locator("#choices-0-feedback").fill("Đúng: càng dài càng khó đoán.")
    page.locator("#choices-1-text").fill("123456")
    page.locator("#choices-1-feedback").fill("Quá dễ đoán.")
    page.locator("#choices-2-text").fill("Ngày sinh của bạn")
    page.locator("button[name=preview]").click()
    preview = page.locator("#preview")
    expect(preview.locator("li.is-right")).to_have_count(1)
    expect(preview.locator("li.is-right")).to_contain_text("Một cụm từ dài dễ nhớ")
    check_accessibility(page, "question form with preview")
    screenshot(page, "quiz-author-question-vi", server.db_kind)
    page.locator("button[name=save]").click()
    expect(page).to_have_url(re.compile(r"/author/questions/\d+$"))
    expect(page.locator(".flash--success")).to_be_visible()
    expect(page.locator(".version-note")).to_contain_text("1")

    page.goto(f"/author/courses/{course_id}/questions")
    expect(page.locator("table.bank-table tbody tr")).to_have_count(4)
    check_accessibility(page, "question bank")
    screenshot(page, "quiz-author-bank-vi", server.db_kind)

    # -- the GIFT page
    page.locator(f"a[href='/author/courses/{course_id}/questions/import']").click()
    check_accessibility(page, "GIFT import and export")

    # -- a quiz drawing 3 of the 4 questions
    page.locator(f"a[href='/author/courses/{course_id}/quizzes']").click()
    page.locator(f"main a[href='/author/courses/{course_id}/quizzes/new']").click()
    check_accessibility(page, "new quiz form")
    page.locator("#title").fill("Kiểm tra cuối khoá: mật khẩu")
    page.locator("#pass_mark").fill("70")
    page.locator("#attempts_allowed").fill("1")
    page.locator("#time_limit_minutes").fill("10")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/author/quizzes/\d+#questions$"))
    quiz_id = int(re.search(r"/author/quizzes/(\d+)", page.url).group(1))
    expect(page.locator(".notice--warn")).to_be_visible()  # no questions yet
    page.locator("#draw-category_id").select_option(index=0)
    page.locator("#draw-draw_count").fill("3")
    page.locator("form[action$='/slots/draw'] button[type=submit]").click()
    expect(page.locator("table.slots tbody tr")).to_have_count(1)
    expect(page.locator(".notice--warn")).to_have_count(0)
    page.locator("#fixed-question_id").select_option(index=0)
    page.locator("form[action$='/slots/fixed'] button[type=submit]").click()
    expect(page.locator("table.slots tbody tr")).to_have_count(2)
    page.locator("table.slots tbody tr:last-child form[action$='/remove'] button").click()
    expect(page.locator("table.slots tbody tr")).to_have_count(1)
    check_accessibility(page, "quiz editor")
    screenshot(page, "quiz-author-quiz-vi", server.db_kind)

    # -- learners take it; the trainer reads the attempts
    learners = take_quiz(server, quiz_id)
    page.goto(f"/author/quizzes/{quiz_id}/attempts")
    expect(page.locator("table.attempts-table tbody tr")).to_have_count(len(learners))
    expect(page.locator("table.attempts-table .flag").first).to_be_visible()
    check_accessibility(page, "attempts")
    screenshot(page, "quiz-author-attempts-vi", server.db_kind)
    page.locator("table.attempts-table a[href*='/author/attempts/']").first.click()
    expect(page.locator("section.answer")).to_have_count(3)
    check_accessibility(page, "one attempt")
    screenshot(page, "quiz-author-attempt-vi", server.db_kind)

    page.goto(f"/author/quizzes/{quiz_id}/statistics")
    expect(page.locator("table.stats-table tbody tr").first).to_be_visible()
    expect(page.locator("meter.distribution__bar").first).to_be_visible()
    check_accessibility(page, "statistics")
    screenshot(page, "quiz-author-statistics-vi", server.db_kind)

    # -- one more attempt for the first learner, with the reason recorded
    page.goto(f"/quizzes/{quiz_id}/people/{learners[0]}/remediation")
    check_accessibility(page, "remediation")
    page.locator("#attempts-amount").fill("1")
    page.locator("#attempts-reason").fill("Mất kết nối mạng trong lúc làm bài")
    page.locator("form[action$='/remediation/extra_attempts'] button[type=submit]").click()
    expect(page.locator(".flash--success")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Mất kết nối mạng trong lúc làm bài")
    check_accessibility(page, "remediation after a grant")
    screenshot(page, "quiz-author-remediation-vi", server.db_kind)

    # -- the bank and the statistics fit a phone
    page.set_viewport_size({"width": 375, "height": 812})
    for url, name in ((f"/author/courses/{course_id}/questions", "bank"),
                      (f"/author/quizzes/{quiz_id}/statistics", "statistics"),
                      (f"/author/quizzes/{quiz_id}/attempts", "attempts")):
        page.goto(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the {name} page is {width}px wide on a 375px screen"
        check_accessibility(page, f"{name} at 375×812")
        screenshot(page, f"quiz-author-{name}-mobile-vi", server.db_kind)
