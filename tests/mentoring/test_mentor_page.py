"""The mentor's page: a mentor sees their mentees sorted by need, with flags that say why,
their courses and quiz results; the open help requests on top; sends nudges only to their
own mentees; and never sees the learning of people who are not their mentees.

The UI is in Vietnamese and not translated yet, so the assertions read element ids,
data-* attributes, names and the database, never English words.
"""
from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select

from lms.courses import services as learning
from lms.db import utcnow
from lms.mentoring import help as helping
from lms.mentoring import services as mentoring
from lms.mentoring.models import HelpRequest
from lms.mentoring.nudges import NUDGE_TEMPLATES
from lms.notify.kinds import describe
from lms.notify.models import Notification
from lms.org import services as org
from lms.org.models import Role
from lms.quizzes import attempts as engine
from tests.conftest import login

TWO_DAYS = helping.Escalation(working_days=2)


def page_text(response) -> str:
    assert response.status_code == 200, response.status_code
    return unescape(response.get_data(as_text=True))


def mentee_order(page: str) -> list[int]:
    """The ids of the mentees, in the order the page lists them."""
    section = page[page.index('id="mentees"'):]
    return [int(n) for n in re.findall(r'<li class="mentee[^"]*" id="mentee-\d+" data-person-id="(\d+)"',
                                        section)]


def mentee_block(page: str, person_id: int) -> str:
    start = page.index(f'id="mentee-{person_id}"')
    return page[start:page.index("</article>", start)]


def needs_shown(page: str, person_id: int) -> set[str]:
    return set(re.findall(r'data-need="([a-z_]+)"', mentee_block(page, person_id)))


def ticked(page: str, fieldset_id: str) -> set[int]:
    """The values of the ticked checkboxes in a fieldset."""
    start = page.index(f'id="{fieldset_id}"')
    block = page[start:page.index("</fieldset>", start)]
    return {int(v) for v in re.findall(r'<input checked[^>]*value="(\d+)"', block)} | {
        int(v) for v in re.findall(r'<input[^>]*value="(\d+)"[^>]*checked', block)}


def nudges(dbs) -> list[Notification]:
    """The nudges sent, as the database has them now."""
    dbs.expire_all()
    return list(dbs.scalars(select(Notification).where(Notification.kind == "nudge")
                            .order_by(Notification.user_id)))


def take_quiz(dbs, quiz, person, right: bool):
    attempt = engine.start_attempt(dbs, quiz, person)
    engine.save_answers(dbs, attempt, {
        a.position: a.display.index(0 if right else 1) for a in attempt.answers})
    engine.submit_attempt(dbs, attempt)
    return attempt


@pytest.fixture()
def team(factory, dbs):
    """A mentor of the IT division with three mentees; a colleague who is not theirs."""
    unit = factory.unit("Phòng Hạ tầng CNTT", code="CNTT")
    mentor = factory.mentor(unit, name="Đặng Quốc Việt", email="viet@mofa.example")
    nhung, son, tam = (factory.person(n, unit=unit) for n in (
        "Nguyễn Thị Hồng Nhung", "Bùi Thanh Sơn", "Lê Văn Tám"))
    for person in (nhung, son, tam):
        factory.pair(mentor, person)
    outsider = factory.person("Trần Thị Ngoài", unit=unit)
    course = factory.course("Ký số văn bản", lessons=2)
    return {"unit": unit, "mentor": mentor, "nhung": nhung, "son": son, "tam": tam,
            "outsider": outsider, "course": course}


def make_overdue(dbs, person, course, days: int = 3):
    enrolment = learning.enrol(dbs, person, course, source="assigned",
                               due_at=utcnow() - timedelta(days=days))
    enrolment.enrolled_at = utcnow() - timedelta(days=days + 10)
    enrolment.last_activity_at = utcnow() - timedelta(hours=2)   # active: not "inactive"
    dbs.flush()
    return enrolment


# ---------------------------------------------------------------- who may open it

