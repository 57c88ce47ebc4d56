"""Help requests in the browser: a learner presses "Ask for help" on a lesson or on their
quiz result, their mentor is notified and answers in the thread, the learner marks it
solved. Nobody else reads or writes in the thread, by URL guessing either.

The UI is Vietnamese and not translated yet: the tests read ids, data-* attributes, names
and the database, never English words.
"""
from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from lms.courses import authoring
from lms.db import utcnow
from lms.mentoring import help as helping
from lms.mentoring.models import HelpMessage, HelpRequest
from lms.notify.models import Notification
from lms.quizzes import attempts as engine
from tests.conftest import login

TWO_DAYS = helping.Escalation(working_days=2)
QUESTION = "Em không ký số được văn bản, USB token báo lỗi."


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def thread_id(response) -> int:
    match = re.search(r"/help/(\d+)$", response.location or "")
    assert match, response.location
    return int(match.group(1))


def count(dbs, model, *where) -> int:
    return dbs.scalar(select(func.count()).select_from(model).where(*where))


def notices(dbs, user, kind: str) -> list[Notification]:
    return list(dbs.scalars(select(Notification).where(Notification.user_id == user.id,
                                                       Notification.kind == kind)))


def row_ids(page: str, table_id: str) -> list[int]:
    match = re.search(rf'<table[^>]*id="{table_id}"[^>]*>(.*?)</table>', page, re.S)
    assert match, f"no table {table_id}"
    return [int(n) for n in re.findall(r'data-request-id="(\d+)"', match.group(1))]


@pytest.fixture()
def team(factory):
    """A division with a mentor and her mentee, a second mentor of the same unit who is not
    the mentee's, another colleague, and a published course."""
    unit = factory.unit("Phòng Tin học", code="TH")
    mentor = factory.mentor(unit, name="Đặng Quốc Việt", email="mentor@mofa.example")
    other_mentor = factory.mentor(unit, name="Vũ Thị Lan", email="lan@mofa.example")
    learner = factory.person("Nguyễn Thị Hồng Nhung", unit=unit, email="nhung@mofa.example")
    colleague = factory.person("Bùi Thanh Sơn", unit=unit, email="son@mofa.example")
    factory.pair(mentor, learner)
    course = factory.course("Chữ ký số trong văn bản điện tử", lessons=2)
    return {"unit": unit, "mentor": mentor, "other_mentor": other_mentor, "learner": learner,
            "colleague": colleague, "course": course,
            "lesson": course.modules[0].lessons[0]}


def ask(dbs, team, body: str = QUESTION, **place):
    place = place or {"lesson": team["lesson"]}
    return helping.ask_for_help(dbs, team["learner"], body, TWO_DAYS, **place)


def submitted_attempt(dbs, quiz, person):
    attempt = engine.start_attempt(dbs, quiz, person)
    engine.save_answers(dbs, attempt, {a.position: a.display.index(1) for a in attempt.answers})
    engine.submit_attempt(dbs, attempt)
    return attempt


# ---------------------------------------------------------------- the journey

def test_learner_asks_on_a_lesson_mentor_is_notified_and_both_read_the_thread(
        client, make_client, dbs, team):
    course, lesson, learner, mentor = team["course"], team["lesson"], team["learner"], team["mentor"]
    login(client, learner.email)
    page = text(client.get(f"/courses/{course.slug}/lessons/{lesson.key}"))
    assert f'id="ask-for-help" href="/help/ask?lesson_id={lesson.id}"' in page

    form = text(client.get(f"/help/ask?lesson_id={lesson.id}"))
    assert f'data-lesson-id="{lesson.id}"' in form
    assert f'data-mentor-id="{mentor.id}"' in form
    assert lesson.title in form and course.title in form

    response = client.form(f"/help/ask?lesson_id={lesson.id}", {"body": QUESTION})
    assert response.status_code == 302
    request_id = thread_id(response)
    asked = dbs.get(HelpRequest, request_id)
    assert (asked.learner_id, asked.mentor_id, asked.lesson_id) == (learner.id, mentor.id, lesson.id)
    assert [n.params["request_id"] for n in notices(dbs, mentor, "help_request")] == [request_id]

    mine = text(client.get(f"/help/{request_id}"))
    assert QUESTION in mine
    assert f'href="/courses/{course.slug}/lessons/{lesson.key}"' in mine   # back to the place
    assert 'id="solve-form"' in mine and 'id="reply-form"' in mine
    assert row_ids(text(client.get("/help")), "my-requests") == [request_id]

    helper = make_client()
    login(helper, mentor.email)
    theirs = text(helper.get(f"/help/{request_id}"))
    assert QUESTION in theirs and learner.full_name in theirs
    assert 'id="reply-form"' in theirs and 'id="solve-form"' not in theirs
    assert f'href="/learning/people/{learner.id}"' in theirs
    assert row_ids(text(helper.get("/help")), "open-to-me") == [request_id]


