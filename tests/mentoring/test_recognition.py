"""The recognition table: a unit head sees, per mentor of their units, mentees, completions,
help requests and coaching in a period; the unit report shows the mentoring figures; both
stay within the head's subtree and cost the same few statements whatever the size."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from lms.courses import services as learning
from lms.mentoring import coaching
from lms.mentoring import help as helping
from lms.mentoring.recognition import MentorFigures, Period, recognition_table, unit_summary
from lms.org.models import Unit, User
from tests.conftest import login

HANOI = "Asia/Ho_Chi_Minh"
ESCALATION = helping.Escalation(working_days=2)


def today() -> date:
    return datetime.now(timezone.utc).astimezone(ZoneInfo(HANOI)).date()


def log(dbs, mentor: User, attendees: list[User], minutes: int, days_ago: int = 0,
        topic: str = "Ký số văn bản trên hệ thống quản lý văn bản"):
    return coaching.log_session(dbs, mentor, coaching.SessionData(
        held_on=today() - timedelta(days=days_ago), topic=topic, duration_minutes=minutes,
        attendee_ids=frozenset(p.id for p in attendees)), today())


def finish(dbs, person, course) -> None:
    for lesson in course.modules[0].lessons:
        learning.complete_lesson(dbs, person, lesson)


def get(client, url: str):
    """GET, with the body read and the response closed (a download is a temporary file)."""
    with client.get(url) as response:
        response.get_data()
        return response


def html(response) -> str:
    return unescape(response.get_data(as_text=True))


def rows(page: str) -> dict[str, dict[str, str]]:
    """The mentors' rows of the recognition table: mentor id -> {measure: text}."""
    found = {}
    for mentor_id, body in re.findall(r'<tr data-mentor-id="(\d+)">(.*?)</tr>', page, re.S):
        found[mentor_id] = dict(re.findall(r'data-measure="(\w+)">([^<]*)</td>', body))
    return found


def total_row(page: str) -> dict[str, str]:
    body = re.search(r"<tr[^>]*data-total[^>]*>(.*?)</tr>", page, re.S).group(1)
    return dict(re.findall(r'data-measure="(\w+)">([^<]*)</td>', body))


def card_values(page: str, section_id: str) -> dict[str, str]:
    start = page.index(f'id="{section_id}"')
    block = page[start:page.index("</ul>", start)]
    return dict(re.findall(r'data-measure="(\w+)" data-value="([^"]*)"', block))


@dataclass
class Team:
    dept: Unit
    div_a: Unit
    div_b: Unit
    other: Unit
    anh: User            # mentor of division A: two mentees, the most coaching
    binh: User           # mentor of division B: one mentee
    xuan: User           # mentor of the other department
    mentees: dict[str, User]
    head_a: User
    dept_head: User
    period: Period


@pytest.fixture()
def team(dbs, factory) -> Team:
    """Department HTQT (divisions A and B) and the Consular Department.

    Anh (A) mentors Lan, who completed the assigned course, and Minh, whose question is
    open; Anh coached 90 + 30 minutes in the period and 60 minutes a year before it.
    Bình (B) mentors Nga, answered her question (solved) and coached her 60 minutes.
    Xuân mentors in the other department (coached 240 minutes: never counted here)."""
    dept = factory.unit("Vụ Hợp tác quốc tế", code="HTQT")
    div_a = factory.unit("Phòng Đa phương", parent=dept, code="HTQT-A", kind="division")
    div_b = factory.unit("Phòng Song phương", parent=dept, code="HTQT-B", kind="division")
    other = factory.unit("Cục Lãnh sự", code="CLS")
    anh = factory.mentor(div_a, name="Nguyễn Văn Anh")
    binh = factory.mentor(div_b, name="Trần Thị Bình")
    xuan = factory.mentor(other, name="Lê Thị Xuân")
    mentees = {"lan": factory.person("Phạm Thị Lan", unit=div_a),
               "minh": factory.person("Hoàng Văn Minh", unit=div_a),
               "nga": factory.person("Vũ Thị Nga", unit=div_b),
               "son": factory.person("Đỗ Văn Sơn", unit=other)}
    for mentor, name in ((anh, "lan"), (anh, "minh"), (binh, "nga"), (xuan, "son")):
        factory.pair(mentor, mentees[name])
    course = factory.course("Kỹ năng số cơ bản")
    factory.assignment(course, unit=dept)
    finish(dbs, mentees["lan"], course)
    learning.complete_lesson(dbs, mentees["minh"], course.modules[0].lessons[0])

    log(dbs, anh, [mentees["lan"], mentees["minh"]], 90, days_ago=3)
    log(dbs, anh, [mentees["lan"]], 30, days_ago=1, topic="Bảo mật tài khoản, xác thực hai lớp")
    log(dbs, anh, [mentees["minh"]], 60, days_ago=400)
    log(dbs, binh, [mentees["nga"]], 60, days_ago=2)
    log(dbs, xuan, [mentees["son"]], 240, days_ago=2)

    lesson = course.modules[0].lessons[1]
    helping.ask_for_help(dbs, mentees["minh"], "Em chưa ký số được văn bản đi.", ESCALATION,
                         lesson=lesson)
    asked = helping.ask_for_help(dbs, mentees["nga"], "Quên mật khẩu hộp thư công vụ thì làm gì?",
                                 ESCALATION, lesson=lesson)
    helping.reply(dbs, binh, asked, "Chị vào trang đặt lại mật khẩu, xác thực qua điện thoại.",
                  ESCALATION)
    helping.mark_solved(dbs, mentees["nga"], asked)
    old = helping.ask_for_help(dbs, mentees["son"], "Cổng dịch vụ công báo lỗi.", ESCALATION,
                               lesson=lesson)
    helping.reply(dbs, xuan, old, "Anh thử đăng nhập lại bằng VNeID.", ESCALATION)
    helping.mark_solved(dbs, mentees["son"], old)

    head_a = factory.unit_head(div_a, name="Đỗ Minh Hải")
    dept_head = factory.unit_head(dept, name="Bùi Thu Hà")
    dbs.flush()
    return Team(dept, div_a, div_b, other, anh, binh, xuan, mentees, head_a, dept_head,
                Period(today() - timedelta(days=100), today(), HANOI))