def test_only_mentors_open_the_mentor_page(client, factory, team):
    assert "/login" in client.get("/mentoring").location
    login(client, team["outsider"].email)
    assert client.get("/mentoring").status_code == 403
    login(client, team["mentor"].email)
    assert client.get("/mentoring").status_code == 200


def test_a_new_mentor_sees_who_pairs_mentors(client, factory, team):
    newcomer = factory.mentor(team["unit"], name="Phạm Minh Mới")
    login(client, newcomer.email)
    page = page_text(client.get("/mentoring"))
    assert 'id="no-mentees"' in page
    assert 'id="nudge"' not in page and mentee_order(page) == []


def test_someone_with_mentees_but_no_mentor_role_still_sees_them(client, dbs, team):
    mentor = team["mentor"]
    grant = next(g for g in mentor.grants if g.role == Role.MENTOR.value)
    org.revoke_role(dbs, None, grant)
    login(client, mentor.email)
    page = page_text(client.get("/mentoring"))
    assert set(mentee_order(page)) == {team["nhung"].id, team["son"].id, team["tam"].id}


# ---------------------------------------------------------------- sorted by need, with reasons

def test_the_mentee_waiting_for_an_answer_comes_first(client, dbs, team):
    course = team["course"]
    make_overdue(dbs, team["son"], course)
    helping.ask_for_help(dbs, team["tam"], "Tôi không ký số được văn bản đi.", TWO_DAYS,
                         lesson=course.modules[0].lessons[0])
    login(client, team["mentor"].email)
    page = page_text(client.get("/mentoring"))
    assert mentee_order(page) == [team["tam"].id, team["son"].id, team["nhung"].id]
    assert needs_shown(page, team["tam"].id) == {"waiting"}
    assert needs_shown(page, team["son"].id) == {"overdue"}
    assert needs_shown(page, team["nhung"].id) == {"none"}
    counts = dict(re.findall(r'data-count="([a-z-]+)"><span class="stat__value">(\d+)<', page))
    assert counts == {"mentees": "3", "needing-help": "2", "waiting": "1", "open-requests": "1"}


def test_each_rule_shows_its_own_flag(client, dbs, factory, team):
    course = team["course"]
    # Sơn: assigned training, untouched for 20 days -> inactive (and not overdue yet).
    stale = learning.enrol(dbs, team["son"], course, source="assigned",
                           due_at=utcnow() + timedelta(days=10))
    stale.enrolled_at = utcnow() - timedelta(days=20)
    # Nhung: overdue.
    make_overdue(dbs, team["nhung"], course)
    # Tám: failed the same quiz twice.
    quiz = factory.quiz(course, questions=2, attempts_allowed=0, title="Kiểm tra ký số")
    take_quiz(dbs, quiz, team["tam"], right=False)
    last = take_quiz(dbs, quiz, team["tam"], right=False)
    dbs.flush()
    login(client, team["mentor"].email)
    page = page_text(client.get("/mentoring"))
    assert needs_shown(page, team["son"].id) == {"inactive"}
    assert needs_shown(page, team["nhung"].id) == {"overdue"}
    assert needs_shown(page, team["tam"].id) == {"failed_twice"}
    tam = mentee_block(page, team["tam"].id)
    assert f'href="/attempts/{last.id}/result"' in tam and 'data-passed="no"' in tam
    assert "Kiểm tra ký số" in tam
    nhung = mentee_block(page, team["nhung"].id)
    assert f'data-course-id="{course.id}" data-overdue="yes"' in nhung
    assert f'href="/learning/people/{team["nhung"].id}"' in nhung


def test_passing_the_quiz_clears_the_flag_and_shows_the_result(client, dbs, factory, team):
    course = team["course"]
    quiz = factory.quiz(course, questions=2, attempts_allowed=0)
    take_quiz(dbs, quiz, team["tam"], right=False)
    take_quiz(dbs, quiz, team["tam"], right=False)
    passed = take_quiz(dbs, quiz, team["tam"], right=True)
    login(client, team["mentor"].email)
    tam = mentee_block(page_text(client.get("/mentoring")), team["tam"].id)
    assert 'data-need="none"' in tam and 'data-passed="yes"' in tam
    assert f'href="/attempts/{passed.id}/result"' in tam


