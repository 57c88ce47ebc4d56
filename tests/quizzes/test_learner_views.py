"""A learner takes a quiz through the pages: the quiz page, the attempt (with and without
JavaScript's background saves), the summary, submitting once, the result, who else may look,
and that no page of an open attempt gives the key away."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lms.courses import authoring
from lms.courses.models import Lesson
from lms.courses.services import complete_lesson, enrolment_for
from lms.db import utcnow
from lms.quizzes import attempts as engine
from lms.quizzes import bank
from lms.quizzes.models import Attempt
from lms.quizzes.spec import Choice, MatchPair, NumericAnswer, QuestionSpec, QuestionType
from tests.conftest import login

FEEDBACK = "PHẢN-HỒI"  # every feedback text of the quiz below contains it


def every_type_quiz(dbs, course, **settings):
    """One question of each of the seven types, fixed in this order."""
    specs = [
        QuestionSpec(type=QuestionType.SINGLE, name="single", stem="Thủ đô của Việt Nam là?",
                     general_feedback=f"{FEEDBACK} chung 1",
                     choices=(Choice("Hà Nội", 1.0, f"{FEEDBACK} Hà Nội"),
                              Choice("Huế", 0.0, f"{FEEDBACK} Huế"),
                              Choice("Đà Nẵng", 0.0, f"{FEEDBACK} Đà Nẵng"))),
        QuestionSpec(type=QuestionType.MULTIPLE, name="multiple", stem="Yếu tố “điều bạn có”?",
                     choices=(Choice("Điện thoại", 0.5, f"{FEEDBACK} điện thoại"),
                              Choice("Khoá bảo mật", 0.5),
                              Choice("Mật khẩu", -1.0, f"{FEEDBACK} mật khẩu"))),
        QuestionSpec(type=QuestionType.TRUE_FALSE, name="truefalse", stem="Mật khẩu 6 ký tự là đủ.",
                     correct=False, feedback_true=f"{FEEDBACK} tf-đúng", feedback_false=f"{FEEDBACK} tf-sai"),
        QuestionSpec(type=QuestionType.SHORT_ANSWER, name="short", stem="Viết tắt của xác thực hai lớp?",
                     choices=(Choice("Tê-Ép-A-Hai", 1.0, f"{FEEDBACK} viết tắt"),),
                     accent_insensitive=True),
        QuestionSpec(type=QuestionType.NUMERIC, name="numeric", stem="Số ký tự tối thiểu?",
                     numeric=(NumericAnswer(4096.5, 0.25, 1.0, f"{FEEDBACK} số"),)),
        QuestionSpec(type=QuestionType.MATCHING, name="matching", stem="Ghép đôi.",
                     pairs=(MatchPair("Cờ", "Màu-Đỏ"), MatchPair("Trời", "Màu-Xanh"),
                            MatchPair("Tuyết", "Màu-Trắng"), MatchPair("", "Màu-Tím"))),
        QuestionSpec(type=QuestionType.ORDERING, name="ordering", stem="Sắp xếp các bước.",
                     order=("Bước-Một", "Bước-Hai", "Bước-Ba", "Bước-Bốn", "Bước-Năm")),
    ]
    questions = [bank.save_question(dbs, course, spec) for spec in specs]
    settings.setdefault("title", "Kiểm tra mọi dạng câu hỏi")
    settings.setdefault("shuffle_questions", False)
    quiz = bank.save_quiz(dbs, course, bank.QuizData(**settings))
    for question in questions:
        bank.add_slot(dbs, quiz, question=question)
    return quiz


def right_form(attempt) -> dict:
    """The form fields a learner who knows every answer posts (display positions)."""
    data: dict = {"shown": [str(a.position) for a in attempt.answers]}
    for a in attempt.answers:
        kind, name, display = a.version.spec["type"], f"q{a.position}", a.display
        if kind == "single":
            data[name] = str(display.index(0))
        elif kind == "multiple":
            data[name] = [str(display.index(0)), str(display.index(1))]
        elif kind == "truefalse":
            data[name] = "false"
        elif kind == "shortanswer":
            data[name] = "te-ep-a-hai"
        elif kind == "numeric":
            data[name] = "4096,6"
        elif kind == "matching":
            rights = ["Màu-Đỏ", "Màu-Xanh", "Màu-Trắng"]
            for index, right in enumerate(rights):
                data[f"{name}-{index}"] = str(display.index(right))
        elif kind == "ordering":
            for shown, item in enumerate(display):
                data[f"{name}-{shown}"] = str(item + 1)  # the rank of the item shown there
        else:
            data[name] = str(display.index(0))
    return data


def first_choice_positions(attempt) -> dict[int, int]:
    """Display positions of the right choice in the factory's quizzes ("Đúng …")."""
    return {a.position: a.display.index(0) for a in attempt.answers}


