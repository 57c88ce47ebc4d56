"""Item statistics: facility, discrimination and the choice distribution, computed by the
database in a fixed number of queries, checked against a hand computation.

Attempts are built through the services (start, save answers, submit) with known answers:
the quiz shows its fixed questions in order with unshuffled choices, so a learner's
display position of a choice is its index.
"""
from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

import pytest
from flask_babel import gettext
from sqlalchemy import select

from lms.quizzes import attempts as engine
from lms.quizzes import bank
from lms.quizzes.models import Question
from lms.quizzes.spec import Choice, QuestionSpec, QuestionType
from lms.quizzes.statistics import item_statistics
from tests.conftest import login

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)

# Each learner's answers: q1..q3 are single choice (0 = the right choice, 1 = wrong);
# q4 is multiple choice with two right choices worth 50% each and a wrong one at -100%.
ANSWERS = [
    (0, 0, 0, ["0", "1"]),   # 1 + 1 + 1 + 1.0
    (0, 0, 1, ["0"]),        # 1 + 1 + 0 + 0.5
    (0, 1, 1, ["0", "2"]),   # 1 + 0 + 0 + max(0, 0.5 - 1)
    (1, 0, 1, None),         # 0 + 1 + 0 + no answer
    (1, 1, 1, ["2"]),        # 0 + 0 + 0 + 0
]
FRACTIONS = [  # the score of each item per learner, by hand
    [1, 1, 1, 1.0],
    [1, 1, 0, 0.5],
    [1, 0, 0, 0.0],
    [0, 1, 0, 0.0],
    [0, 0, 0, 0.0],
]