def test_open_help_requests_are_listed_on_top_with_the_escalated_marked(client, dbs, team):
    course = team["course"]
    lesson = course.modules[0].lessons[0]
    asked = helping.ask_for_help(dbs, team["nhung"], "Quên mật khẩu ký số thì làm sao?",
                                 TWO_DAYS, lesson=lesson, now=utcnow() - timedelta(days=10))
    answered = helping.ask_for_help(dbs, team["son"], "Cách bật xác thực hai lớp?", TWO_DAYS,
                                    lesson=lesson)
    helping.reply(dbs, team["mentor"], answered, "Vào phần Tài khoản, chọn Bảo mật.", TWO_DAYS)
    helping.escalate_due(dbs)
    login(client, team["mentor"].email)
    page = page_text(client.get("/mentoring"))
    requests = page[page.index('id="requests"'):page.index('id="mentees"')]
    ids = [int(n) for n in re.findall(r'data-request-id="(\d+)"', requests)]
    assert ids == [asked.id, answered.id]          # the one still waiting first
    first = requests[requests.index(f'id="request-{asked.id}"'):
                     requests.index(f'id="request-{answered.id}"')]
    assert 'data-waiting="yes"' in first and 'data-escalated="yes"' in first
    assert f'href="/help/{asked.id}"' in first and "Nguyễn Thị Hồng Nhung" in first
    assert 'data-waiting="no"' in requests[requests.index(f'id="request-{answered.id}"'):]
    assert page.index('id="requests"') < page.index('id="mentees"')


def test_the_page_runs_a_fixed_number_of_queries(client, dbs, factory, team, count_queries):
    course = team["course"]
    quiz = factory.quiz(course, questions=2, attempts_allowed=0)
    lesson = course.modules[0].lessons[0]
    mentor = team["mentor"]
    people = [team["nhung"], team["son"]]

    def add_learning(person):
        make_overdue(dbs, person, course)
        take_quiz(dbs, quiz, person, right=False)
        helping.ask_for_help(dbs, person, f"Câu hỏi của {person.full_name}", TWO_DAYS,
                             lesson=lesson)

    for person in people:
        add_learning(person)
    login(client, mentor.email)
    client.get("/mentoring")
    with count_queries() as two:
        page = page_text(client.get("/mentoring"))
    assert len(mentee_order(page)) == 3

    for n in range(4):
        person = factory.person(f"Học Viên {n}", unit=team["unit"])
        factory.pair(mentor, person)
        add_learning(person)
    with count_queries() as six:
        page = page_text(client.get("/mentoring"))
    assert len(mentee_order(page)) == 7 and page.count('data-request-id="') == 6
    assert len(six) == len(two), (len(two), len(six))


# ---------------------------------------------------------------- only their mentees

def test_a_mentor_opens_a_mentees_learning_and_results_but_nobody_elses(client, dbs, factory,
                                                                          team):
    course = team["course"]
    quiz = factory.quiz(course, questions=2)
    own = take_quiz(dbs, quiz, team["nhung"], right=True)
    other = take_quiz(dbs, quiz, team["outsider"], right=True)
    login(client, team["mentor"].email)
    assert client.get(f"/learning/people/{team['nhung'].id}").status_code == 200
    assert client.get(f"/attempts/{own.id}/result").status_code == 200
    # A colleague of the same unit who is not their mentee: guessing the URLs does not help.
    assert client.get(f"/learning/people/{team['outsider'].id}").status_code == 403
    assert client.get(f"/attempts/{other.id}/result").status_code == 404
    page = page_text(client.get("/mentoring"))
    assert "Trần Thị Ngoài" not in page and team["outsider"].id not in mentee_order(page)