def test_a_mentor_reply_reaches_the_learner_and_stops_the_wait(client, dbs, team, look):
    request = ask(dbs, team)
    login(client, team["mentor"].email)
    response = client.form(f"/help/{request.id}/reply",
                           {"body": "Chị rút USB token ra, cắm lại\nrồi ký lại nhé."})
    assert response.status_code == 302 and response.location.endswith(f"/help/{request.id}#latest")
    fresh = look().get(HelpRequest, request.id)
    assert fresh.waiting_since is None and len(fresh.messages) == 2
    assert [n.params["request_id"] for n in notices(dbs, team["learner"], "help_reply")] == [request.id]
    page = text(client.get(f"/help/{request.id}"))
    assert 'data-status="answered"' in page
    assert "Chị rút USB token ra, cắm lại<br>rồi ký lại nhé." in page


def test_after_the_learner_marks_it_solved_no_more_replies_are_taken(
        client, make_client, dbs, team, look):
    request = ask(dbs, team)
    helping.reply(dbs, team["mentor"], request, "Thử cắm lại token.", TWO_DAYS)
    login(client, team["learner"].email)
    assert client.form(f"/help/{request.id}/solve").status_code == 302
    assert look().get(HelpRequest, request.id).status == "solved"
    assert [n.params["request_id"] for n in notices(dbs, team["mentor"], "help_solved")] == [request.id]
    page = text(client.get(f"/help/{request.id}"))
    assert 'data-status="solved"' in page and 'id="reply-form"' not in page

    mentor = make_client()
    login(mentor, team["mentor"].email)
    for who in (mentor, client):
        response = who.form(f"/help/{request.id}/reply", {"body": "Còn một ý nữa."})
        assert response.status_code == 302
    assert count(dbs, HelpMessage, HelpMessage.request_id == request.id) == 2
    assert mentor.form(f"/help/{request.id}/solve").status_code == 403   # only the learner


# ---------------------------------------------------------------- nobody else

def test_a_mentor_who_is_not_theirs_gets_404_on_the_thread_reply_and_solve(
        client, dbs, team, factory):
    request = ask(dbs, team)
    elsewhere = factory.mentor(factory.unit("Cục Lãnh sự"), name="Mentor Khác")
    for outsider in (team["other_mentor"], elsewhere):
        login(client, outsider.email)
        assert client.get(f"/help/{request.id}").status_code == 404
        assert client.form(f"/help/{request.id}/reply", {"body": "Xem hộ"}).status_code == 404
        assert client.form(f"/help/{request.id}/solve").status_code == 404
        assert f'data-request-id="{request.id}"' not in text(client.get("/help"))
    assert count(dbs, HelpMessage, HelpMessage.request_id == request.id) == 1
    assert dbs.get(HelpRequest, request.id).status == "open"


def test_another_learner_gets_404_whatever_the_id(client, dbs, team):
    request = ask(dbs, team)
    login(client, team["colleague"].email)
    for request_id in (request.id, request.id + 1000):
        assert client.get(f"/help/{request_id}").status_code == 404
        assert client.form(f"/help/{request_id}/reply", {"body": "?"}).status_code == 404
        assert client.form(f"/help/{request_id}/solve").status_code == 404
    assert 'id="my-requests"' not in text(client.get("/help"))