@pytest.fixture()
def course(factory):
    return factory.course(lessons=1)


@pytest.fixture()
def learner(factory):
    return factory.person(email="hocvien@mofa.example")


def start(client, quiz) -> int:
    response = client.form(f"/quizzes/{quiz.id}/start")
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.search(r"/attempts/(\d+)$", response.location)
    assert match, response.location
    return int(match.group(1))


# ---------------------------------------------------------------- the journey without JavaScript

def test_learner_starts_answers_page_by_page_reloads_and_submits(client, factory, dbs, course, learner):
    quiz = factory.quiz(course, questions=3, pass_mark=60, attempts_allowed=2, time_limit_minutes=20)
    login(client, learner.email)
    page = client.get(f"/quizzes/{quiz.id}").get_data(as_text=True)
    assert "Bài kiểm tra" in page and "60%" in page and f'action="/quizzes/{quiz.id}/start"' in page
    attempt_id = start(client, quiz)
    assert start(client, quiz) == attempt_id  # starting again resumes
    attempt = dbs.get(Attempt, attempt_id)
    right = first_choice_positions(attempt)

    html = client.get(f"/attempts/{attempt_id}").get_data(as_text=True)
    assert "Câu hỏi" in html and 'name="q1"' in html and 'name="q2"' not in html  # one per page
    assert 'data-seconds-left="' in html and 'id="quiz-timer"' in html

    response = client.form(f"/attempts/{attempt_id}/save",
                           {"shown": "1", "q1": str(right[1]), "page": "1", "go": "next"})
    assert response.location.endswith(f"/attempts/{attempt_id}?page=2")
    reloaded = client.get(f"/attempts/{attempt_id}?page=1").get_data(as_text=True)
    assert re.search(rf'name="q1" value="{right[1]}"\s+checked', reloaded)
    nav = re.search(r'<nav class="question-nav".*?</nav>', reloaded, re.S).group(0)
    assert nav.count("qnav--answered") == 2  # question 1 (and the key of the legend)

    client.form(f"/attempts/{attempt_id}/save", {"shown": "2", "q2": str(right[2]), "page": "2", "go": "3"})
    response = client.form(f"/attempts/{attempt_id}/save",
                           {"shown": "3", "q3": str((right[3] + 1) % 3), "page": "3", "go": "summary"})
    assert response.location.endswith(f"/attempts/{attempt_id}/summary")
    summary = client.get(response.location).get_data(as_text=True)
    assert f'action="/attempts/{attempt_id}/submit"' in summary
    assert summary.count("badge--update") == 3  # all three answered

    response = client.form(f"/attempts/{attempt_id}/submit")
    assert response.location.endswith(f"/attempts/{attempt_id}/result")
    result = client.get(response.location).get_data(as_text=True)
    assert "66.67%" in result or "66,67%" in result
    assert "badge--new" in result  # passed
    assert client.get(f"/attempts/{attempt_id}").location.endswith(f"/attempts/{attempt_id}/result")
    dbs.refresh(attempt)
    assert (attempt.score, attempt.passed, attempt.auto_submitted) == (2, True, False)
    quiz_page = client.get(f"/quizzes/{quiz.id}").get_data(as_text=True)
    assert f"/attempts/{attempt_id}/result" in quiz_page
    assert f'action="/quizzes/{quiz.id}/start"' in quiz_page  # one attempt left