def test_a_former_mentee_is_closed_to_the_old_mentor(client, dbs, factory, team):
    quiz = factory.quiz(team["course"], questions=2)
    attempt = take_quiz(dbs, quiz, team["son"], right=False)
    mentoring.unpair(dbs, None, team["son"])
    login(client, team["mentor"].email)
    assert client.get(f"/learning/people/{team['son'].id}").status_code == 403
    assert client.get(f"/attempts/{attempt.id}/result").status_code == 404
    assert team["son"].id not in mentee_order(page_text(client.get("/mentoring")))


# ---------------------------------------------------------------- nudges

def test_the_nudge_form_ticks_those_behind_or_the_one_chosen(client, dbs, team):
    make_overdue(dbs, team["son"], team["course"])
    login(client, team["mentor"].email)
    page = page_text(client.get("/mentoring"))
    assert ticked(page, "nudge-to") == {team["son"].id}
    assert f'href="/mentoring?nudge={team["tam"].id}#nudge"' in page
    one = page_text(client.get(f"/mentoring?nudge={team['tam'].id}"))
    assert ticked(one, "nudge-to") == {team["tam"].id}
    title = one.index('id="nudge-title"')
    assert "Lê Văn Tám" in one[title:one.index("</h2>", title)]
    # Someone who is not a mentee cannot be pre-ticked: the ones behind are.
    guessed = page_text(client.get(f"/mentoring?nudge={team['outsider'].id}"))
    assert ticked(guessed, "nudge-to") == {team["son"].id}
    assert f'value="{team["outsider"].id}"' not in guessed[guessed.index('id="nudge-to"'):]


def test_a_ready_nudge_reaches_each_mentee_as_a_notification(client, dbs, team):
    mentor, son, tam = team["mentor"], team["son"], team["tam"]
    login(client, mentor.email)
    response = client.form("/mentoring/nudge", {"mentee_ids": [son.id, tam.id],
                                                "template": "overdue", "message": ""})
    assert response.status_code == 302 and response.location.endswith("/mentoring#main")
    sent = nudges(dbs)
    assert sorted(n.user_id for n in sent) == sorted([son.id, tam.id])
    assert all(n.actor_id == mentor.id and n.params["template"] == "overdue" and not n.body
               for n in sent)
    # Each mentee reads the ready message itself, in their own language, and a way to act.
    notice = describe(sent[0])
    assert notice.text == str(NUDGE_TEMPLATES["overdue"]) and notice.link == "/learning"
    assert mentor.full_name in notice.title
    page = page_text(client.get("/mentoring"))
    assert re.search(r'data-last-nudge="\d{4}-', mentee_block(page, son.id))
    assert 'data-last-nudge=""' in mentee_block(page, team["nhung"].id)


def test_a_nudge_in_the_mentors_own_words(client, dbs, team):
    login(client, team["mentor"].email)
    words = "Chiều nay 15h mình ngồi cùng nhau ký thử văn bản nhé."
    response = client.form("/mentoring/nudge", {"mentee_ids": [team["nhung"].id],
                                                "template": "", "message": words})
    assert response.status_code == 302
    (sent,) = nudges(dbs)
    assert sent.user_id == team["nhung"].id and sent.body == words
    assert "template" not in sent.params


def test_a_nudge_to_someone_who_is_not_a_mentee_is_refused_and_nothing_is_sent(client, dbs,
                                                                               team):
    login(client, team["mentor"].email)
    for ids in ([team["outsider"].id], [team["nhung"].id, team["outsider"].id]):
        response = client.form("/mentoring/nudge", {"mentee_ids": ids, "template": "inactive"})
        page = page_text(response)
        assert 'id="mentee_ids-error"' in page
    assert nudges(dbs) == []