def pearson(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    vx = sum((x - mx) ** 2 for x in xs)
    vy = sum((y - my) ** 2 for y in ys)
    return cov / math.sqrt(vx * vy)


def expected(item: int) -> tuple[float, float]:
    """Facility (mean share) and discrimination (item against the rest of the test)."""
    xs = [row[item] for row in FRACTIONS]
    rest = [sum(row) - row[item] for row in FRACTIONS]
    return sum(xs) / len(xs), pearson(xs, rest)


def build_quiz(dbs, course):
    for i in range(3):
        bank.save_question(dbs, course, QuestionSpec(
            type=QuestionType.SINGLE, name=f"q{i + 1}", category="Chung", stem=f"Câu {i + 1}?",
            choices=(Choice(f"Đúng {i + 1}", 1.0), Choice(f"Sai {i + 1}", 0.0))))
    bank.save_question(dbs, course, QuestionSpec(
        type=QuestionType.MULTIPLE, name="q4", category="Chung",
        stem="Những thói quen nào an toàn?",
        choices=(Choice("Khoá màn hình", 0.5), Choice("Xác thực hai lớp", 0.5),
                 Choice("Dán mật khẩu lên màn hình", -1.0))))
    quiz = bank.save_quiz(dbs, course, bank.QuizData(
        title="Thống kê", shuffle_questions=False, shuffle_choices=False, pass_mark=50))
    for name in ("q1", "q2", "q3", "q4"):
        bank.add_slot(dbs, quiz, question=dbs.scalar(select(Question).where(
            Question.course_id == course.id, Question.name == name)))
    return quiz


def answer(dbs, quiz, person, answers, at: datetime) -> None:
    attempt = engine.start_attempt(dbs, quiz, person, now=at, rng=random.Random(3))
    raw = {position: str(choice) for position, choice in enumerate(answers[:3], start=1)}
    if answers[3] is not None:
        raw[4] = answers[3]
    engine.save_answers(dbs, attempt, raw, now=at + timedelta(seconds=20))
    assert engine.submit_attempt(dbs, attempt, now=at + timedelta(minutes=2))


@pytest.fixture()
def quiz(dbs, factory):
    return build_quiz(dbs, factory.course(lessons=1))


def test_facility_and_discrimination_match_the_hand_computation(dbs, factory, quiz):
    for n, answers in enumerate(ANSWERS):
        answer(dbs, quiz, factory.person(), answers, T0 + timedelta(minutes=n))
    # an attempt still open is not counted
    engine.start_attempt(dbs, quiz, factory.person(), now=T0)

    attempts, items = item_statistics(dbs, quiz.id)

    assert attempts == 5
    by_name = {item.name: item for item in items}
    assert set(by_name) == {"q1", "q2", "q3", "q4"}
    for index, name in enumerate(("q1", "q2", "q3", "q4")):
        facility, discrimination = expected(index)
        assert by_name[name].responses == 5
        assert by_name[name].facility == pytest.approx(facility), name
        assert by_name[name].discrimination == pytest.approx(discrimination), name
    # q1 worked out on paper: x = 1 1 1 0 0 (mean .6), rest = 3 1.5 0 1 0 (mean 1.1);
    # Σ(x-x̄)(r-r̄) = 1.2, Σ(x-x̄)² = 1.2, Σ(r-r̄)² = 6.2
    assert by_name["q1"].facility == pytest.approx(0.6)
    assert by_name["q1"].discrimination == pytest.approx(1.2 / math.sqrt(1.2 * 6.2))
    assert round(by_name["q1"].discrimination, 2) == 0.44
    assert by_name["q4"].facility == pytest.approx((1 + 0.5) / 5)
    # hardest first
    assert [item.name for item in items][0] == "q3"
    assert not any(item.needs_review for item in items)  # too few responses to judge


def test_the_choice_distribution_counts_each_pick(dbs, factory, quiz):
    for n, answers in enumerate(ANSWERS):
        answer(dbs, quiz, factory.person(), answers, T0 + timedelta(minutes=n))

    _attempts, items = item_statistics(dbs, quiz.id)
    by_name = {item.name: item for item in items}

    assert [(c.label, c.count, c.right) for c in by_name["q1"].choices] == [
        ("Đúng 1", 3, True), ("Sai 1", 2, False)]
    assert [(c.label, c.count, c.right) for c in by_name["q4"].choices] == [
        ("Khoá màn hình", 3, True), ("Xác thực hai lớp", 1, True),
        ("Dán mật khẩu lên màn hình", 2, False), (gettext("(no answer)"), 1, False)]


def test_an_item_everyone_gets_right_has_no_discrimination(dbs, factory, quiz):
    for n in range(3):
        answer(dbs, quiz, factory.person(), (0, n % 2, 1, ["0"]), T0 + timedelta(minutes=n))
    _attempts, items = item_statistics(dbs, quiz.id)
    q1 = next(item for item in items if item.name == "q1")
    assert q1.facility == 1 and q1.discrimination is None


def test_a_quiz_without_attempts_has_no_statistics(dbs, quiz):
    assert item_statistics(dbs, quiz.id) == (0, [])


def test_questions_that_need_review_are_pointed_out(dbs, factory, quiz):
    # 10 learners: everyone gets q1 right (facility 100%: too easy); q2 is right only for
    # the weakest learners (negative discrimination).
    for n in range(10):
        strong = n < 5
        answer(dbs, quiz, factory.person(),
               (0, 1 if strong else 0, 0 if strong else 1, ["0", "1"] if strong else None),
               T0 + timedelta(minutes=n))
    _attempts, items = item_statistics(dbs, quiz.id)
    by_name = {item.name: item for item in items}
    assert by_name["q1"].needs_review and by_name["q2"].needs_review
    assert by_name["q2"].discrimination < 0
    assert not by_name["q3"].needs_review


def attempts_for(dbs, factory, quiz, n: int) -> None:
    for i in range(n):
        answer(dbs, quiz, factory.person(), ANSWERS[i % len(ANSWERS)], T0 + timedelta(minutes=i))


def test_statistics_run_a_fixed_number_of_queries_for_5_or_50_attempts(
        app, dbs, factory, count_queries, client):
    trainer = factory.person(email="thongke@mofa.example", roles=(("trainer", None),))
    small, large = build_quiz(dbs, factory.course(lessons=1)), build_quiz(
        dbs, factory.course(lessons=1))
    attempts_for(dbs, factory, small, 5)
    attempts_for(dbs, factory, large, 50)
    ids = small.id, large.id
    dbs.expire_all()
    login(client, trainer.email)

    counts = []
    for quiz_id in ids:
        with count_queries() as service:
            item_statistics(dbs, quiz_id)
        with count_queries() as page:
            response = client.get(f"/author/quizzes/{quiz_id}/statistics")
        assert response.status_code == 200
        counts.append((len(service), len(page)))

    assert counts[0] == counts[1]
    assert counts[0][0] <= 4
    large_page = response.get_data(as_text=True)
    assert "50" in large_page and "Khoá màn hình" in large_page
