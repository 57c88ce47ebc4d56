"""The attempt engine: start/resume, autosave, deadlines on a controlled clock, submit once,
limits, remediation, regrading and course completion."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from lms.courses.services import enrolment_for
from lms.errors import DomainError
from lms.org.models import Role
from lms.quizzes import attempts as engine
from lms.quizzes import bank, remediation
from lms.quizzes.models import Attempt, AttemptAnswer, GrantKind, Question, QuizGrant
from lms.quizzes.spec import Choice, QuestionSpec, QuestionType

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def right_answers(attempt) -> dict[int, int]:
    """Display positions of the right choice (the fixture's first choice, "Đúng …")."""
    return {a.position: a.display.index(0) for a in attempt.answers}


def wrong_answers(attempt) -> dict[int, int]:
    return {a.position: a.display.index(1) for a in attempt.answers}


@pytest.fixture()
def setup(factory, dbs):
    course = factory.course(lessons=1)
    learner = factory.person()
    quiz = factory.quiz(course, questions=6, draw=4, pass_mark=75, attempts_allowed=2,
                        time_limit_minutes=10)
    return course, learner, quiz


def test_start_draws_from_the_bank_and_resume_returns_the_same_attempt(dbs, setup):
    course, learner, quiz = setup
    attempt = engine.start_attempt(dbs, quiz, learner, now=T0, rng=random.Random(1))
    assert len(attempt.answers) == 4
    assert len({a.question_id for a in attempt.answers}) == 4
    assert attempt.deadline_at == T0 + timedelta(minutes=10)
    again = engine.start_attempt(dbs, quiz, learner, now=T0 + timedelta(minutes=3))
    assert again.id == attempt.id
    assert [a.question_id for a in again.answers] == [a.question_id for a in attempt.answers]
    assert [a.display for a in again.answers] == [a.display for a in attempt.answers]


def test_saved_answers_are_graded_at_submission_and_passing_completes_the_course(dbs, setup, factory):
    course, learner, quiz = setup
    from lms.courses.models import Lesson
    from lms.courses.services import complete_lesson
    lesson = dbs.scalar(select(Lesson).where(Lesson.course_id == course.id))
    complete_lesson(dbs, learner, lesson)
    assert not enrolment_for(dbs, learner.id, course.id).is_completed  # the quiz is required
    attempt = engine.start_attempt(dbs, quiz, learner, now=T0)
    engine.save_answers(dbs, attempt, right_answers(attempt), now=T0 + timedelta(minutes=1))
    assert attempt.score is None
    assert engine.submit_attempt(dbs, attempt, now=T0 + timedelta(minutes=2))
    assert (attempt.score, attempt.max_score, attempt.percent, attempt.passed) == (4, 4, 100, True)
    assert enrolment_for(dbs, learner.id, course.id).is_completed


def test_submitting_twice_grades_once(dbs, setup):
    _course, learner, quiz = setup
    attempt = engine.start_attempt(dbs, quiz, learner, now=T0)
    engine.save_answers(dbs, attempt, wrong_answers(attempt), now=T0)
    assert engine.submit_attempt(dbs, attempt, now=T0 + timedelta(minutes=1)) is True
    submitted_at = attempt.submitted_at
    assert engine.submit_attempt(dbs, attempt, now=T0 + timedelta(minutes=2)) is False
    assert attempt.submitted_at == submitted_at


def test_a_save_committed_while_the_submit_waited_is_graded(dbs, setup):
    """The submit view loads the answers, then its UPDATE may wait for a save holding the
    attempt's lock (PostgreSQL). That save was acknowledged, so the grade must include it."""
    _course, learner, quiz = setup
    attempt = engine.start_attempt(dbs, quiz, learner, now=T0)
    first = attempt.answers[0]
    assert first.response is None  # loaded, as the view does, before submitting
    # what the other transaction committed meanwhile
    dbs.execute(update(AttemptAnswer).where(AttemptAnswer.id == first.id)
                .values(response=0, response_key="0", answered_at=T0, saved_at=T0)
                .execution_options(synchronize_session=False))
    assert engine.submit_attempt(dbs, attempt, now=T0 + timedelta(minutes=1))
    assert (first.response, first.score, attempt.score) == (0, 1, 1)


def test_answers_after_submission_or_the_deadline_are_refused(dbs, setup):
    _course, learner, quiz = setup
    attempt = engine.start_attempt(dbs, quiz, learner, now=T0)
    first = attempt.answers[0]
    # within the grace after the deadline: taken
    engine.save_answers(dbs, attempt, {first.position: 0},
                        now=T0 + timedelta(minutes=10) + engine.GRACE - timedelta(seconds=1))
    assert first.response is not None
    with pytest.raises(engine.AttemptClosed):
        engine.save_answers(dbs, attempt, {first.position: 1},
                            now=T0 + timedelta(minutes=10) + engine.GRACE + timedelta(seconds=1))
    assert first.response == first.display[0]


def test_time_up_grades_what_was_saved(dbs, setup):
    _course, learner, quiz = setup
    attempt = engine.start_attempt(dbs, quiz, learner, now=T0)
    answers = right_answers(attempt)
    engine.save_answers(dbs, attempt, dict(list(answers.items())[:3]), now=T0 + timedelta(minutes=5))
    later = T0 + timedelta(minutes=30)
    assert engine.close_expired_attempts(dbs, now=later) == 1
    dbs.refresh(attempt)
    assert attempt.auto_submitted and attempt.submitted_at == attempt.deadline_at
    assert (attempt.score, attempt.percent, attempt.passed) == (3, 75, True)
    assert engine.close_expired_attempts(dbs, now=later) == 0


def test_expired_open_attempt_is_closed_when_the_learner_comes_back(dbs, setup):
    _course, learner, quiz = setup
    first = engine.start_attempt(dbs, quiz, learner, now=T0)
    second = engine.start_attempt(dbs, quiz, learner, now=T0 + timedelta(hours=1))
    assert second.id != first.id and second.number == 2
    dbs.refresh(first)
    assert not first.is_open and first.auto_submitted


def test_attempt_limit_and_remediation_keep_history(dbs, setup, factory):
    _course, learner, quiz = setup
    for n in range(2):
        attempt = engine.start_attempt(dbs, quiz, learner, now=T0 + timedelta(hours=n))
        engine.submit_attempt(dbs, attempt, now=T0 + timedelta(hours=n, minutes=1))
    state = engine.quiz_state(dbs, quiz, learner.id)
    assert state.out_of_attempts and state.remaining == 0
    with pytest.raises(DomainError):
        engine.start_attempt(dbs, quiz, learner, now=T0 + timedelta(hours=3))

    head = factory.unit_head(learner.unit)  # the learner sits in the root unit
    other = factory.person()
    with pytest.raises(DomainError):
        remediation.grant(dbs, quiz, learner, GrantKind.EXTRA_ATTEMPTS.value, "Thử thêm", other, 1)
    with pytest.raises(DomainError):
        remediation.grant(dbs, quiz, learner, GrantKind.EXTRA_ATTEMPTS.value, "", head, 1)
    remediation.grant(dbs, quiz, learner, GrantKind.EXTRA_ATTEMPTS.value, "Ốm trong kỳ thi", head, 1)
    third = engine.start_attempt(dbs, quiz, learner, now=T0 + timedelta(hours=4))
    assert third.number == 3
    engine.submit_attempt(dbs, third, now=T0 + timedelta(hours=4, minutes=1))
    assert engine.quiz_state(dbs, quiz, learner.id).out_of_attempts

    remediation.grant(dbs, quiz, learner, GrantKind.RESET.value, "Học lại toàn bộ khóa", head)
    state = engine.quiz_state(dbs, quiz, learner.id)
    assert (state.used, state.remaining, len(state.attempts)) == (0, 2, 3)  # history kept
    assert dbs.scalar(select(func.count(QuizGrant.id))) == 2


def test_a_person_may_not_remediate_themselves(dbs, setup, factory):
    _course, learner, quiz = setup
    head = factory.unit_head(factory.unit())
    with pytest.raises(DomainError):
        remediation.grant(dbs, quiz, head, GrantKind.RESET.value, "Tự cho mình làm lại", head)
    for role in (Role.TRAINER.value, Role.ADMIN.value):
        staff = factory.person(roles=((role, None),))
        with pytest.raises(DomainError):
            remediation.grant(dbs, quiz, staff, GrantKind.EXTRA_ATTEMPTS.value, "Tự cấp thêm lượt",
                              staff, amount=1)


def test_time_extension_moves_the_deadline(dbs, setup, factory):
    _course, learner, quiz = setup
    trainer = factory.person(roles=(("trainer", None),))
    remediation.grant(dbs, quiz, learner, GrantKind.EXTRA_TIME.value, "Khiếm thị, cần thêm giờ",
                      trainer, 15)
    attempt = engine.start_attempt(dbs, quiz, learner, now=T0)
    assert attempt.deadline_at == T0 + timedelta(minutes=25)


def test_highest_or_last_attempt_counts(dbs, setup):
    course, learner, quiz = setup
    first = engine.start_attempt(dbs, quiz, learner, now=T0)
    engine.save_answers(dbs, first, right_answers(first), now=T0)
    engine.submit_attempt(dbs, first, now=T0)
    second = engine.start_attempt(dbs, quiz, learner, now=T0 + timedelta(hours=1))
    engine.submit_attempt(dbs, second, now=T0 + timedelta(hours=1))
    assert engine.quiz_state(dbs, quiz, learner.id).counted.id == first.id
    assert engine.required_quizzes_passed(dbs, learner.id, course.id) == [True]
    quiz.grading = "last"
    dbs.flush()
    assert engine.quiz_state(dbs, quiz, learner.id).counted.id == second.id
    assert engine.required_quizzes_passed(dbs, learner.id, course.id) == [False]


def test_editing_a_question_never_changes_past_scores_until_a_regrade(dbs, factory):
    course = factory.course(lessons=1)
    learner = factory.person()
    quiz = factory.quiz(course, questions=2, pass_mark=100)
    attempt = engine.start_attempt(dbs, quiz, learner, now=T0)
    # the learner picks "Sai 1" on q1: wrong under the first key
    q1 = next(a for a in attempt.answers if a.question.name == "q1")
    engine.save_answers(dbs, attempt, {q1.position: q1.display.index(1)}, now=T0)
    engine.submit_attempt(dbs, attempt, now=T0)
    assert q1.score == 0 and attempt.passed is False

    question = dbs.get(Question, q1.question_id)
    fixed = QuestionSpec(type=QuestionType.SINGLE, name="q1", category="Chung", stem="Câu hỏi 1?",
                         choices=(Choice("Đúng 1", 0.0), Choice("Sai 1", 1.0), Choice("Sai nữa 1", 0.0)))
    bank.save_question(dbs, course, fixed, question=question)
    assert question.current_version == 2
    dbs.refresh(q1)
    assert q1.score == 0  # past attempt untouched by the edit

    report = engine.regrade_quiz(dbs, quiz)
    assert report.answers_changed == 1 and report.attempts_changed == 1
    assert q1.score == 1
    # the other question (unanswered) still scores 0: not passed yet, but the score moved
    assert attempt.score == 1


def test_unchanged_edit_adds_no_version(dbs, factory):
    course = factory.course(lessons=1)
    factory.quiz(course, questions=1)
    question = dbs.scalar(select(Question).where(Question.course_id == course.id))
    spec = bank.spec_of(bank.current_version(dbs, question))
    bank.save_question(dbs, course, spec, question=question)
    assert question.current_version == 1


def test_not_enough_questions_to_draw_is_a_clear_message(dbs, factory):
    course = factory.course(lessons=1)
    learner = factory.person()
    quiz = factory.quiz(course, questions=3, draw=3)
    quiz.slots[0].draw_count = 5
    dbs.flush()
    assert bank.quiz_problems(dbs, quiz)
    with pytest.raises(DomainError):
        engine.start_attempt(dbs, quiz, learner, now=T0)
    assert dbs.scalar(select(func.count(Attempt.id))) == 0


def test_fast_answers_count_from_the_previous_answer_on_a_one_page_quiz(dbs, setup):
    """Every question of a one-page quiz is shown at load; the time a learner gave a question
    is the time since the answer before it."""
    _course, learner, quiz = setup
    attempt = engine.start_attempt(dbs, quiz, learner, now=T0)
    engine.mark_shown(dbs, attempt, [a.position for a in attempt.answers], now=T0)
    first, second, third, fourth = sorted(attempt.answers, key=lambda a: a.position)
    for answer, seconds in ((first, 40), (second, 42), (third, 90), (fourth, 91)):
        engine.save_answers(dbs, attempt, {answer.position: 0}, now=T0 + timedelta(seconds=seconds))
    assert engine.fast_answer_ids(attempt.answers) == {second.id, fourth.id}