def url(team: Team, unit: Unit | None = None, **extra: Any) -> str:
    args = {"unit_id": (unit or team.dept).id, "start": team.period.start.isoformat(),
            "end": team.period.end.isoformat(), **extra}
    return "/mentoring/recognition?" + "&".join(f"{k}={v}" for k, v in args.items())


# ---------------------------------------------------------------- the figures

def test_each_mentor_of_the_department_is_counted_for_the_period_only(dbs, team):
    table = recognition_table(dbs, team.dept, team.period)

    assert [line.person.id for line in table.lines] == [team.anh.id, team.binh.id]
    anh, binh = (line.figures for line in table.lines)
    assert anh == MentorFigures(mentees=2, completed=1, open_requests=1, solved=0, sessions=2,
                                minutes=120, people=2)
    assert anh.hours == 2.0
    assert binh == MentorFigures(mentees=1, completed=0, open_requests=0, solved=1, sessions=1,
                                 minutes=60, people=1)
    assert table.total == MentorFigures(mentees=3, completed=1, open_requests=1, solved=1,
                                        sessions=3, minutes=180, people=3)


def test_a_longer_period_takes_in_the_old_session(dbs, team):
    longer = Period(today() - timedelta(days=500), today(), HANOI)
    table = recognition_table(dbs, team.dept, longer)

    anh = next(line.figures for line in table.lines if line.person.id == team.anh.id)
    assert (anh.sessions, anh.minutes, anh.people) == (3, 180, 2)


def test_a_division_lists_only_its_own_mentors(dbs, team):
    table = recognition_table(dbs, team.div_b, team.period)

    assert [line.person.id for line in table.lines] == [team.binh.id]
    assert table.total.sessions == 1 and table.total.minutes == 60


def test_mentors_are_ranked_by_coaching_hours_then_by_mentees_who_completed(dbs, factory, team):
    # Bình catches up on hours (120 minutes, like Anh): Anh stays first on completions.
    log(dbs, team.binh, [team.mentees["nga"]], 60, days_ago=5)
    table = recognition_table(dbs, team.dept, team.period)
    assert [line.person.id for line in table.lines] == [team.anh.id, team.binh.id]
    # One more hour and Bình leads.
    log(dbs, team.binh, [team.mentees["nga"]], 60, days_ago=6)
    table = recognition_table(dbs, team.dept, team.period)
    assert [line.person.id for line in table.lines] == [team.binh.id, team.anh.id]


def test_a_request_escalated_to_two_mentors_counts_once_in_the_total(dbs, factory, team):
    second = factory.mentor(team.div_a, name="Ngô Thị Chi")
    request = helping.ask_for_help(dbs, team.mentees["lan"], "Chữ ký số báo hết hạn.",
                                   ESCALATION, lesson=team_lesson(dbs, team))
    helping.escalate_due(dbs, now=request.escalate_at + timedelta(minutes=1))

    table = recognition_table(dbs, team.dept, team.period)

    # Minh's and Lan's questions went to Anh, and both were escalated to Chi.
    figures = {line.person.id: line.figures for line in table.lines}
    assert figures[team.anh.id].open_requests == 2
    assert figures[second.id].open_requests == 2
    assert table.total.open_requests == 2


