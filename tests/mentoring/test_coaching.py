"""Coaching sessions: a mentor logs the in-person sessions they gave their mentees (date,
topic, attendees, duration, notes), corrects or deletes them, and sees their totals; nobody
else can open or change them.

The UI is in Vietnamese and not translated yet, so the assertions read element ids,
data-* attributes, names and the database, never English words.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from lms.mentoring import coaching
from lms.mentoring import services as mentoring
from lms.mentoring.models import CoachingAttendee, CoachingSession
from lms.mentoring.views.coaching import duration_text
from tests.conftest import login

TOPIC = "Ký số văn bản trên hệ thống quản lý văn bản"


def page_text(response) -> str:
    assert response.status_code == 200, response.status_code
    return unescape(response.get_data(as_text=True))


def today_in(tz: str) -> date:
    return datetime.now(timezone.utc).astimezone(ZoneInfo(tz)).date()


def sessions_of(dbs, mentor) -> list[CoachingSession]:
    dbs.expire_all()
    return list(dbs.scalars(select(CoachingSession).where(CoachingSession.mentor_id == mentor.id)
                            .order_by(CoachingSession.id)))


def attendee_values(page: str) -> set[int]:
    start = page.index('id="attendees"')
    block = page[start:page.index("</fieldset>", start)]
    return {int(v) for v in re.findall(r'value="(\d+)"', block)}


def ticked(page: str) -> set[int]:
    start = page.index('id="attendees"')
    block = page[start:page.index("</fieldset>", start)]
    return {int(v) for v in re.findall(r'<input checked[^>]*value="(\d+)"', block)}


def totals(page: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-total="([a-z-]+)" data-value="(\d+)"', page)}


@pytest.fixture()
def team(factory):
    unit = factory.unit("Phòng Hạ tầng CNTT", code="CNTT")
    mentor = factory.mentor(unit, name="Đặng Quốc Việt")
    nhung, son, tam = (factory.person(n, unit=unit) for n in (
        "Nguyễn Thị Hồng Nhung", "Bùi Thanh Sơn", "Lê Văn Tám"))
    for person in (nhung, son, tam):
        factory.pair(mentor, person)
    other_mentor = factory.mentor(unit, name="Vũ Thị Khác")
    outsider = factory.person("Trần Thị Ngoài", unit=unit)
    factory.pair(other_mentor, outsider)
    return {"unit": unit, "mentor": mentor, "nhung": nhung, "son": son, "tam": tam,
            "other_mentor": other_mentor, "outsider": outsider}


def session_form(held_on: date, attendees, topic: str = TOPIC, minutes: int = 90,
                 notes: str = "") -> dict:
    return {"held_on": held_on.isoformat(), "topic": topic, "duration_minutes": str(minutes),
            "attendee_ids": [p.id for p in attendees], "notes": notes}


# ---------------------------------------------------------------- logging one

def test_a_mentor_logs_a_session_with_their_mentees(client, dbs, team):
    mentor = team["mentor"]
    login(client, mentor.email)
    page = page_text(client.get("/mentoring/sessions/new"))
    assert attendee_values(page) == {team["nhung"].id, team["son"].id, team["tam"].id}
    today = today_in(mentor.timezone)
    assert f'value="{today.isoformat()}"' in page          # today, in the mentor's timezone
    response = client.form("/mentoring/sessions/new", session_form(
        today - timedelta(days=2), [team["nhung"], team["son"]],
        notes="Cài đặt USB token.\nLần sau: ký số trên điện thoại."))
    assert response.status_code == 302 and response.location.endswith("/mentoring/sessions")
    (logged,) = sessions_of(dbs, mentor)
    assert (logged.topic, logged.duration_minutes, logged.held_on) == (
        TOPIC, 90, today - timedelta(days=2))
    assert {a.user_id for a in logged.attendees} == {team["nhung"].id, team["son"].id}
    assert logged.unit_id == team["unit"].id
    listing = page_text(client.get("/mentoring/sessions"))
    row = listing[listing.index(f'id="session-{logged.id}"'):]
    assert TOPIC in row and "Nguyễn Thị Hồng Nhung" in row and "Lê Văn Tám" not in row.split("</tr>")[0]


@pytest.mark.parametrize("change, error_field", [
    ({"held_on": "future"}, "held_on"),
    ({"attendee_ids": []}, "attendee_ids"),
    ({"attendee_ids": "outsider"}, "attendee_ids"),
    ({"topic": "  "}, "topic"),
    ({"duration_minutes": "2"}, "duration_minutes"),
    ({"duration_minutes": "600"}, "duration_minutes"),
    ({"held_on": "31/02/2026"}, "held_on"),
])
def test_a_session_that_breaks_a_rule_is_not_logged(client, dbs, team, change, error_field):
    mentor = team["mentor"]
    login(client, mentor.email)
    data = session_form(today_in(mentor.timezone), [team["nhung"]])
    for key, value in change.items():
        if value == "future":
            value = (today_in(mentor.timezone) + timedelta(days=1)).isoformat()
        elif value == "outsider":
            value = [team["nhung"].id, team["outsider"].id]
        data[key] = value
    page = page_text(client.form("/mentoring/sessions/new", data))
    assert f'id="{error_field}-error"' in page
    assert sessions_of(dbs, mentor) == []


def test_today_is_the_mentors_own_day(client, dbs, team):
    """A mentor at a mission far east logs a session held on their today, even while it is
    still yesterday in Hanoi or in UTC; their tomorrow stays refused."""
    mentor = team["mentor"]
    mentor.timezone = "Pacific/Kiritimati"     # UTC+14
    dbs.flush()
    login(client, mentor.email)
    their_today = today_in("Pacific/Kiritimati")
    page = page_text(client.get("/mentoring/sessions/new"))
    assert f'value="{their_today.isoformat()}"' in page
    assert client.form("/mentoring/sessions/new", session_form(
        their_today, [team["tam"]])).status_code == 302
    page = page_text(client.form("/mentoring/sessions/new", session_form(
        their_today + timedelta(days=1), [team["tam"]])))
    assert 'id="held_on-error"' in page
    assert len(sessions_of(dbs, mentor)) == 1


def test_a_mentor_without_mentees_is_told_why_they_cannot_log_yet(client, factory, team):
    newcomer = factory.mentor(team["unit"])
    login(client, newcomer.email)
    page = page_text(client.get("/mentoring/sessions/new"))
    assert 'id="no-attendees"' in page and 'id="attendees"' not in page
    assert 'id="no-sessions"' in page_text(client.get("/mentoring/sessions"))


# ---------------------------------------------------------------- correcting and deleting

@pytest.fixture()
def logged(dbs, team):
    return coaching.log_session(dbs, team["mentor"], coaching.SessionData(
        held_on=date.today() - timedelta(days=5), topic="Bảo mật tài khoản, xác thực hai lớp",
        duration_minutes=60, attendee_ids=frozenset({team["nhung"].id, team["son"].id}),
        notes="Bật xác thực hai lớp cho cả phòng."), date.today())


def test_a_mentor_corrects_a_session(client, dbs, team, logged):
    login(client, team["mentor"].email)
    page = page_text(client.get(f"/mentoring/sessions/{logged.id}/edit"))
    assert ticked(page) == {team["nhung"].id, team["son"].id}
    assert "Bật xác thực hai lớp cho cả phòng." in page
    response = client.form(f"/mentoring/sessions/{logged.id}/edit", session_form(
        logged.held_on, [team["son"], team["tam"]], topic="Xác thực hai lớp", minutes=75))
    assert response.status_code == 302
    (session,) = sessions_of(dbs, team["mentor"])
    assert (session.topic, session.duration_minutes) == ("Xác thực hai lớp", 75)
    assert {a.user_id for a in session.attendees} == {team["son"].id, team["tam"].id}
    assert not session.notes


def test_a_former_mentee_stays_on_a_past_session(client, dbs, team, logged):
    mentoring.unpair(dbs, None, team["nhung"])
    login(client, team["mentor"].email)
    page = page_text(client.get(f"/mentoring/sessions/{logged.id}/edit"))
    assert team["nhung"].id in attendee_values(page) and team["nhung"].id in ticked(page)
    assert team["nhung"].id not in attendee_values(page_text(client.get("/mentoring/sessions/new")))
    response = client.form(f"/mentoring/sessions/{logged.id}/edit", session_form(
        logged.held_on, [team["nhung"], team["son"]], minutes=50))
    assert response.status_code == 302
    assert sessions_of(dbs, team["mentor"])[0].duration_minutes == 50


def test_a_correction_that_breaks_a_rule_changes_nothing(client, dbs, team, logged):
    login(client, team["mentor"].email)
    page = page_text(client.form(f"/mentoring/sessions/{logged.id}/edit", session_form(
        logged.held_on, [team["outsider"]], topic="Đổi chủ đề")))
    assert 'id="attendee_ids-error"' in page
    (session,) = sessions_of(dbs, team["mentor"])
    assert session.topic == "Bảo mật tài khoản, xác thực hai lớp"
    assert {a.user_id for a in session.attendees} == {team["nhung"].id, team["son"].id}


def test_a_mentor_deletes_a_session(client, dbs, team, logged):
    login(client, team["mentor"].email)
    response = client.form(f"/mentoring/sessions/{logged.id}/delete")
    assert response.status_code == 302 and response.location.endswith("/mentoring/sessions")
    assert sessions_of(dbs, team["mentor"]) == []
    assert dbs.scalar(select(func.count()).select_from(CoachingAttendee)) == 0


def test_another_mentors_session_is_not_found(client, dbs, team, logged):
    login(client, team["other_mentor"].email)
    assert client.get(f"/mentoring/sessions/{logged.id}/edit").status_code == 404
    response = client.form(f"/mentoring/sessions/{logged.id}/edit", session_form(
        logged.held_on, [team["outsider"]], topic="Chiếm quyền"))
    assert response.status_code == 404
    assert client.form(f"/mentoring/sessions/{logged.id}/delete").status_code == 404
    assert client.get("/mentoring/sessions/999999/edit").status_code == 404
    (session,) = sessions_of(dbs, team["mentor"])
    assert session.topic == "Bảo mật tài khoản, xác thực hai lớp"
    listing = page_text(client.get("/mentoring/sessions"))
    assert f'id="session-{logged.id}"' not in listing


def test_learners_cannot_open_the_coaching_pages(client, team, logged):
    login(client, team["nhung"].email)
    assert client.get("/mentoring/sessions").status_code == 403
    assert client.get("/mentoring/sessions/new").status_code == 403
    assert client.form("/mentoring/sessions/new", session_form(
        date.today(), [team["son"]])).status_code == 403
    assert client.get(f"/mentoring/sessions/{logged.id}/edit").status_code == 404


def test_deleting_needs_the_form_token(client, dbs, team, logged):
    login(client, team["mentor"].email)
    assert client.post(f"/mentoring/sessions/{logged.id}/delete").status_code == 400
    assert len(sessions_of(dbs, team["mentor"])) == 1


# ---------------------------------------------------------------- the list and totals

def test_the_list_shows_totals_hours_and_people_reached(client, dbs, team, logged):
    mentor = team["mentor"]
    today = date.today()
    coaching.log_session(dbs, mentor, coaching.SessionData(
        held_on=today - timedelta(days=1), topic=TOPIC, duration_minutes=45,
        attendee_ids=frozenset({team["son"].id, team["tam"].id})), today)
    coaching.log_session(dbs, team["other_mentor"], coaching.SessionData(
        held_on=today, topic="Cổng dịch vụ công", duration_minutes=120,
        attendee_ids=frozenset({team["outsider"].id})), today)
    login(client, mentor.email)
    page = page_text(client.get("/mentoring/sessions"))
    found = totals(page)
    assert found["minutes"] == 105 and found["people"] == 3 and found["sessions"] == 2
    ids = [int(n) for n in re.findall(r'data-session-id="(\d+)"', page)]
    assert len(ids) == 2 and ids[-1] == logged.id          # latest first
    assert "Cổng dịch vụ công" not in page


def test_the_list_runs_a_fixed_number_of_queries(client, dbs, team, count_queries):
    mentor = team["mentor"]
    people = frozenset({team["nhung"].id, team["son"].id, team["tam"].id})

    def log(n: int):
        coaching.log_session(dbs, mentor, coaching.SessionData(
            held_on=date.today() - timedelta(days=n), topic=f"Buổi {n}", duration_minutes=30,
            attendee_ids=people), date.today())

    for n in range(2):
        log(n)
    login(client, mentor.email)
    client.get("/mentoring/sessions")
    with count_queries() as two:
        assert page_text(client.get("/mentoring/sessions")).count('data-session-id="') == 2
    for n in range(2, 6):
        log(n)
    with count_queries() as six:
        assert page_text(client.get("/mentoring/sessions")).count('data-session-id="') == 6
    assert len(two) == len(six), (len(two), len(six))


def test_durations_read_as_hours_and_minutes(app):
    with app.test_request_context():
        numbers = {m: re.findall(r"\d+", duration_text(m)) for m in (45, 60, 135, 0)}
    assert numbers == {45: ["45"], 60: ["1"], 135: ["2", "15"], 0: ["0"]}
    assert duration_text(None) == ""