def test_every_question_type_round_trips_through_the_form_and_grades_right(client, dbs, course, learner):
    quiz = every_type_quiz(dbs, course, layout="one_page", pass_mark=100)
    login(client, learner.email)
    attempt_id = start(client, quiz)
    attempt = dbs.get(Attempt, attempt_id)
    data = right_form(attempt)
    response = client.form(f"/attempts/{attempt_id}/save", {**data, "go": "save"})
    assert response.location.endswith(f"/attempts/{attempt_id}")
    page = client.get(f"/attempts/{attempt_id}").get_data(as_text=True)
    assert 'value="te-ep-a-hai"' in page and 'value="4096,6"' in page
    assert 'value="false" checked' in page
    # the ordering question now lists the items in the learner's (right) order
    assert [page.index(item) for item in ("Bước-Một", "Bước-Hai", "Bước-Ba", "Bước-Bốn", "Bước-Năm")] \
        == sorted(page.index(item) for item in ("Bước-Một", "Bước-Hai", "Bước-Ba", "Bước-Bốn", "Bước-Năm"))
    client.form(f"/attempts/{attempt_id}/submit")
    dbs.refresh(attempt)
    assert [a.state for a in attempt.answers] == ["correct"] * 7
    assert attempt.percent == 100 and attempt.passed
    result = client.get(f"/attempts/{attempt_id}/result").get_data(as_text=True)
    assert f"{FEEDBACK} Hà Nội" in result and "Bước-Một → Bước-Hai" in result  # full feedback now


def test_unticking_every_box_clears_a_multiple_choice_answer(client, dbs, course, learner):
    quiz = every_type_quiz(dbs, course, layout="one_page")
    login(client, learner.email)
    attempt_id = start(client, quiz)
    client.form(f"/attempts/{attempt_id}/save", {"shown": "2", "q2": ["0", "1"]})
    attempt = dbs.get(Attempt, attempt_id)
    assert attempt.answers[1].response is not None
    client.form(f"/attempts/{attempt_id}/save", {"shown": "2"})  # nothing ticked
    dbs.refresh(attempt.answers[1])
    assert attempt.answers[1].response is None


def test_an_untouched_ordering_question_stays_unanswered(client, dbs, course, learner):
    quiz = every_type_quiz(dbs, course, layout="one_page")
    login(client, learner.email)
    attempt_id = start(client, quiz)
    ranks = {f"q7-{shown}": str(shown + 1) for shown in range(5)}  # what the page preselects
    client.form(f"/attempts/{attempt_id}/save", {"shown": "7", **ranks})
    attempt = dbs.get(Attempt, attempt_id)
    assert attempt.answers[6].response is None


# ---------------------------------------------------------------- the background saves of quiz.js

def test_json_answers_are_saved_and_refused_after_submission(client, factory, dbs, course, learner):
    quiz = factory.quiz(course, questions=2, layout="one_page")
    login(client, learner.email)
    attempt_id = start(client, quiz)
    attempt = dbs.get(Attempt, attempt_id)
    right = first_choice_positions(attempt)
    headers = {"X-CSRFToken": client.csrf_token}
    url = f"/attempts/{attempt_id}/answer"
    response = client.post(url, json={"position": 1, "value": str(right[1])}, headers=headers)
    assert response.status_code == 200 and response.json["saved"] is True and response.json["saved_at"]
    page = client.get(f"/attempts/{attempt_id}").get_data(as_text=True)
    assert re.search(rf'name="q1" value="{right[1]}"\s+checked', page)
    assert client.post(url, json={"position": 1, "value": "0"}).status_code == 400  # no CSRF token
    assert client.post(url, json={"position": 99, "value": "0"}, headers=headers).status_code == 400
    assert client.post(url, data="not json", headers=headers).status_code == 400

    client.form(f"/attempts/{attempt_id}/submit")
    response = client.post(url, json={"position": 2, "value": str(right[2])}, headers=headers)
    assert response.status_code == 409 and response.json["error"]
    assert response.json["result_url"].endswith(f"/attempts/{attempt_id}/result")
    dbs.refresh(attempt)
    assert attempt.score == 1  # the late answer was not taken