def team_lesson(dbs, team):
    from sqlalchemy import select

    from lms.courses.models import Lesson

    return dbs.scalar(select(Lesson).order_by(Lesson.id).limit(1))


def test_the_unit_report_summary_counts_coaching_mentors_and_open_requests(dbs, team):
    summary = unit_summary(dbs, team.dept, team.period)

    assert (summary.sessions, summary.minutes, summary.people) == (3, 180, 3)
    assert summary.hours == 3.0
    assert (summary.mentors, summary.active_mentors) == (2, 2)
    assert summary.open_requests == 1     # Minh's question; the Consular one is elsewhere


def test_a_mentor_who_did_nothing_in_the_period_is_listed_but_not_active(dbs, factory, team):
    idle = factory.mentor(team.div_b, name="Lý Văn Tài")
    table = recognition_table(dbs, team.dept, team.period)
    assert table.lines[-1].person.id == idle.id
    assert table.lines[-1].figures == MentorFigures()
    summary = unit_summary(dbs, team.dept, team.period)
    assert (summary.mentors, summary.active_mentors) == (3, 2)


# ---------------------------------------------------------------- the page

def test_the_department_head_sees_the_mentors_of_their_department(client, team):
    login(client, team.dept_head.email)

    response = get(client, url(team))

    assert response.status_code == 200
    page = html(response)
    table = rows(page)
    assert list(table) == [str(team.anh.id), str(team.binh.id)]
    assert table[str(team.anh.id)] == {"mentees": "2", "completed": "1", "open_requests": "1",
                                       "solved": "0", "sessions": "2", "hours": "2",
                                       "people": "2"}
    assert table[str(team.binh.id)]["solved"] == "1"
    assert total_row(page)["people"] == "3"
    assert card_values(page, "recognition-summary")["hours"] == "3.0"
    assert team.anh.full_name in page and team.xuan.full_name not in page
    assert f'data-start="{team.period.start.isoformat()}"' in page


def test_the_period_defaults_to_this_year_so_far(client, team):
    login(client, team.dept_head.email)

    page = html(get(client, f"/mentoring/recognition?unit_id={team.dept.id}"))

    assert f'data-start="{date(today().year, 1, 1).isoformat()}"' in page
    assert f'data-end="{today().isoformat()}"' in page


def test_a_past_end_alone_shows_that_whole_year_up_to_it(client, team):
    login(client, team.dept_head.email)
    last_year = today().year - 1

    page = html(get(client, f"/mentoring/recognition?unit_id={team.dept.id}"
                            f"&end={last_year}-06-30"))

    assert f'data-start="{last_year}-01-01" data-end="{last_year}-06-30"' in page
    assert set(rows(page)) == {str(team.anh.id), str(team.binh.id)}
    old_session = today() - timedelta(days=400)
    in_window = date(last_year, 1, 1) <= old_session <= date(last_year, 6, 30)
    assert rows(page)[str(team.anh.id)]["sessions"] == ("1" if in_window else "0")
    assert rows(page)[str(team.binh.id)]["sessions"] == "0"


def test_a_head_opens_their_own_unit_by_default(client, team):
    login(client, team.head_a.email)

    page = html(get(client, "/mentoring/recognition"))

    assert list(rows(page)) == [str(team.anh.id)]
    assert re.search(rf'<option selected value="{team.div_a.id}"|<option value="{team.div_a.id}" '
                     r'selected', page)


def test_a_head_of_one_division_cannot_open_another_or_the_department(client, team):
    login(client, team.head_a.email)

    assert get(client, url(team, team.div_a)).status_code == 200
    for unit in (team.div_b, team.dept, team.other):
        assert get(client, url(team, unit)).status_code == 403
        assert get(client, url(team, unit).replace("recognition?",
                                                   "recognition/export.csv?")).status_code == 403


def test_a_mentor_or_a_learner_without_a_head_role_gets_403(client, team):
    for person in (team.anh, team.mentees["lan"]):
        login(client, person.email)
        assert get(client, "/mentoring/recognition").status_code == 403
        assert get(client, url(team, team.div_a)).status_code == 403
        assert get(client, "/mentoring/recognition/export.xlsx").status_code == 403


def test_admins_and_trainers_open_any_unit_the_ministry_by_default(client, factory, team):
    from lms.org.models import Role

    trainer = factory.person(roles=((Role.TRAINER.value, None),))
    for person in (factory.admin(), trainer):
        login(client, person.email)
        page = html(get(client, "/mentoring/recognition"))
        assert {str(team.anh.id), str(team.binh.id), str(team.xuan.id)} <= set(rows(page))
        assert get(client, url(team, team.other)).status_code == 200
        # A mentor's name opens their page in the organisation, for those who may open it.
        assert (f'href="/org/people/{team.anh.id}"' in page) == (person is not trainer)


