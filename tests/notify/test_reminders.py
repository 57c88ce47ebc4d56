"""Learners' reminders and certificate notices: a reminder N days before the due date (the
assignment's days, 7 and 1 by default) on the learner's own local day from 08:00, one
overdue notice per due date, the certificate-issued notice once per certificate (a reissue
is a new certificate), the expiry notice 30 days before, once; all of it with keys, so
running the hourly job again adds nothing, and in a fixed number of statements.

The tests read keys, params, links and rows, never English words (the UI is Vietnamese).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from lms.certificates import services as certifying
from lms.certificates.models import Certificate
from lms.courses.models import Enrolment
from lms.notify import reminder_tasks, reminders
from lms.notify.jobs import run_job
from lms.notify.kinds import describe
from lms.notify.models import JobRun, Notification, OutboxEmail
from lms.notify.services import set_email_mode
from lms.seeds.certificates import issuing_deferred
from tests.certificates.support import complete

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")   # UTC+7
PARIS = ZoneInfo("Europe/Paris")       # UTC+1 in March (before the last Sunday)
UTC = timezone.utc
# One due moment for everyone: 20 March 2099 22:30 UTC is 21 March 05:30 in Hanoi and
# 20 March 23:30 in Paris, so their local due days differ.
DUE = datetime(2099, 3, 20, 22, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def kinds():
    reminders.register_kinds()


def at(day: date, hour: int, zone: ZoneInfo = HANOI, minute: int = 5) -> datetime:
    """A moment given as a local day and hour, in UTC (as the scheduler hands it over)."""
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)


def run(dbs, now: datetime) -> reminders.ReminderReport:
    return reminders.send_reminders(dbs, now)


def notices(dbs, person=None, kind: str | None = None) -> list[Notification]:
    dbs.expire_all()
    query = select(Notification).order_by(Notification.id)
    if person is not None:
        query = query.where(Notification.user_id == person.id)
    if kind is not None:
        query = query.where(Notification.kind == kind)
    return list(dbs.scalars(query))


def keys(dbs, person=None, kind: str | None = None) -> list[str]:
    return [n.key for n in notices(dbs, person, kind)]


def outbox_keys(dbs, person) -> list[str]:
    return list(dbs.scalars(select(OutboxEmail.key).where(OutboxEmail.user_id == person.id)
                            .order_by(OutboxEmail.id)))


def enrolment_of(dbs, person, course) -> Enrolment:
    return dbs.scalar(select(Enrolment).where(Enrolment.user_id == person.id,
                                              Enrolment.course_id == course.id))


def living_in(dbs, person, zone: str):
    person.timezone = zone
    dbs.flush()
    return person


@pytest.fixture()
def course(factory):
    return factory.course(title="Chuyển đổi số trong công tác ngoại giao", lessons=1,
                          slug="chuyen-doi-so")


@pytest.fixture()
def learners(dbs, factory):
    mission = factory.unit("Đại sứ quán Việt Nam tại Pháp", kind="mission",
                           timezone="Europe/Paris")
    return {"hanoi": factory.person("Nguyễn Thị Thu Hà"),
            "paris": living_in(dbs, factory.person("Trần Đức Anh", unit=mission),
                               "Europe/Paris")}


def assign(factory, course, people, due_at: datetime = DUE, **fields):
    return factory.assignment(course, kind="people", people_ids=[p.id for p in people],
                              start_at=due_at - timedelta(days=60), due_at=due_at, **fields)


# ---------------------------------------------------------------- before the due date

def test_paris_and_hanoi_learners_get_their_seven_day_reminder_on_their_own_local_day(
        dbs, factory, course, learners):
    hanoi, paris = learners["hanoi"], learners["paris"]
    assign(factory, course, [hanoi, paris])
    paris_day, hanoi_day = date(2099, 3, 13), date(2099, 3, 14)   # 7 days before each due day

    run(dbs, at(paris_day, 7, PARIS))            # 07:05 in Paris, 13:05 in Hanoi
    assert keys(dbs) == []
    run(dbs, at(paris_day, 8, PARIS))            # 08:05 in Paris
    paris_enrolment = enrolment_of(dbs, paris, course).id
    assert keys(dbs) == [f"due:7:{paris_enrolment}:2099-03-20"]
    run(dbs, at(hanoi_day, 7))                   # 07:05 in Hanoi: not yet
    assert keys(dbs, hanoi) == []
    run(dbs, at(hanoi_day, 8))                   # 08:05 in Hanoi
    hanoi_enrolment = enrolment_of(dbs, hanoi, course).id
    assert keys(dbs, hanoi) == [f"due:7:{hanoi_enrolment}:2099-03-21"]

    notice = notices(dbs, hanoi)[0]
    assert notice.params == {"course": course.title, "slug": "chuyen-doi-so",
                             "due": "2099-03-21", "days": 7}
    assert notice.created_at == at(hanoi_day, 8)
    assert describe(notice).link == "/courses/chuyen-doi-so"
    # Mandatory training: e-mailed at once, in the same run.
    assert outbox_keys(dbs, hanoi) == [f"n:{notice.id}"]


def test_running_again_the_same_hour_or_the_next_adds_nothing(dbs, factory, course, learners):
    hanoi = learners["hanoi"]
    assign(factory, course, [hanoi])
    day = date(2099, 3, 14)
    first = run(dbs, at(day, 8))
    assert (first.due_soon, first.emails) == (1, 1)
    for moment in (at(day, 8), at(day, 9), at(day, 23, minute=55)):
        again = run(dbs, moment)
        assert (again.due_soon, again.overdue, again.emails) == (0, 0, 0)
    assert len(keys(dbs, hanoi)) == 1 and len(outbox_keys(dbs, hanoi)) == 1
    # The day reminder comes six days later, once.
    run(dbs, at(date(2099, 3, 20), 8))
    run(dbs, at(date(2099, 3, 20), 12))
    enrolment = enrolment_of(dbs, hanoi, course).id
    assert keys(dbs, hanoi) == [f"due:7:{enrolment}:2099-03-21", f"due:1:{enrolment}:2099-03-21"]


def test_the_scheduled_job_claims_its_hour_and_records_what_it_did(app, dbs, factory, course,
                                                                  learners):
    assign(factory, course, [learners["hanoi"], learners["paris"]])
    job = reminder_tasks.JOBS[0]
    assert job.id == "notify.reminders"
    moment = at(date(2099, 3, 14), 8)

    done = run_job(app, job, moment)
    assert done.status == "done" and done.period == "2099-03-14T01"
    assert "1 due soon" in done.result
    assert run_job(app, job, moment + timedelta(minutes=20)) is None   # same hour: claimed
    assert dbs.scalar(select(func.count()).select_from(JobRun)) == 1
    assert len(keys(dbs, kind="due_soon")) == 1


def test_an_assignment_reminds_on_its_own_days(dbs, factory, course, learners):
    hanoi = learners["hanoi"]
    assignment = assign(factory, course, [hanoi], reminder_days="14, 3")
    assert assignment.reminder_days == "14,3"
    for offset in range(20, 0, -1):   # every morning for the last 20 days
        run(dbs, at(date(2099, 3, 21) - timedelta(days=offset), 9))
    enrolment = enrolment_of(dbs, hanoi, course).id
    assert keys(dbs, hanoi) == [f"due:14:{enrolment}:2099-03-21", f"due:3:{enrolment}:2099-03-21"]


def test_an_enrolment_no_assignment_governs_is_reminded_7_and_1_days_before(
        dbs, factory, course, learners):
    from lms.courses import services as learning

    hanoi = learners["hanoi"]
    enrolment = learning.enrol(dbs, hanoi, course)
    enrolment.due_at = DUE
    dbs.flush()
    assert enrolment.assignment_id is None
    for offset in range(10, 0, -1):
        run(dbs, at(date(2099, 3, 21) - timedelta(days=offset), 9))
    assert keys(dbs, hanoi) == [f"due:7:{enrolment.id}:2099-03-21",
                                f"due:1:{enrolment.id}:2099-03-21"]


def test_people_who_completed_or_left_get_nothing(dbs, factory, course, learners):
    hanoi = learners["hanoi"]
    done, gone = factory.person("Phạm Minh Tuấn"), factory.person("Lý Thị Hoa")
    assign(factory, course, [hanoi, done, gone])
    complete(dbs, done, course)
    gone.is_active = False
    dbs.flush()
    for offset in range(8, -3, -1):   # from 8 days before to 2 days after the due day
        run(dbs, at(date(2099, 3, 21) - timedelta(days=offset), 9))
    assert keys(dbs, done, "due_soon") == keys(dbs, done, "overdue") == []
    assert keys(dbs, gone) == []
    assert [n.kind for n in notices(dbs, hanoi)] == ["due_soon", "due_soon", "overdue"]


# ---------------------------------------------------------------- overdue

def test_an_overdue_notice_is_sent_once_per_due_date(dbs, factory, course, learners):
    hanoi = learners["hanoi"]
    due = datetime(2099, 3, 20, 23, 59, 59, tzinfo=HANOI).astimezone(UTC)
    assign(factory, course, [hanoi], due_at=due)
    enrolment = enrolment_of(dbs, hanoi, course)
    run(dbs, at(date(2099, 3, 20), 23, minute=30))     # not due yet
    run(dbs, at(date(2099, 3, 21), 7))                 # overdue, but before 08:00
    assert keys(dbs, hanoi, "overdue") == []
    run(dbs, at(date(2099, 3, 21), 8))
    for day in range(21, 28):                          # every hour of the following week
        for hour in range(0, 24, 5):
            run(dbs, at(date(2099, 3, day), hour))
    assert keys(dbs, hanoi, "overdue") == [f"overdue:{enrolment.id}:2099-03-20"]
    overdue = notices(dbs, hanoi, "overdue")[0]
    assert overdue.params == {"course": course.title, "slug": "chuyen-doi-so",
                              "due": "2099-03-20"}

    # Given more time and missing it again: a notice for the new due date.
    dbs.execute(update(Enrolment).where(Enrolment.id == enrolment.id)
                .values(due_at=due + timedelta(days=10)))
    run(dbs, at(date(2099, 3, 31), 9))
    run(dbs, at(date(2099, 3, 31), 10))
    assert keys(dbs, hanoi, "overdue") == [f"overdue:{enrolment.id}:2099-03-20",
                                           f"overdue:{enrolment.id}:2099-03-30"]


def test_a_due_date_long_past_brings_no_notice(dbs, factory, course, learners):
    hanoi = learners["hanoi"]
    assign(factory, course, [hanoi], due_at=DUE)
    run(dbs, at(date(2099, 3, 21), 9) + reminders.OVERDUE_CATCH_UP + timedelta(days=1))
    assert keys(dbs, hanoi, "overdue") == []


# ---------------------------------------------------------------- e-mail preferences

def test_reminders_follow_each_persons_email_preference(dbs, factory, course, learners):
    hanoi = learners["hanoi"]
    digest = factory.person("Hoàng Văn Bình")
    set_email_mode(dbs, digest.id, "training", "digest")
    assign(factory, course, [hanoi, digest])
    run(dbs, at(date(2099, 3, 14), 9))
    assert len(outbox_keys(dbs, hanoi)) == 1
    assert keys(dbs, digest, "due_soon") and outbox_keys(dbs, digest) == []
    outbox = dbs.scalar(select(OutboxEmail).where(OutboxEmail.user_id == hanoi.id))
    assert (outbox.kind, outbox.status, outbox.params["days"]) == ("due_soon", "pending", 7)


# ---------------------------------------------------------------- fixed statements

def test_a_run_takes_the_same_statements_for_two_people_or_twenty(dbs, factory, course, learners,
                                                                count_queries):
    few = [learners["hanoi"]]
    many = [factory.person() for _ in range(20)]
    assign(factory, course, few, due_at=DUE)
    other = factory.course(title="Kỹ năng số cơ bản", lessons=1)
    assign(factory, other, many, due_at=DUE + timedelta(days=1))
    dbs.commit()

    with count_queries() as first:
        report = run(dbs, at(date(2099, 3, 14), 16))   # 16:05 in Hanoi, 10:05 in Paris
    assert report.due_soon == 1
    with count_queries() as second:
        report = run(dbs, at(date(2099, 3, 15), 16))
    assert report.due_soon == 20
    zones = len(report.zones)
    assert zones == 2
    # two small reads (timezones, reminder days), then per timezone: due soon, overdue,
    # expiring, e-mails.
    assert len(first) == len(second) == 2 + 4 * zones


# ---------------------------------------------------------------- certificates

def test_a_certificate_issued_is_announced_once_and_a_reissue_announces_the_new_one(
        dbs, factory, course, learners):
    hanoi = learners["hanoi"]
    enrolment = complete(dbs, hanoi, course)
    certificate = dbs.scalar(select(Certificate).where(Certificate.user_id == hanoi.id))
    assert keys(dbs, hanoi, "certificate_issued") == [f"certificate_issued:{certificate.id}"]
    notice = notices(dbs, hanoi, "certificate_issued")[0]
    assert notice.params == {"course": course.title, "serial": certificate.serial,
                             "certificate_id": certificate.id}
    assert describe(notice).link == "/certificates"
    assert outbox_keys(dbs, hanoi) == [f"n:{notice.id}"]

    # Issuing the same completion again returns the same certificate and says nothing.
    assert certifying.issue_for_enrolment(dbs, enrolment).id == certificate.id
    assert len(keys(dbs, hanoi, "certificate_issued")) == 1

    # A reissue (e.g. a corrected name) is a new certificate with a new serial and code.
    admin = factory.admin()
    new = certifying.reissue(dbs, certificate, admin, full_name="Nguyễn Thị Thu Hà")
    assert keys(dbs, hanoi, "certificate_issued") == [f"certificate_issued:{certificate.id}",
                                                      f"certificate_issued:{new.id}"]
    assert notices(dbs, hanoi, "certificate_issued")[1].params["serial"] == new.serial


def test_a_bulk_issue_announces_each_certificate_once(app, dbs, factory, course):
    from lms.certificates import jobs

    people = [factory.person(name) for name in ("Vũ Thị Lan", "Phan Văn Hùng", "Lê Ngọc Mai")]
    with issuing_deferred():
        for person in people:
            complete(dbs, person, course)
    assert keys(dbs, kind="certificate_issued") == []
    job = jobs.create_job(dbs, factory.admin(), course)
    dbs.commit()
    assert jobs.run_job(app, job.id, workers=0, chunk_size=2) == "done"
    issued = {c.user_id: c.id for c in dbs.scalars(select(Certificate))}
    assert sorted(keys(dbs, kind="certificate_issued")) == sorted(
        f"certificate_issued:{issued[p.id]}" for p in people)
    assert jobs.run_job(app, job.id, workers=0) == "done"
    assert len(keys(dbs, kind="certificate_issued")) == 3


def test_a_certificate_expiring_is_announced_30_days_before_once(dbs, factory, learners):
    hanoi, paris = learners["hanoi"], learners["paris"]
    course = factory.course(title="An toàn thông tin", lessons=1, slug="an-toan",
                            validity_months=12)
    complete(dbs, hanoi, course)
    complete(dbs, paris, course)
    certificate = dbs.scalar(select(Certificate).where(Certificate.user_id == hanoi.id))
    expiry_day = certificate.expires_at.astimezone(HANOI).date()
    notice_day = expiry_day - timedelta(days=30)

    run(dbs, at(notice_day - timedelta(days=1), 9))
    run(dbs, at(notice_day, 7))
    assert keys(dbs, hanoi, "certificate_expiring") == []
    run(dbs, at(notice_day, 8))
    expected = f"expiring:{hanoi.id}:{course.id}:{expiry_day.isoformat()}"
    assert keys(dbs, hanoi, "certificate_expiring") == [expected]
    notice = notices(dbs, hanoi, "certificate_expiring")[0]
    assert (notice.params["days"], notice.params["expires"], notice.params["serial"]) == (
        30, expiry_day.isoformat(), certificate.serial)

    # A corrected name (reissue) keeps the expiry date: no second notice.
    certifying.reissue(dbs, certificate, factory.admin(), full_name="Nguyễn Thị Thu Hà")
    for days in (29, 10, 1):
        run(dbs, at(expiry_day - timedelta(days=days), 9))
    assert keys(dbs, hanoi, "certificate_expiring") == [expected]


def test_a_revoked_certificate_gets_no_expiry_notice(dbs, factory, learners):
    hanoi = learners["hanoi"]
    course = factory.course(title="An toàn thông tin", lessons=1, slug="an-toan",
                            validity_months=12)
    complete(dbs, hanoi, course)
    certificate = dbs.scalar(select(Certificate).where(Certificate.user_id == hanoi.id))
    certifying.revoke(dbs, certificate, "Cấp nhầm", factory.admin())
    expiry_day = certificate.expires_at.astimezone(HANOI).date()
    run(dbs, at(expiry_day - timedelta(days=20), 9))
    assert keys(dbs, hanoi, "certificate_expiring") == []