def test_focus_and_paste_signals_are_recorded(client, factory, dbs, course, learner):
    quiz = factory.quiz(course, questions=2)
    login(client, learner.email)
    attempt_id = start(client, quiz)
    headers = {"X-CSRFToken": client.csrf_token}
    url = f"/attempts/{attempt_id}/signal"
    for body in ({"kind": "blur"}, {"kind": "blur", "position": 1}, {"kind": "paste", "position": 2}):
        assert client.post(url, json=body, headers=headers).json == {"recorded": True}
    assert client.post(url, json={"kind": "x"}, headers=headers).status_code == 400
    attempt = dbs.get(Attempt, attempt_id)
    dbs.refresh(attempt)
    assert (attempt.focus_lost_count, attempt.paste_count) == (2, 1)
    assert attempt.answers[1].pasted_at is not None


# ---------------------------------------------------------------- submitting, time, completion

def test_submitting_twice_grades_once(client, factory, dbs, course, learner, monkeypatch):
    quiz = factory.quiz(course, questions=2)
    login(client, learner.email)
    attempt_id = start(client, quiz)
    graded = []
    original = engine.grade_attempt
    monkeypatch.setattr(engine, "grade_attempt", lambda s, a: (graded.append(a.id), original(s, a)))
    first = client.form(f"/attempts/{attempt_id}/submit")
    attempt = dbs.get(Attempt, attempt_id)
    submitted_at = attempt.submitted_at
    second = client.form(f"/attempts/{attempt_id}/submit")
    assert first.location == second.location and second.location.endswith("/result")
    assert graded == [attempt_id]
    dbs.refresh(attempt)
    assert attempt.submitted_at == submitted_at
    assert dbs.scalar(select(func.count(Attempt.id)).where(Attempt.quiz_id == quiz.id)) == 1


def test_an_attempt_whose_time_ran_out_is_graded_when_opened_and_refuses_answers(
        client, factory, dbs, course, learner):
    quiz = factory.quiz(course, questions=2, time_limit_minutes=5, layout="one_page")
    login(client, learner.email)
    attempt_id = start(client, quiz)
    attempt = dbs.get(Attempt, attempt_id)
    right = first_choice_positions(attempt)
    client.form(f"/attempts/{attempt_id}/save", {"shown": "1", "q1": str(right[1])})
    attempt.deadline_at = utcnow() - timedelta(minutes=1)
    dbs.flush()
    response = client.form(f"/attempts/{attempt_id}/save", {"shown": "2", "q2": str(right[2])})
    assert response.location.endswith(f"/attempts/{attempt_id}/result")
    assert "flash--error" in client.get(response.location).get_data(as_text=True)
    dbs.refresh(attempt)
    assert not attempt.is_open and attempt.auto_submitted and attempt.score == 1


def test_the_countdown_form_submits_as_time_up(client, factory, dbs, course, learner):
    quiz = factory.quiz(course, questions=1, time_limit_minutes=5)
    login(client, learner.email)
    attempt_id = start(client, quiz)
    attempt = dbs.get(Attempt, attempt_id)
    attempt.deadline_at = utcnow() + timedelta(seconds=2)
    dbs.flush()
    client.form(f"/attempts/{attempt_id}/submit", {"time_up": "1"})
    dbs.refresh(attempt)
    assert not attempt.is_open and attempt.auto_submitted