def test_an_unknown_unit_is_404_and_signed_out_visitors_go_to_sign_in(client, team):
    response = get(client, "/mentoring/recognition")
    assert response.status_code == 302 and "/login" in response.location
    login(client, team.dept_head.email)
    assert get(client, url(team).replace(f"unit_id={team.dept.id}", "unit_id=999999")) \
        .status_code == 404


def test_a_date_that_cannot_be_read_is_shown_and_the_default_applies(client, team):
    login(client, team.dept_head.email)

    response = get(client, f"/mentoring/recognition?unit_id={team.dept.id}&start=31/02/x"
                           f"&end={team.period.end.isoformat()}")

    assert response.status_code == 200
    page = html(response)
    assert 'id="start-error"' in page
    assert f'data-start="{date(today().year, 1, 1).isoformat()}"' in page


def test_a_period_that_ends_before_it_starts_falls_back_to_this_year(client, team):
    login(client, team.dept_head.email)

    page = html(get(client, f"/mentoring/recognition?unit_id={team.dept.id}"
                            f"&start={today().isoformat()}&end=2020-01-01"))

    assert 'id="end-error"' in page
    assert f'data-start="{date(today().year, 1, 1).isoformat()}"' in page


def test_a_unit_without_mentors_says_so_and_offers_the_pairing_page(client, factory, team):
    empty = factory.unit("Phòng Lưu trữ", parent=team.dept, kind="division")
    login(client, team.dept_head.email)

    page = html(get(client, url(team, empty)))

    assert 'id="no-mentors"' in page and rows(page) == {}
    assert f'href="/mentoring/pairs/bulk?unit_id={empty.id}"' in page


def test_the_table_is_exported_as_csv_and_xlsx(client, team):
    login(client, team.dept_head.email)

    response = get(client, url(team).replace("recognition?", "recognition/export.csv?"))
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f"HTQT-mentors-{team.period.start.isoformat()}" in response.headers["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert len(lines) == 1 + 2 + 1          # header, two mentors, total
    assert lines[1][:2] == [team.anh.employee_code, team.anh.full_name]
    assert lines[1][3:] == ["2", "1", "1", "0", "2", "2.0", "2"]
    assert lines[-1][3:] == ["3", "1", "1", "1", "3", "3.0", "3"]

    response = get(client, url(team).replace("recognition?", "recognition/export.xlsx?"))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[2][1] == team.binh.full_name and values[2][7] == 1
    assert values[-1][3:] == [3, 1, 1, 1, 3, 3, 3]


# ---------------------------------------------------------------- the unit report's panel

def test_the_unit_report_shows_the_mentoring_panel_with_a_link_to_the_table(client, team):
    login(client, team.dept_head.email)

    page = html(get(client, f"/reports/units/{team.dept.id}"))

    values = card_values(page, "mentoring-panel")
    # This year so far: the sessions 1 to 3 days ago (the one 400 days ago is out).
    in_year = [d for d in (3, 1, 2) if (today() - timedelta(days=d)).year == today().year]
    minutes = {3: 90, 1: 30, 2: 60}
    assert values["sessions"] == str(len(in_year))
    assert float(values["hours"]) == round(sum(minutes[d] for d in in_year) / 60, 1)
    assert values["open_requests"] == "1"
    assert f'href="/mentoring/recognition?unit_id={team.dept.id}"' in page


# ---------------------------------------------------------------- queries

def build(dbs, factory, mentors: int):
    """A department of ``mentors`` mentors, each with two mentees, a session and a question."""
    dept = factory.unit("Vụ Tổng hợp")
    for i in range(mentors):
        mentor = factory.mentor(dept)
        mentees = [factory.person(unit=dept) for _ in range(2)]
        for mentee in mentees:
            factory.pair(mentor, mentee)
        log(dbs, mentor, mentees, 45 + i)
        helping.ask_for_help(dbs, mentees[0], f"Câu hỏi {i}", ESCALATION)
    return dept


def test_the_table_runs_the_same_number_of_queries_for_2_or_6_mentors(
        client, dbs, factory, count_queries):
    small, large = build(dbs, factory, 2), build(dbs, factory, 6)
    admin = factory.admin()
    dbs.flush()
    login(client, admin.email)
    counts = []
    for unit in (small, large):
        get(client, f"/mentoring/recognition?unit_id={unit.id}")          # warm caches
        with count_queries() as statements:
            response = get(client, f"/mentoring/recognition?unit_id={unit.id}")
        assert response.status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1]
    assert len(rows(html(response))) == 6

    counts = []
    for unit in (small, large):
        with count_queries() as statements:
            table = recognition_table(dbs, unit, Period.this_year(today(), HANOI))
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 8
    assert table.total.mentees == 12 and table.total.open_requests == 6