def test_a_nudge_needs_someone_and_a_message(client, dbs, team):
    login(client, team["mentor"].email)
    page = page_text(client.form("/mentoring/nudge", {"template": "quiz"}))
    assert 'id="mentee_ids-error"' in page
    page = page_text(client.form("/mentoring/nudge", {"mentee_ids": [team["nhung"].id],
                                                      "template": "", "message": "  "}))
    assert 'id="message-error"' in page
    page = page_text(client.form("/mentoring/nudge", {"mentee_ids": [team["nhung"].id],
                                                      "template": "", "message": "x" * 501}))
    assert 'id="message-error"' in page
    assert nudges(dbs) == []


def test_a_nudge_without_the_form_token_is_refused(client, dbs, team):
    login(client, team["mentor"].email)
    response = client.post("/mentoring/nudge", data={"mentee_ids": [team["nhung"].id],
                                                     "template": "overdue"})
    assert response.status_code == 400
    assert nudges(dbs) == []


def test_a_learner_cannot_send_nudges(client, dbs, team):
    login(client, team["outsider"].email)
    response = client.form("/mentoring/nudge", {"mentee_ids": [team["nhung"].id],
                                                "template": "overdue"})
    assert response.status_code == 403
    assert nudges(dbs) == []


# ---------------------------------------------------------------- the home page panel

def home_counts(page: str) -> dict[str, str]:
    panel = page[page.index('id="mentoring-panel"'):]
    panel = panel[:panel.index("</section>")]
    return dict(re.findall(r'data-count="([a-z-]+)"><span class="stat__value">(\d+)<', panel))


def test_the_mentors_home_counts_mentees_who_need_help_and_open_requests(client, dbs, team):
    make_overdue(dbs, team["son"], team["course"])
    helping.ask_for_help(dbs, team["tam"], "Cổng dịch vụ công báo lỗi khi nộp hồ sơ.", TWO_DAYS,
                         lesson=team["course"].modules[0].lessons[0])
    login(client, team["mentor"].email)
    page = page_text(client.get("/"))
    assert home_counts(page) == {"mentees": "3", "needing-help": "2", "open-requests": "1",
                                 "waiting": "1"}
    assert 'href="/mentoring"' in page[page.index('id="mentoring-panel"'):]


def test_the_mentors_home_runs_a_fixed_number_of_queries(client, dbs, factory, team,
                                                         count_queries):
    login(client, team["mentor"].email)
    client.get("/")
    with count_queries() as three:
        assert home_counts(page_text(client.get("/")))["mentees"] == "3"
    for n in range(3):
        person = factory.person(f"Học Viên {n}", unit=team["unit"])
        factory.pair(team["mentor"], person)
        make_overdue(dbs, person, team["course"])
    with count_queries() as six:
        assert home_counts(page_text(client.get("/")))["needing-help"] == "3"
    assert len(three) == len(six), (len(three), len(six))


def test_a_mentor_without_mentees_is_told_who_pairs_them(client, factory, team):
    newcomer = factory.mentor(team["unit"])
    login(client, newcomer.email)
    page = page_text(client.get("/"))
    assert 'id="mentoring-empty"' in page and "Phòng Hạ tầng CNTT" in page


def test_a_learner_has_no_mentor_panel(client, team):
    login(client, team["nhung"].email)
    page = page_text(client.get("/"))
    assert 'id="mentoring-panel"' not in page


def test_help_requests_from_the_unit_reach_a_mentor_without_making_them_mentees(client, dbs,
                                                                              team):
    # The outsider has no mentor: their question goes to the unit's mentors.
    helping.ask_for_help(dbs, team["outsider"], "Làm sao để đổi chữ ký số?", TWO_DAYS,
                         lesson=team["course"].modules[0].lessons[0])
    request = dbs.scalar(select(HelpRequest).where(HelpRequest.learner_id == team["outsider"].id))
    login(client, team["mentor"].email)
    page = page_text(client.get("/mentoring"))
    assert f'data-request-id="{request.id}"' in page
    assert team["outsider"].id not in mentee_order(page)