def test_passing_the_required_quiz_completes_the_course(client, factory, dbs, course, learner):
    quiz = factory.quiz(course, questions=2, pass_mark=100)
    lesson = dbs.scalar(select(Lesson).where(Lesson.course_id == course.id))
    complete_lesson(dbs, learner, lesson)
    assert not enrolment_for(dbs, learner.id, course.id).is_completed
    login(client, learner.email)
    course_page = client.get(f"/courses/{course.slug}").get_data(as_text=True)
    assert f'href="/quizzes/{quiz.id}"' in course_page
    attempt_id = start(client, quiz)
    attempt = dbs.get(Attempt, attempt_id)
    right = first_choice_positions(attempt)
    client.form(f"/attempts/{attempt_id}/save",
                {"shown": ["1", "2"], "q1": str(right[1]), "q2": str(right[2])})
    # a failing first try would not complete; this one passes
    response = client.form(f"/attempts/{attempt_id}/submit")
    result = client.get(response.location).get_data(as_text=True)
    assert "notice--ok" in result  # "Course completed"
    assert "flash--success" in result
    assert enrolment_for(dbs, learner.id, course.id).is_completed
    course_page = client.get(f"/courses/{course.slug}").get_data(as_text=True)
    assert "lesson-list__done" in course_page.split('id="quizzes-title"')[1]


# ---------------------------------------------------------------- who may see what

def test_nobody_else_may_touch_an_attempt_and_only_heads_above_may_read_the_result(
        client, factory, dbs, course):
    department = factory.unit()
    division = factory.unit(parent=department)
    learner = factory.person(unit=division, email="owner@mofa.example")
    head_above = factory.unit_head(department, email="head.above@mofa.example")
    head_elsewhere = factory.unit_head(factory.unit(), email="head.other@mofa.example")
    trainer = factory.person(roles=(("trainer", None),), email="trainer@mofa.example")
    colleague = factory.person(unit=division, email="colleague@mofa.example")
    quiz = factory.quiz(course, questions=1)
    login(client, learner.email)
    attempt_id = start(client, quiz)

    for intruder in (colleague, head_above, head_elsewhere, trainer):
        login(client, intruder.email)
        headers = {"X-CSRFToken": client.csrf_token}
        assert client.get(f"/attempts/{attempt_id}").status_code == 404
        assert client.get(f"/attempts/{attempt_id}/summary").status_code == 404
        assert client.form(f"/attempts/{attempt_id}/save", {"shown": "1", "q1": "0"}).status_code == 404
        assert client.form(f"/attempts/{attempt_id}/submit").status_code == 404
        assert client.post(f"/attempts/{attempt_id}/answer", json={"position": 1, "value": "0"},
                           headers=headers).status_code == 404
        assert client.post(f"/attempts/{attempt_id}/signal", json={"kind": "blur"},
                           headers=headers).status_code == 404
    attempt = dbs.get(Attempt, attempt_id)
    dbs.refresh(attempt)
    assert attempt.is_open and attempt.answers[0].response is None and attempt.focus_lost_count == 0

    login(client, learner.email)
    client.form(f"/attempts/{attempt_id}/submit")
    for viewer, status in ((colleague, 404), (head_elsewhere, 404), (head_above, 200), (trainer, 200)):
        login(client, viewer.email)
        assert client.get(f"/attempts/{attempt_id}/result").status_code == status, viewer.email


def test_a_quiz_of_an_unpublished_course_or_an_archived_quiz_does_not_exist_for_learners(
        client, factory, dbs, learner):
    draft = factory.course(publish=False)
    hidden = factory.quiz(draft, questions=1)
    live_course = factory.course()
    archived = factory.quiz(live_course, questions=1, title="Đã lưu trữ")
    bank.set_quiz_archived(dbs, archived, True)
    login(client, learner.email)
    for quiz in (hidden, archived):
        assert client.get(f"/quizzes/{quiz.id}").status_code == 404
        assert client.form(f"/quizzes/{quiz.id}/start").status_code == 404
    assert "Đã lưu trữ" not in client.get(f"/courses/{live_course.slug}").get_data(as_text=True)
    assert dbs.scalar(select(func.count(Attempt.id))) == 0


