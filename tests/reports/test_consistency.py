"""The reports read two denormalised columns of enrolments; they must always say what the
certificates and the quiz attempts say:

- ``certified_at`` = when the enrolment's newest live (not superseded), unrevoked
  certificate was issued, through issue, reissue, revoke and recertification;
- ``quiz_score`` = the mean, over the course's live quizzes the person has taken, of each
  quiz's counted attempt (the highest or the last, as the quiz grades), through submits
  and regrades.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from lms.certificates import recertification, services
from lms.certificates.models import Certificate
from lms.courses import services as learning
from lms.courses.models import Enrolment
from lms.courses.queries import course_outline
from lms.db import utcnow
from lms.quizzes import attempts as engine
from lms.quizzes import bank
from lms.quizzes.models import Question, Quiz
from lms.quizzes.spec import Choice, QuestionSpec, QuestionType
from tests.certificates.support import complete

T0 = datetime(2026, 5, 4, 2, 0, tzinfo=timezone.utc)


def enrolment_of(dbs, person, course) -> Enrolment:
    dbs.expire_all()
    return learning.enrolment_for(dbs, person.id, course.id)


# ---------------------------------------------------------------- certified_at

def newest_live_issue(dbs, enrolment: Enrolment) -> datetime | None:
    """The rule, read from the certificates themselves."""
    return dbs.scalar(select(func.max(Certificate.issued_at)).where(
        Certificate.enrolment_id == enrolment.id, Certificate.revoked_at.is_(None),
        Certificate.superseded_by_id.is_(None)))


def test_certified_at_follows_issue_reissue_and_revoke(dbs, factory):
    admin = factory.admin()
    learner = factory.person("Nguyễn Thị Hồng Nhung")
    course = factory.course(lessons=1)
    complete(dbs, learner, course)
    [first] = dbs.scalars(select(Certificate).where(Certificate.user_id == learner.id)).all()
    enrolment = enrolment_of(dbs, learner, course)
    assert enrolment.certified_at == first.issued_at == newest_live_issue(dbs, enrolment)

    second = services.reissue(dbs, first, admin, full_name="Nguyễn Thị Hồng Nhung (sửa)",
                              now=first.issued_at + timedelta(days=2))
    enrolment = enrolment_of(dbs, learner, course)
    assert enrolment.certified_at == second.issued_at == newest_live_issue(dbs, enrolment)
    assert enrolment.certified_at != first.issued_at

    services.revoke(dbs, second, "Cấp nhầm người", admin)
    enrolment = enrolment_of(dbs, learner, course)
    assert enrolment.certified_at is None and newest_live_issue(dbs, enrolment) is None


def test_certified_at_falls_back_to_the_earlier_certificate_when_the_renewal_is_revoked(dbs, factory):
    admin = factory.admin()
    learner = factory.person("Đặng Quốc Việt")
    course = factory.course(lessons=1, validity_months=12)
    [lesson] = course_outline(dbs, course, None).lessons
    learning.complete_lesson(dbs, learner, lesson)
    [first] = dbs.scalars(select(Certificate).where(Certificate.user_id == learner.id)).all()
    first.issued_at = utcnow() - timedelta(days=370)
    first.expires_at = utcnow() - timedelta(days=5)
    services.mark_certified(dbs, first.enrolment_id)   # as it was when issued a year ago
    dbs.flush()

    recertification.renew(dbs, first, learner)
    learning.complete_lesson(dbs, learner, lesson)
    renewed = dbs.scalars(select(Certificate).where(Certificate.user_id == learner.id)
                          .order_by(Certificate.id)).all()[-1]
    assert renewed.id != first.id
    enrolment = enrolment_of(dbs, learner, course)
    assert enrolment.certified_at == renewed.issued_at == newest_live_issue(dbs, enrolment)

    services.revoke(dbs, renewed, "Sai kết quả", admin)
    enrolment = enrolment_of(dbs, learner, course)
    assert enrolment.certified_at == first.issued_at == newest_live_issue(dbs, enrolment)


def test_a_course_without_certificates_leaves_certified_at_empty(dbs, factory):
    learner = factory.person()
    course = factory.course(lessons=1, certificate_enabled=False)
    complete(dbs, learner, course)
    assert enrolment_of(dbs, learner, course).certified_at is None


# ---------------------------------------------------------------- quiz_score

def answer(dbs, quiz, person, right: int, at: datetime):
    """One submitted attempt with the first ``right`` questions answered right (the factory's
    right choice is the first, "Đúng …") and the others wrong."""
    attempt = engine.start_attempt(dbs, quiz, person, now=at)
    ordered = sorted(attempt.answers, key=lambda a: a.position)
    engine.save_answers(dbs, attempt, {a.position: a.display.index(0 if n < right else 1)
                                       for n, a in enumerate(ordered)}, now=at)
    assert engine.submit_attempt(dbs, attempt, now=at + timedelta(minutes=1))
    return attempt


def another_quiz(dbs, course, **settings) -> Quiz:
    """A second quiz of a course whose bank the factory filled (it draws the same questions)."""
    quiz = bank.save_quiz(dbs, course, bank.QuizData(**settings))
    bank.add_slot(dbs, quiz, category=bank.category_named(dbs, course, "Chung"), draw_count=4)
    return quiz


def counted_average(dbs, person, course) -> float | None:
    """The rule, read from the attempt engine: each live quiz's counted attempt, averaged."""
    quizzes = dbs.scalars(select(Quiz).where(Quiz.course_id == course.id,
                                             Quiz.is_archived.is_(False))).all()
    counted = [state.counted.percent for quiz in quizzes
               if (state := engine.quiz_state(dbs, quiz, person.id)).counted is not None]
    return round(sum(counted) / len(counted), 2) if counted else None