def test_an_admin_reads_the_thread_but_does_not_write_in_it(client, dbs, team, factory):
    request = ask(dbs, team)
    admin = factory.admin(name="Trần Minh Quân")
    login(client, admin.email)
    page = text(client.get(f"/help/{request.id}"))
    assert QUESTION in page and 'id="read-only"' in page and 'id="reply-form"' not in page
    assert client.form(f"/help/{request.id}/reply", {"body": "Admin"}).status_code == 403
    assert client.form(f"/help/{request.id}/solve").status_code == 403
    assert count(dbs, HelpMessage, HelpMessage.request_id == request.id) == 1


def test_pages_need_a_sign_in(client, dbs, team):
    request = ask(dbs, team)
    for url in ("/help", "/help/ask", f"/help/{request.id}"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.location


# ---------------------------------------------------------------- quiz results

def test_asking_about_a_quiz_result_is_only_for_ones_own_attempt(
        client, make_client, dbs, factory, team):
    quiz = factory.quiz(team["course"], questions=2, attempts_allowed=0, title="Kiểm tra chữ ký số")
    attempt = submitted_attempt(dbs, quiz, team["learner"])
    others = submitted_attempt(dbs, quiz, team["colleague"])
    login(client, team["learner"].email)
    result = text(client.get(f"/attempts/{attempt.id}/result"))
    assert f'id="ask-for-help" href="/help/ask?attempt_id={attempt.id}"' in result

    for url in (f"/help/ask?attempt_id={others.id}", "/help/ask?attempt_id=999999"):
        assert client.get(url).status_code == 404
        assert client.form(url, {"body": "Sao em sai câu 2?"}).status_code == 404
    assert count(dbs, HelpRequest) == 0

    page = text(client.get(f"/help/ask?attempt_id={attempt.id}"))
    assert f'data-attempt-id="{attempt.id}"' in page
    response = client.form(f"/help/ask?attempt_id={attempt.id}", {"body": "Sao em sai câu 2?"})
    request = dbs.get(HelpRequest, thread_id(response))
    assert request.attempt_id == attempt.id and "Kiểm tra chữ ký số" in request.place

    # The mentor opens the thread and follows its link to the mentee's result.
    mentor = make_client()
    login(mentor, team["mentor"].email)
    thread = text(mentor.get(f"/help/{request.id}"))
    assert f'href="/attempts/{attempt.id}/result" id="place-link"' in thread
    theirs = text(mentor.get(f"/attempts/{attempt.id}/result"))
    assert 'id="ask-for-help"' not in theirs                     # only on one's own result


def test_an_attempt_still_in_progress_cannot_be_asked_about(client, dbs, factory, team):
    quiz = factory.quiz(team["course"], questions=2, attempts_allowed=0)
    attempt = engine.start_attempt(dbs, quiz, team["learner"])
    login(client, team["learner"].email)
    assert client.get(f"/help/ask?attempt_id={attempt.id}").status_code == 404


# ---------------------------------------------------------------- the place must exist

def test_a_lesson_outside_a_published_course_is_404(client, dbs, factory, team):
    draft = factory.course("Bản nháp", lessons=1, publish=False)
    archived_lesson = team["course"].modules[0].lessons[1]
    authoring.set_lesson_archived(dbs, None, archived_lesson, True)
    login(client, team["learner"].email)
    for query in (f"lesson_id={draft.modules[0].lessons[0].id}", f"lesson_id={archived_lesson.id}",
                  "lesson_id=999999", "lesson_id=abc", "attempt_id=",
                  f"lesson_id={team['lesson'].id}&attempt_id=1"):
        assert client.get(f"/help/ask?{query}").status_code == 404, query
        assert client.form(f"/help/ask?{query}", {"body": QUESTION}).status_code == 404, query
    assert count(dbs, HelpRequest) == 0


def test_the_ask_button_shows_only_in_a_published_course_the_learner_is_in(
        client, dbs, factory, team):
    author = factory.admin(name="Lê Thu Hương")
    draft = factory.course("Bản nháp", lessons=1, publish=False)
    login(client, author.email)
    page = text(client.get(f"/courses/{draft.slug}/lessons/{draft.modules[0].lessons[0].key}"))
    assert page and 'id="ask-for-help"' not in page


def test_a_general_question_needs_no_place(client, dbs, team):
    login(client, team["learner"].email)
    assert client.get("/help/ask").status_code == 200
    response = client.form("/help/ask", {"body": "Làm sao đổi mật khẩu hộp thư công vụ?"})
    request = dbs.get(HelpRequest, thread_id(response))
    assert (request.lesson_id, request.attempt_id, request.place) == (None, None, "")


# ---------------------------------------------------------------- what a learner can get wrong

def test_an_empty_question_is_refused_and_nothing_is_sent(client, dbs, team):
    login(client, team["learner"].email)
    response = client.form(f"/help/ask?lesson_id={team['lesson'].id}", {"body": "   "})
    assert response.status_code == 200 and 'id="body-error"' in text(response)
    too_long = client.form(f"/help/ask?lesson_id={team['lesson'].id}",
                           {"body": "x" * (helping.MAX_MESSAGE_CHARS + 1)})
    assert too_long.status_code == 200 and 'id="body-error"' in text(too_long)
    assert count(dbs, HelpRequest) == 0 and count(dbs, Notification) == 0


def test_an_empty_reply_shows_the_thread_again_with_the_error(client, dbs, team):
    request = ask(dbs, team)
    login(client, team["mentor"].email)
    response = client.form(f"/help/{request.id}/reply", {"body": ""})
    assert response.status_code == 200
    page = text(response)
    assert 'id="body-error"' in page and QUESTION in page
    assert count(dbs, HelpMessage, HelpMessage.request_id == request.id) == 1


def test_a_double_click_sends_one_question(client, dbs, team):
    login(client, team["learner"].email)
    url = f"/help/ask?lesson_id={team['lesson'].id}"
    first = thread_id(client.form(url, {"body": QUESTION}))
    second = thread_id(client.form(url, {"body": QUESTION}))
    assert first == second and count(dbs, HelpRequest) == 1


def test_with_nobody_to_answer_the_learner_is_told_and_nothing_is_sent(client, dbs, factory, team):
    lonely = factory.person("Hồ Văn Một", unit=factory.unit("Đơn vị chưa có người hỗ trợ"))
    login(client, lonely.email)
    url = f"/help/ask?lesson_id={team['lesson'].id}"
    page = text(client.get(url))
    assert 'id="nobody-answers"' in page and 'name="body"' not in page
    response = client.form(url, {"body": QUESTION})
    assert response.status_code == 200 and 'id="nobody-answers"' in text(response)
    assert count(dbs, HelpRequest) == 0
    assert 'data-nobody="true"' in text(client.get("/help"))


def test_messages_are_escaped_and_keep_their_line_breaks(client, dbs, team):
    request = ask(dbs, team, body='<script>alert("x")</script>\nDòng hai\n\nĐoạn hai')
    login(client, team["learner"].email)
    raw = client.get(f"/help/{request.id}").get_data(as_text=True)
    assert "<script>alert" not in raw
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;<br>Dòng hai</p>" in raw
    assert "<p>Đoạn hai</p>" in raw


# ---------------------------------------------------------------- without a mentor, escalation

def test_without_a_mentor_the_units_mentors_receive_and_answer_it(client, dbs, factory, team):
    newcomer = factory.person("Lý Thị Mới", unit=team["unit"], email="moi@mofa.example")
    login(client, newcomer.email)
    page = text(client.get("/help"))
    assert f'data-unit-mentors="{team["mentor"].id},{team["other_mentor"].id}"' in page \
        or f'data-unit-mentors="{team["other_mentor"].id},{team["mentor"].id}"' in page
    request_id = thread_id(client.form(f"/help/ask?lesson_id={team['lesson'].id}",
                                       {"body": "Cổng dịch vụ công báo lỗi."}))
    for mentor in (team["mentor"], team["other_mentor"]):
        assert [n.params["request_id"] for n in notices(dbs, mentor, "help_request")] == [request_id]
        login(client, mentor.email)
        assert client.get(f"/help/{request_id}").status_code == 200
        assert request_id in row_ids(text(client.get("/help")), "open-to-me")
    assert client.form(f"/help/{request_id}/reply", {"body": "Em thử lại sau 5 phút."}).status_code == 302


def test_an_escalated_question_reaches_the_other_mentor_with_a_note(client, dbs, team):
    request = ask(dbs, team)
    login(client, team["other_mentor"].email)
    assert client.get(f"/help/{request.id}").status_code == 404
    assert helping.escalate_due(dbs, utcnow() + timedelta(days=10)) == 1
    page = text(client.get(f"/help/{request.id}"))
    assert 'id="escalated-note"' in page and team["other_mentor"].full_name in page
    assert 'data-escalated="true"' in text(client.get("/help"))
    assert client.form(f"/help/{request.id}/reply", {"body": "Chị xem giúp em."}).status_code == 302


# ---------------------------------------------------------------- lists

def test_my_questions_and_the_ones_for_me_keep_a_fixed_number_of_queries(
        client, dbs, factory, team, count_queries):
    """The mentor is a learner too: their own questions and their mentee's are on one page."""
    mentor = team["mentor"]
    boss = factory.mentor(team["unit"], name="Trưởng nhóm hỗ trợ")
    factory.pair(boss, mentor)
    login(client, mentor.email)
    counts = {}
    for n in (2, 6):
        while count(dbs, HelpRequest, HelpRequest.learner_id == mentor.id) < n:
            k = count(dbs, HelpRequest)
            helping.ask_for_help(dbs, mentor, f"Câu hỏi {k}", TWO_DAYS, lesson=team["lesson"])
            helping.ask_for_help(dbs, team["learner"], f"Câu hỏi {k}", TWO_DAYS,
                                 lesson=team["lesson"])
        solved = ask(dbs, team, body=f"Đã xong {n}")
        helping.mark_solved(dbs, team["learner"], solved)
        client.get("/help")
        with count_queries() as queries:
            page = text(client.get("/help"))
        assert len(row_ids(page, "my-requests")) == n
        assert len(row_ids(page, "open-to-me")) == n
        counts[n] = len(queries)
    assert counts[2] == counts[6], counts


def test_my_questions_show_open_ones_first_with_their_state(client, dbs, team):
    first = ask(dbs, team, body="Câu một")
    second = ask(dbs, team, body="Câu hai")
    third = ask(dbs, team, body="Câu ba")
    helping.reply(dbs, team["mentor"], second, "Trả lời", TWO_DAYS)
    helping.mark_solved(dbs, team["learner"], first)
    login(client, team["learner"].email)
    page = text(client.get("/help"))
    ids = row_ids(page, "my-requests")
    assert ids[-1] == first.id and set(ids[:2]) == {second.id, third.id}
    statuses = dict(re.findall(r'data-request-id="(\d+)".*?data-status="(\w+)"', page, re.S))
    assert statuses == {str(first.id): "solved", str(second.id): "answered",
                        str(third.id): "waiting"}
    assert f'data-mentor-id="{team["mentor"].id}"' in page


def test_reading_the_thread_reads_its_notifications_only(client, dbs, team, look):
    first = ask(dbs, team, body="Câu một")
    second = ask(dbs, team, body="Câu hai")
    helping.reply(dbs, team["learner"], first, "Em bổ sung thêm ạ.", TWO_DAYS)
    login(client, team["mentor"].email)
    assert client.get(f"/help/{first.id}").status_code == 200
    states = [(n.params["request_id"], n.kind, n.read_at is not None)
              for n in look().scalars(select(Notification).where(
                  Notification.user_id == team["mentor"].id).order_by(Notification.id))]
    assert states == [(first.id, "help_request", True), (second.id, "help_request", False),
                      (first.id, "help_reply", True)]