def test_archived_course_learner_can_read_the_quiz_but_not_start(client, factory, dbs, learner):
    course = factory.course()
    quiz = factory.quiz(course, questions=1)
    engine.start_attempt(dbs, quiz, learner)  # enrols
    engine.submit_attempt(dbs, engine.quiz_state(dbs, quiz, learner.id).open_attempt)
    authoring.set_course_status(dbs, None, course, "archived")
    login(client, learner.email)
    assert client.get(f"/quizzes/{quiz.id}").status_code == 200
    response = client.form(f"/quizzes/{quiz.id}/start")
    assert response.location.endswith(f"/quizzes/{quiz.id}")
    assert engine.quiz_state(dbs, quiz, learner.id).open_attempt is None


def test_out_of_attempts_page_says_who_can_help(client, factory, dbs, course):
    department = factory.unit()
    learner = factory.person(unit=department, email="hocvien@mofa.example")
    head = factory.unit_head(department, name="Trưởng Phòng Giúp", email="truong.phong@mofa.example")
    quiz = factory.quiz(course, questions=1, attempts_allowed=1)
    attempt = engine.start_attempt(dbs, quiz, learner)
    engine.submit_attempt(dbs, attempt)  # nothing answered: not passed
    login(client, learner.email)
    page = client.get(f"/quizzes/{quiz.id}").get_data(as_text=True)
    assert 'href="mailto:truong.phong@mofa.example"' in page and head.full_name in page
    assert f'action="/quizzes/{quiz.id}/start"' not in page
    response = client.form(f"/quizzes/{quiz.id}/start")
    assert response.location.endswith(f"/quizzes/{quiz.id}")
    assert "notice--error" in client.get(response.location).get_data(as_text=True)


# ---------------------------------------------------------------- the key never leaks

def test_an_open_attempt_page_never_contains_the_key(client, dbs, course, learner):
    quiz = every_type_quiz(dbs, course, layout="one_page")
    login(client, learner.email)
    attempt_id = start(client, quiz)
    attempt = dbs.get(Attempt, attempt_id)
    pages = [client.get(f"/attempts/{attempt_id}").get_data(as_text=True),
             client.get(f"/attempts/{attempt_id}/summary").get_data(as_text=True)]
    # ... and once more after answering, with the saved answers on the page
    client.form(f"/attempts/{attempt_id}/save", right_form(attempt))
    pages.append(client.get(f"/attempts/{attempt_id}").get_data(as_text=True))
    quiz.layout = "per_page"
    dbs.flush()
    pages += [client.get(f"/attempts/{attempt_id}?page={n}").get_data(as_text=True) for n in range(1, 8)]
    with client.get("/static/quiz.js") as response:
        script = response.get_data(as_text=True)

    for html in pages + [script]:
        assert FEEDBACK not in html
        assert not re.search(r"fraction|\bcorrect\b|\bright\b|data-right|data-answer=|tolerance",
                             html, re.I), re.search(r".{60}(fraction|correct|right).{60}", html, re.I)
        assert "Tê-Ép-A-Hai" not in html and "4096.5" not in html and "4096,5" not in html
        assert "Bước-Một → Bước-Hai" not in html and "Cờ → Màu-Đỏ" not in html

    first = pages[0]
    # choices, matching answers and ordering items appear in this learner's display order
    for answer in attempt.answers:
        kind = answer.version.spec["type"]
        section = re.search(rf'<section class="question" id="q{answer.position}".*?</section>', first, re.S)
        assert section, answer.position
        html = section.group(0)
        assert "data-kind" in html
        if kind == "ordering":
            items = answer.version.spec["order"]
            shown = sorted(items, key=html.index)
            assert shown == [items[i] for i in answer.display] and shown != items
        if kind == "matching":
            select_html = re.search(r"<select.*?</select>", html, re.S).group(0)
            assert sorted(answer.display, key=select_html.index) == answer.display
        if kind in ("single", "multiple"):
            values = re.findall(r'value="(\d+)"', html)
            assert values == [str(i) for i in range(len(answer.display))]


