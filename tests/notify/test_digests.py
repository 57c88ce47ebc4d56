"""Unit heads' weekly digest and escalations, and the mentors' daily list.

The clock is passed to the jobs: the tests move it across Monday 08:00 in Hanoi (01:00 UTC)
and in Paris (07:00 UTC in winter, 06:00 in summer) and across days. They read notification
rows and their params, never English words.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from lms.courses.models import Enrolment
from lms.db import utcnow
from lms.mentoring import daily
from lms.notify import digests
from lms.notify.digest_tasks import JOBS as DIGEST_JOBS
from lms.notify.jobs import run_job
from lms.notify.models import JobRun, Notification, OutboxEmail
from lms.notify.services import set_email_mode

UTC = timezone.utc
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(autouse=True)
def kinds():
    digests.register_kinds()
    daily.register_kinds()


def local(day: date, hour: int, zone: ZoneInfo, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)


def a_monday_ahead() -> date:
    """A Monday more than a week after today: a week before it, everyone is already enrolled."""
    day = utcnow().date() + timedelta(days=8)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def set_enrolment(dbs, person, course, **values) -> None:
    dbs.execute(update(Enrolment).where(Enrolment.user_id == person.id,
                                        Enrolment.course_id == course.id).values(**values))


def notes(dbs, kind: str, user=None) -> list[Notification]:
    query = select(Notification).where(Notification.kind == kind).order_by(Notification.id)
    if user is not None:
        query = query.where(Notification.user_id == user.id)
    return list(dbs.scalars(query).all())


def paris(dbs, person):
    person.timezone = "Europe/Paris"
    dbs.flush()
    return person


# ---------------------------------------------------------------- the weekly digest

@pytest.fixture()
def ministry(factory, dbs):
    """Department A (Hanoi) with divisions A1 and A2, its sibling B headed from Paris; one
    course assigned to both departments, its enrolments set as of a Monday to come."""
    monday = a_monday_ahead()
    at = local(monday, 8, HANOI)
    a = factory.unit("Vụ A")
    a1, a2 = factory.unit("Phòng A1", parent=a), factory.unit("Phòng A2", parent=a)
    b = factory.unit("Vụ B")
    people = {
        "head_a": factory.unit_head(a, name="Trưởng Vụ A"),
        "head_b": paris(dbs, factory.unit_head(b, name="Trưởng Vụ B")),
        "a1_done": factory.person("Lê Hoàn Thành", unit=a1),
        "a1_late": factory.person("Phạm Mới Trễ", unit=a1),
        "a2_late": factory.person("Vũ Trễ Lâu", unit=a2),
        "a2_todo": factory.person("Đỗ Còn Hạn", unit=a2),
        "b_late": factory.person("Hoàng Vụ Bên", unit=b),
    }
    course = factory.course()
    factory.assignment(course, unit=a)
    factory.assignment(course, unit=b)
    set_enrolment(dbs, people["head_a"], course, completed_at=at - timedelta(days=10),
                  status="completed")
    set_enrolment(dbs, people["head_b"], course, completed_at=at - timedelta(days=10),
                  status="completed")
    set_enrolment(dbs, people["a1_done"], course, completed_at=at - timedelta(days=3),
                  status="completed")
    set_enrolment(dbs, people["a1_late"], course, due_at=at - timedelta(days=2))
    set_enrolment(dbs, people["a2_late"], course, due_at=at - timedelta(days=20))
    set_enrolment(dbs, people["b_late"], course, due_at=at - timedelta(days=1))
    return {"monday": monday, "a": a, "a1": a1, "a2": a2, "b": b, "course": course, **people}


def test_head_digest_covers_their_subtree_only_with_the_weeks_change(dbs, ministry):
    at = local(ministry["monday"], 8, HANOI)
    assert digests.weekly_digest(dbs, at) == "1 digests"
    [note] = notes(dbs, "weekly_digest")
    assert note.user_id == ministry["head_a"].id
    iso_year, iso_week, _ = ministry["monday"].isocalendar()
    a = ministry["a"]
    assert note.key == f"weekly:{ministry['head_a'].id}:{a.id}:{iso_year}-W{iso_week:02d}"
    params = note.params
    assert params["unit_id"] == a.id and params["unit"] == "Vụ A"
    # 5 assigned in A's subtree: the head and a1_done completed now; a week ago only the head.
    assert (params["assigned"], params["completed"]) == (5, 2)
    assert params["completion"] == 40.0 and params["completion_week_ago"] == 20.0
    # Newly overdue this week: a1_late only (a2_late is late for weeks; b_late is in B).
    assert params["newly_overdue"] == 1
    assert params["overdue_ids"] == [ministry["a1_late"].id]
    assert params["overdue_names"] == "Phạm Mới Trễ"
    assert [u["id"] for u in params["top_units"]] == [ministry["a1"].id]
    assert [u["id"] for u in params["bottom_units"]] == [ministry["a2"].id]
    assert (params["top_pct"], params["bottom_pct"]) == (50.0, 0.0)
    assert "Hoàng Vụ Bên" not in repr(params) and "Vụ B" != params["unit"]


def test_digest_arrives_monday_0800_in_the_heads_own_timezone(dbs, ministry):
    monday = ministry["monday"]
    head_a, head_b = ministry["head_a"], ministry["head_b"]
    before_hanoi = local(monday, 7, HANOI, 59)
    assert digests.weekly_digest(dbs, before_hanoi) == "0 digests"
    digests.weekly_digest(dbs, local(monday, 8, HANOI))
    assert [n.user_id for n in notes(dbs, "weekly_digest")] == [head_a.id]
    # Paris is still on Monday night: 02:00 there.
    digests.weekly_digest(dbs, local(monday, 7, PARIS, 59))
    assert [n.user_id for n in notes(dbs, "weekly_digest")] == [head_a.id]
    digests.weekly_digest(dbs, local(monday, 8, PARIS))
    assert [n.user_id for n in notes(dbs, "weekly_digest")] == [head_a.id, head_b.id]
    b_digest = notes(dbs, "weekly_digest", head_b)[0].params
    assert b_digest["unit_id"] == ministry["b"].id
    assert b_digest["overdue_ids"] == [ministry["b_late"].id]
    assert b_digest["assigned"] == 2


def test_the_digest_is_made_once_a_week_whatever_runs_again(app, dbs, ministry):
    monday = ministry["monday"]
    job = next(j for j in DIGEST_JOBS if j.id == "notify.weekly_digest")
    first = run_job(app, job, local(monday, 8, HANOI, 15))
    assert first is not None and first.result == "1 digests"
    assert run_job(app, job, local(monday, 8, HANOI, 15)) is None   # same period: claimed
    assert digests.weekly_digest(dbs, local(monday, 8, HANOI, 15)) == "0 digests"
    assert digests.weekly_digest(dbs, local(monday + timedelta(days=2), 9, HANOI)) == "1 digests"
    assert {n.user_id for n in notes(dbs, "weekly_digest")} == {ministry["head_a"].id,
                                                                  ministry["head_b"].id}
    # A scheduler down on Monday catches up later in the week, once; next Monday is a new week.
    assert digests.weekly_digest(dbs, local(monday + timedelta(days=6), 23, HANOI)) == "0 digests"
    assert digests.weekly_digest(dbs, local(monday + timedelta(days=7), 8, HANOI)) == "1 digests"
    assert len(notes(dbs, "weekly_digest", ministry["head_a"])) == 2


def test_the_digest_is_emailed_unless_the_head_switched_reports_off(dbs, ministry):
    set_email_mode(dbs, ministry["head_b"].id, "reports", "off")
    digests.weekly_digest(dbs, local(ministry["monday"], 12, PARIS))
    mailed = dbs.execute(select(OutboxEmail.user_id, OutboxEmail.kind)).all()
    assert mailed == [(ministry["head_a"].id, "weekly_digest")]


def test_a_digest_costs_the_same_statements_for_one_head_or_many(dbs, factory, ministry,
                                                                  count_queries):
    at = local(ministry["monday"], 12, PARIS)
    with count_queries() as few:
        digests.weekly_digest(dbs, at)
    dbs.execute(Notification.__table__.delete().where(Notification.kind == "weekly_digest"))
    for name in ("a1", "a2"):
        factory.person(unit=ministry[name], roles=(("unit_head", ministry[name]),))
        factory.person(unit=ministry[name])
    with count_queries() as many:
        assert digests.weekly_digest(dbs, at) == "4 digests"
    assert len(many) == len(few)


# ---------------------------------------------------------------- escalations

def test_head_hears_once_of_a_person_overdue_more_than_14_days(app, dbs, ministry):
    job = next(j for j in DIGEST_JOBS if j.id == "notify.overdue_escalation")
    course, head_a = ministry["course"], ministry["head_a"]
    day = utcnow().date() + timedelta(days=1)
    eight = local(day, 8, HANOI)
    set_enrolment(dbs, ministry["a2_late"], course, due_at=eight - timedelta(days=14, hours=-1))
    set_enrolment(dbs, ministry["a1_late"], course, due_at=eight - timedelta(days=3))
    set_enrolment(dbs, ministry["b_late"], course, due_at=eight - timedelta(days=15))
    set_enrolment(dbs, ministry["a2_todo"], course, due_at=eight - timedelta(days=16),
                  completed_at=eight - timedelta(days=1), status="completed")

    run_job(app, job, local(day, 7, HANOI, 20))      # before 08:00 in Hanoi: nothing yet
    assert notes(dbs, "overdue_escalation", head_a) == []
    run_job(app, job, local(day, 8, HANOI, 20))      # 13 days 23 hours: not yet
    assert notes(dbs, "overdue_escalation", head_a) == []
    run_job(app, job, local(day, 10, HANOI, 20))     # later the same day: the day is done
    assert notes(dbs, "overdue_escalation", head_a) == []

    tomorrow = day + timedelta(days=1)
    run_job(app, job, local(tomorrow, 8, HANOI, 20))
    [note] = notes(dbs, "overdue_escalation", head_a)
    enrolment = dbs.scalar(select(Enrolment).where(Enrolment.user_id == ministry["a2_late"].id))
    due = enrolment.due_at.astimezone(UTC)
    assert note.key == f"escalate14:{head_a.id}:{enrolment.id}:{due.date().isoformat()}"
    assert note.params["person_id"] == ministry["a2_late"].id
    assert note.params["enrolment_id"] == enrolment.id and note.params["unit_id"] == ministry["a"].id
    assert note.params["due_at"] == due.strftime("%Y-%m-%d %H:%M:%S")
    # B's late person goes to B's head at 08:00 in Paris, never to A's.
    assert notes(dbs, "overdue_escalation", ministry["head_b"]) == []
    run_job(app, job, local(tomorrow, 8, PARIS, 20))
    assert [n.params["person_id"] for n in notes(dbs, "overdue_escalation", ministry["head_b"])] \
        == [ministry["b_late"].id]
    for later in (local(tomorrow, 9, HANOI, 20), local(tomorrow + timedelta(days=1), 8, HANOI, 20),
                  local(tomorrow + timedelta(days=5), 8, HANOI, 20)):
        run_job(app, job, later)
    assert len(notes(dbs, "overdue_escalation", head_a)) == 1
    assert dbs.scalar(select(func.count()).select_from(OutboxEmail).where(
        OutboxEmail.kind == "overdue_escalation", OutboxEmail.user_id == head_a.id)) == 1


def test_a_new_due_date_can_be_escalated_again_and_a_concurrent_post_counts(
        dbs, factory, ministry):
    from lms.org import services as org

    course, head_b = ministry["course"], ministry["head_b"]
    now = local(utcnow().date() + timedelta(days=1), 9, PARIS)
    set_enrolment(dbs, ministry["b_late"], course, due_at=now - timedelta(days=15))
    # a2_late (placed in A2) also holds a post in B: B's head hears of them too.
    org.add_concurrent_post(dbs, None, ministry["a2_late"], ministry["b"].id, "Kiêm nhiệm")
    set_enrolment(dbs, ministry["a2_late"], course, due_at=now - timedelta(days=16))
    digests.overdue_escalation(dbs, now)
    heard = sorted(n.params["person_id"] for n in notes(dbs, "overdue_escalation", head_b))
    assert heard == sorted([ministry["b_late"].id, ministry["a2_late"].id])
    set_enrolment(dbs, ministry["b_late"], course, due_at=now - timedelta(days=16, hours=2))
    digests.overdue_escalation(dbs, now)
    assert len(notes(dbs, "overdue_escalation", head_b)) == 3
    digests.overdue_escalation(dbs, now)
    assert len(notes(dbs, "overdue_escalation", head_b)) == 3


# ---------------------------------------------------------------- mentors' daily list

@pytest.fixture()
def mentoring(factory, dbs):
    unit = factory.unit("Vụ Hợp tác")
    mentor = factory.mentor(unit, name="Đặng Quốc Việt")
    mentees = [factory.person(name, unit=unit) for name in ("An Văn Một", "Bùi Thị Hai", "Cao Văn Ba")]
    for mentee in mentees:
        factory.pair(mentor, mentee)
    first, second = factory.course(), factory.course()
    factory.assignment(first, unit=unit, due_in_days=30)
    factory.assignment(second, unit=unit, due_in_days=30)
    return {"mentor": mentor, "mentees": mentees, "courses": (first, second), "unit": unit}


def lists(dbs, mentor) -> list[dict]:
    return [n.params for n in notes(dbs, "mentees_need_help", mentor)]


def test_mentor_gets_a_daily_list_of_only_the_new_needs_once_a_day(app, dbs, mentoring):
    from lms.mentoring.tasks import JOBS as MENTORING_JOBS

    job = next(j for j in MENTORING_JOBS if j.id == "mentoring.daily_list")
    mentor, (one, two, three) = mentoring["mentor"], mentoring["mentees"]
    first, second = mentoring["courses"]
    day = utcnow().date() + timedelta(days=1)
    set_enrolment(dbs, one, first, due_at=local(day, 0, HANOI) - timedelta(hours=1))

    run_job(app, job, local(day, 7, HANOI, 25))
    assert lists(dbs, mentor) == []
    run_job(app, job, local(day, 8, HANOI, 25))
    [today] = lists(dbs, mentor)
    assert today["mentee_ids"] == [one.id] and today["count"] == 1
    assert today["needs"] == {str(one.id): ["overdue"]}
    # Someone new later that day waits for tomorrow's list: one list a day.
    set_enrolment(dbs, two, first, due_at=local(day, 9, HANOI))
    run_job(app, job, local(day, 10, HANOI, 25))
    assert len(lists(dbs, mentor)) == 1

    day2 = day + timedelta(days=1)
    run_job(app, job, local(day2, 8, HANOI, 25))
    assert [p["mentee_ids"] for p in lists(dbs, mentor)] == [[one.id], [two.id]]
    assert lists(dbs, mentor)[1]["day"] == day2.isoformat()

    # Day 3: nobody new (one finishes) -> no list. Day 4: one is late again -> new again.
    day3, day4 = day2 + timedelta(days=1), day2 + timedelta(days=2)
    set_enrolment(dbs, one, first, status="completed", completed_at=local(day2, 12, HANOI))
    run_job(app, job, local(day3, 8, HANOI, 25))
    assert len(lists(dbs, mentor)) == 2
    set_enrolment(dbs, one, second, due_at=local(day3, 12, HANOI))
    run_job(app, job, local(day3, 13, HANOI, 25))     # the day's list was (not) made at 08:00
    assert len(lists(dbs, mentor)) == 2
    run_job(app, job, local(day4, 8, HANOI, 25))
    assert [p["mentee_ids"] for p in lists(dbs, mentor)] == [[one.id], [two.id], [one.id]]
    assert three.id not in {i for p in lists(dbs, mentor) for i in p["mentee_ids"]}
    keys = [n.key for n in notes(dbs, "mentees_need_help", mentor)]
    assert keys == [f"mentees:{mentor.id}:{d.isoformat()}" for d in (day, day2, day4)]
    assert dbs.scalar(select(func.count()).select_from(JobRun).where(
        JobRun.job == "mentoring.daily_list", JobRun.status == "done")) == 7


def test_mentor_in_paris_gets_the_list_at_0800_paris_time(dbs, mentoring):
    mentor, (one, _, _) = mentoring["mentor"], mentoring["mentees"]
    paris(dbs, mentor)
    day = utcnow().date() + timedelta(days=1)
    set_enrolment(dbs, one, mentoring["courses"][0], due_at=local(day, 0, PARIS) - timedelta(days=1))
    assert daily.daily_list(dbs, local(day, 8, HANOI)) == "0 lists"
    assert daily.daily_list(dbs, local(day, 7, PARIS, 59)) == "0 lists"
    assert daily.daily_list(dbs, local(day, 8, PARIS)) == "1 lists"
    assert daily.daily_list(dbs, local(day, 8, PARIS, 30)) == "0 lists"   # today's key exists
    mailed = dbs.scalars(select(OutboxEmail.user_id).where(OutboxEmail.kind == "mentees_need_help"))
    assert list(mailed) == [mentor.id]


def test_heads_and_mentors_read_their_lists_in_the_centre(client, dbs, ministry, mentoring):
    from tests.conftest import login

    at = local(ministry["monday"], 8, HANOI)
    digests.weekly_digest(dbs, at)
    set_enrolment(dbs, ministry["a2_late"], ministry["course"], due_at=at - timedelta(days=15))
    digests.overdue_escalation(dbs, at)
    mentor, (one, two, _) = mentoring["mentor"], mentoring["mentees"]
    for mentee in (one, two):
        set_enrolment(dbs, mentee, mentoring["courses"][0], due_at=utcnow() - timedelta(hours=1))
    daily.daily_list(dbs, utcnow() + timedelta(days=1), inactive_days=30)

    login(client, ministry["head_a"].email)
    page = client.get("/notifications").get_data(as_text=True)
    assert 'data-kind="weekly_digest"' in page and 'data-kind="overdue_escalation"' in page
    assert "Vụ A" in page and "Phạm Mới Trễ" in page and "Vũ Trễ Lâu" in page
    assert "Hoàng Vụ Bên" not in page
    [digest] = notes(dbs, "weekly_digest", ministry["head_a"])
    opened = client.form(f"/notifications/{digest.id}/open")
    assert opened.status_code == 302
    assert opened.location.endswith(f'/reports/units/{ministry["a"].id}')
    login(client, mentor.email)
    page = client.get("/notifications").get_data(as_text=True)
    assert 'data-kind="mentees_need_help"' in page
    assert "An Văn Một" in page and "Bùi Thị Hai" in page and "Cao Văn Ba" not in page
