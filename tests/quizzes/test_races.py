"""Races on a database whose transactions really commit: parallel submits grade once,
parallel starts open one attempt and never exceed the limit, saves racing a submit are
either graded or refused (never lost silently)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from lms import create_app
from lms.audit.models import AuditEvent
from lms.cli import upgrade_database
from lms.courses import authoring
from lms.db import db
from lms.org import services
from lms.org.models import User
from lms.quizzes import attempts as engine
from lms.quizzes import bank
from lms.quizzes.models import Attempt, AttemptAnswer, Quiz
from lms.quizzes.spec import Choice, QuestionSpec, QuestionType
from tests.conftest import app_settings, fresh_database
from tests.races import in_transaction, race

WORKERS = 8


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    with fresh_database("quizrace") as url:
        app = create_app(app_settings(url, str(tmp_path_factory.mktemp("race"))))
        with app.app_context():
            upgrade_database()
            dbs = db.session
            root = services.create_unit(dbs, None, services.UnitData(
                code="BNG", name="Bộ Ngoại giao", kind="ministry"))
            course = authoring.create_course(dbs, None, authoring.CourseData(
                slug="dua-tranh", title="Khoá học đua tranh", topic="security"))
            module = authoring.add_module(dbs, None, course, "Chương 1")
            authoring.add_lesson(dbs, None, module, authoring.LessonData(title="Bài 1", body="Nội dung."))
            authoring.set_course_status(dbs, None, course, "published")
            for i in range(5):
                bank.save_question(dbs, course, QuestionSpec(
                    type=QuestionType.SINGLE, name=f"q{i}", category="Chung", stem=f"Câu {i}?",
                    choices=(Choice("Đúng", 1.0), Choice("Sai", 0.0))))
            for limit in (0, 1):
                quiz = bank.save_quiz(dbs, course, bank.QuizData(
                    title=f"Giới hạn {limit}", key=f"gioi-han-{limit}", attempts_allowed=limit))
                bank.add_slot(dbs, quiz, category=bank.category_named(dbs, course, "Chung"),
                              draw_count=5)
            for n in range(WORKERS):
                services.create_person(dbs, None, services.PersonData(
                    employee_code=f"R{n}", full_name=f"Người Đua {n}", email=f"r{n}@mofa.example",
                    unit_id=root.id), audit=False)
            dbs.commit()
        yield app
        with app.app_context():
            db.engine.dispose()


def person(dbs, n: int) -> User:
    return dbs.scalar(select(User).where(User.employee_code == f"R{n}"))


def quiz_with_limit(dbs, limit: int) -> Quiz:
    return dbs.scalar(select(Quiz).where(Quiz.key == f"gioi-han-{limit}"))


def test_parallel_starts_open_one_attempt(committed):
    results = race(committed, [lambda s: engine.start_attempt(s, quiz_with_limit(s, 0), person(s, 0)).id
                               for _ in range(WORKERS)])
    assert len(set(results)) == 1
    with committed.app_context():
        assert db.session.scalar(select(func.count(Attempt.id)).where(
            Attempt.user_id == person(db.session, 0).id)) == 1


def test_parallel_starts_cannot_bypass_the_attempt_limit(committed):
    def start_and_submit(s):
        attempt = engine.start_attempt(s, quiz_with_limit(s, 1), person(s, 1))
        engine.submit_attempt(s, attempt)
        return attempt.number

    results = race(committed, [start_and_submit] * WORKERS)
    assert [r for r in results if not isinstance(r, Exception)] == [1]
    with committed.app_context():
        assert db.session.scalar(select(func.count(Attempt.id)).where(
            Attempt.user_id == person(db.session, 1).id)) == 1


def test_parallel_submits_grade_once(committed):
    def start(s):
        attempt = engine.start_attempt(s, quiz_with_limit(s, 0), person(s, 2))
        engine.save_answers(s, attempt, {a.position: a.display.index(0) for a in attempt.answers})
        return attempt.id

    attempt_id = in_transaction(committed, start)
    before = in_transaction(committed, lambda s: s.scalar(select(func.count(AuditEvent.id))))
    results = race(committed, [lambda s: engine.submit_attempt(s, s.get(Attempt, attempt_id))] * WORKERS)
    assert results.count(True) == 1 and results.count(False) == WORKERS - 1
    with committed.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        assert (attempt.status, attempt.score, attempt.passed) == ("submitted", 5, True)
        assert db.session.scalar(select(func.count(AuditEvent.id))) == before


def test_saves_racing_a_submit_are_graded_or_refused(committed):
    """Every save either lands before grading (and counts) or is refused with a message."""
    def start(s):
        return engine.start_attempt(s, quiz_with_limit(s, 0), person(s, 3)).id

    attempt_id = in_transaction(committed, start)

    def save(position):
        def work(s):
            attempt = s.get(Attempt, attempt_id)
            answer = next(a for a in attempt.answers if a.position == position)
            engine.save_answers(s, attempt, {position: answer.display.index(0)})
            return "saved"
        return work

    def submit(s):
        # As the view does: the answers are loaded before the UPDATE waits for the saves.
        attempt = s.scalar(select(Attempt).where(Attempt.id == attempt_id).options(
            selectinload(Attempt.answers).selectinload(AttemptAnswer.version)))
        return engine.submit_attempt(s, attempt) and "submitted"

    works = [save(p) for p in range(1, 6)] + [submit]
    results = race(committed, works)
    saved = [p for p, r in zip(range(1, 6), results[:5], strict=True) if r == "saved"]
    refused = [r for r in results if isinstance(r, engine.AttemptClosed)]
    assert len(saved) + len(refused) == 5 and "submitted" in results
    with committed.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        graded = {a.position: a.score for a in db.session.scalars(
            select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt_id))}
        assert attempt.score == len(saved)
        assert all(graded[p] == 1 for p in saved)