def test_review_follows_the_quiz_setting(client, dbs, course, learner):
    quiz = every_type_quiz(dbs, course, layout="one_page", review="answers")
    login(client, learner.email)
    attempt_id = start(client, quiz)
    client.form(f"/attempts/{attempt_id}/save", right_form(dbs.get(Attempt, attempt_id)))
    client.form(f"/attempts/{attempt_id}/submit")
    answers = client.get(f"/attempts/{attempt_id}/result").get_data(as_text=True)
    assert "badge--new" in answers and FEEDBACK not in answers and "Bước-Một → Bước-Hai" not in answers
    quiz.review = "score"
    dbs.flush()
    score = client.get(f"/attempts/{attempt_id}/result").get_data(as_text=True)
    assert "100%" in score and "Thủ đô của Việt Nam" not in score


def test_course_page_lists_quizzes_in_a_fixed_number_of_queries(client, factory, dbs, course, learner,
                                                                count_queries):
    factory.quiz(course, questions=2, title="Bài một", key="bai-mot")
    other = factory.course(lessons=1)
    factory.quiz(other, questions=3, draw=1, title="Bài 0", key="bai-0")
    for n in (1, 2):
        bank.add_slot(dbs, bank.save_quiz(dbs, other, bank.QuizData(title=f"Bài {n}", key=f"bai-{n}")),
                      category=bank.category_named(dbs, other, "Chung"), draw_count=2)
    login(client, learner.email)
    counts = []
    for c in (course, other):
        client.get(f"/courses/{c.slug}")
        with count_queries() as queries:
            html = client.get(f"/courses/{c.slug}").get_data(as_text=True)
        counts.append(len(queries))
        assert 'id="quizzes-title"' in html
    assert counts[0] == counts[1], counts


def test_attempt_summary_and_result_pages_run_a_fixed_number_of_queries(client, factory, dbs, learner,
                                                                        count_queries):
    small = factory.quiz(factory.course(lessons=1), questions=2, layout="one_page", time_limit_minutes=9)
    big = factory.quiz(factory.course(lessons=1), questions=9, layout="one_page", time_limit_minutes=9)
    login(client, learner.email)
    counts: dict[str, list[int]] = {}
    for quiz in (small, big):
        attempt_id = start(client, quiz)
        for name in ("", "/summary", "/result"):
            if name == "/result":
                client.form(f"/attempts/{attempt_id}/submit")
            url = f"/attempts/{attempt_id}{name}"
            client.get(url)
            with count_queries() as queries:
                assert client.get(url).status_code == 200
            counts.setdefault(name, []).append(len(queries))
    for values in counts.values():
        assert len(set(values)) == 1, counts


def test_malformed_answers_are_ignored_never_an_error(client, dbs, course, learner):
    quiz = every_type_quiz(dbs, course, layout="one_page")
    login(client, learner.email)
    attempt_id = start(client, quiz)
    garbage = {"shown": ["²", "1", "2", "6", "7", "99", "-1"], "q1": "²", "q2": ["x", "7", "²"],
               "q6-0": "²", "q6-9": "1", "q7-0": "x", "page": "²", "go": "²"}
    assert client.form(f"/attempts/{attempt_id}/save", garbage).status_code == 302
    headers = {"X-CSRFToken": client.csrf_token}
    for value in ("²", ["x"], {"0": "²", "x": 1}, [9, 9, 9], None, 3.5, {"a": [1]}, True, "yes"):
        for position in (1, 2, 3, 6, 7):
            body = {"position": position, "value": value}
            response = client.post(f"/attempts/{attempt_id}/answer", json=body, headers=headers)
            assert response.status_code == 200, (position, value)
    for body in ({"position": "1", "value": "0"}, {"position": True}, [], "x", {"kind": 1}):
        assert client.post(f"/attempts/{attempt_id}/answer", json=body, headers=headers).status_code == 400
        assert client.post(f"/attempts/{attempt_id}/signal", json=body, headers=headers).status_code == 400
    attempt = dbs.get(Attempt, attempt_id)
    dbs.refresh(attempt)
    assert [a.response for a in attempt.answers] == [None] * 7