def test_quiz_score_averages_each_quizs_counted_attempt(dbs, factory):
    learner = factory.person()
    course = factory.course(lessons=1)
    highest = factory.quiz(course, questions=4, pass_mark=100, title="Kiểm tra giữa khoá",
                           key="giua-khoa")
    last = another_quiz(dbs, course, pass_mark=100, title="Kiểm tra cuối khoá", key="cuoi-khoa",
                        grading="last")
    steps = [
        (highest, 2, 50.0),            # only the first quiz taken: its 50 %
        (highest, 4, 100.0),           # the highest counts
        (highest, 1, 100.0),           # a worse try changes nothing
        (last, 4, 100.0),              # (100 + 100) / 2
        (last, 1, 62.5),               # the last counts: (100 + 25) / 2
    ]
    for n, (quiz, right, expected) in enumerate(steps):
        answer(dbs, quiz, learner, right, T0 + timedelta(hours=n))
        score = enrolment_of(dbs, learner, course).quiz_score
        assert score == expected == counted_average(dbs, learner, course), (n, score)


def test_quiz_score_follows_a_regrade(dbs, factory):
    learner, other = factory.person(), factory.person()
    course = factory.course(lessons=1)
    quiz = factory.quiz(course, questions=2, pass_mark=100, shuffle_questions=False)
    attempt = engine.start_attempt(dbs, quiz, learner, now=T0)
    q1 = next(a for a in attempt.answers if a.question.name == "q1")
    q2 = next(a for a in attempt.answers if a.question.name == "q2")
    engine.save_answers(dbs, attempt, {q1.position: q1.display.index(1),       # "Sai 1"
                                       q2.position: q2.display.index(0)}, now=T0)
    engine.submit_attempt(dbs, attempt, now=T0)
    answer(dbs, quiz, other, 2, T0)
    assert enrolment_of(dbs, learner, course).quiz_score == 50.0
    assert enrolment_of(dbs, other, course).quiz_score == 100.0

    # The key of q1 was wrong: "Sai 1" is the right answer after all.
    question = dbs.get(Question, q1.question_id)
    bank.save_question(dbs, course, QuestionSpec(
        type=QuestionType.SINGLE, name="q1", category="Chung", stem="Câu hỏi 1?",
        choices=(Choice("Đúng 1", 0.0), Choice("Sai 1", 1.0), Choice("Sai nữa 1", 0.0))),
        question=question)
    assert enrolment_of(dbs, learner, course).quiz_score == 50.0   # not until the regrade
    engine.regrade_quiz(dbs, quiz)

    assert enrolment_of(dbs, learner, course).quiz_score == 100.0 == counted_average(
        dbs, learner, course)
    assert enrolment_of(dbs, other, course).quiz_score == 50.0 == counted_average(
        dbs, other, course)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(gradings=st.tuples(st.sampled_from(("highest", "last")), st.sampled_from(("highest", "last"))),
       tries=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 4)), min_size=1, max_size=6))
def test_quiz_score_is_always_the_average_of_the_counted_attempts(dbs, factory, gradings, tries):
    """Any sequence of attempts at two quizzes (graded by the highest or the last attempt):
    after each submit, the column equals the average worked out from the percentages."""
    savepoint = dbs.begin_nested()
    try:
        learner = factory.person()
        course = factory.course(lessons=1, slug=f"tinh-diem-{factory._next()}")
        quizzes = [factory.quiz(course, questions=4, pass_mark=100, grading=gradings[0],
                                title="Bài kiểm tra 1", key="kiem-tra-1"),
                   another_quiz(dbs, course, pass_mark=100, grading=gradings[1],
                                title="Bài kiểm tra 2", key="kiem-tra-2")]
        percents: dict[int, list[float]] = {0: [], 1: []}
        for n, (which, right) in enumerate(tries):
            answer(dbs, quizzes[which], learner, right, T0 + timedelta(hours=n))
            percents[which].append(25.0 * right)
            kept = [max(p) if gradings[q] == "highest" else p[-1]
                    for q, p in percents.items() if p]
            expected = round(sum(kept) / len(kept), 2)
            assert enrolment_of(dbs, learner, course).quiz_score == expected
            assert counted_average(dbs, learner, course) == expected
    finally:
        savepoint.rollback()



def test_quiz_score_follows_a_change_of_grading(dbs, factory):
    learner = factory.person()
    course = factory.course(lessons=1)
    quiz = factory.quiz(course, questions=4, pass_mark=100)
    answer(dbs, quiz, learner, 4, T0)
    answer(dbs, quiz, learner, 1, T0 + timedelta(hours=1))
    assert enrolment_of(dbs, learner, course).quiz_score == 100.0
    bank.save_quiz(dbs, course, bank.QuizData(title=quiz.title, key=quiz.key, pass_mark=100,
                                              grading="last"), quiz=quiz)
    assert counted_average(dbs, learner, course) == 25.0
    assert enrolment_of(dbs, learner, course).quiz_score == 25.0


def test_quiz_score_leaves_out_an_archived_quiz(dbs, factory):
    learner = factory.person()
    course = factory.course(lessons=1)
    first = factory.quiz(course, questions=4, pass_mark=100, key="quiz-a")
    second = another_quiz(dbs, course, title="Bài B", key="quiz-b", pass_mark=100)
    answer(dbs, first, learner, 4, T0)
    answer(dbs, second, learner, 0, T0)
    assert enrolment_of(dbs, learner, course).quiz_score == 50.0
    bank.set_quiz_archived(dbs, second, True)
    assert counted_average(dbs, learner, course) == 100.0
    assert enrolment_of(dbs, learner, course).quiz_score == 100.0     # today: still 50.0
