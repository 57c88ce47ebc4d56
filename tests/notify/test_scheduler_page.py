"""The admins' scheduler page (every job, its schedule, its last run with the result or the
error, its next run, a job's recent runs) and the e-mail outbox page (counts per status,
the list, retrying what was given up). Admins only; each page runs a fixed number of
queries however many runs and e-mails there are.

The UI is Vietnamese and not translated yet: the tests read ids, data-* attributes and
the database, never English words.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from lms.audit.models import AuditEvent
from lms.notify.models import JobRun, OutboxEmail, OutboxStatus, apscheduler_jobs
from lms.scheduler import all_jobs
from tests.conftest import login

UTC = timezone.utc
T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


@pytest.fixture()
def admin(factory):
    return factory.admin(name="Quản Trị Viên", email="admin@mofa.example")


def add_run(dbs, job: str, period: str, started: datetime, status: str = "done",
            result: str = "", error: str = "") -> JobRun:
    run = JobRun(job=job, period=period, status=status, owner="host:1", started_at=started,
                 finished_at=started + timedelta(seconds=3) if status != "running" else None,
                 result=result, error=error)
    dbs.add(run)
    dbs.flush()
    return run


def add_mail(dbs, person, n: int, status: str, tries: int = 0, error: str = "") -> OutboxEmail:
    row = OutboxEmail(key=f"test:{person.id}:{n}", user_id=person.id, kind="nudge",
                      params={"mentor": "Đặng Quốc Việt"}, status=status, tries=tries,
                      last_error=error, next_attempt_at=T0 + timedelta(minutes=n),
                      created_at=T0 + timedelta(seconds=n),
                      sent_at=T0 if status == OutboxStatus.SENT.value else None,
                      to_address=person.email if status == OutboxStatus.SENT.value else "")
    dbs.add(row)
    dbs.flush()
    return row


def job_rows(page: str) -> dict[str, str]:
    """job id -> the status of its last run ("" when it never ran)."""
    return dict(re.findall(r'<tr id="job-[^"]+" data-job="([^"]+)" data-last-status="(\w*)"',
                           page))


def outbox_rows(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<tr id="outbox-\d+" data-key="([^"]+)" data-status="(\w+)"', page)


def counts(page: str) -> dict[str, int]:
    return {status: int(n) for status, n in
            re.findall(r'data-status="(\w*)" data-count="(\d+)"', page)}


# ---------------------------------------------------------------- who may look

def test_only_admins_see_the_scheduler_and_the_outbox(client, dbs, factory, admin):
    learner = factory.person(email="hocvien@mofa.example")
    head = factory.unit_head(factory.unit(), email="truongdonvi@mofa.example")
    failed = add_mail(dbs, learner, 1, OutboxStatus.FAILED.value, tries=8, error="550")
    for url in ("/admin/scheduler", "/admin/outbox"):
        assert client.get(url).status_code == 302                    # signed out: sign in first
    for person in (learner, head):
        login(client, person.email)
        for url in ("/admin/scheduler", "/admin/scheduler?job=notify.deliver_email",
                    "/admin/outbox", "/admin/outbox?status=failed"):
            assert client.get(url).status_code == 403, (person.email, url)
        assert client.form(f"/admin/outbox/{failed.id}/retry").status_code == 403
        assert client.form("/admin/outbox/retry-failed").status_code == 403
    dbs.refresh(failed)
    assert failed.status == OutboxStatus.FAILED.value
    login(client, admin.email)
    assert client.get("/admin/scheduler").status_code == 200
    assert client.get("/admin/outbox").status_code == 200


# ---------------------------------------------------------------- the scheduler page

def test_the_admin_sees_every_job_with_its_last_run_result_error_and_next_run(
        client, dbs, admin):
    add_run(dbs, "notify.deliver_email", "2026-11-24T00:59", T0 - timedelta(minutes=1),
            result="3 sent, 0 to retry, 0 failed")
    latest = add_run(dbs, "notify.deliver_email", "2026-11-24T01:00", T0, status="failed",
                     error="RuntimeError: the mail relay said no")
    add_run(dbs, "quizzes.close_expired_attempts", "2026-11-24T01:00", T0,
            result="2 closed")
    login(client, admin.email)
    page = client.get("/admin/scheduler").get_data(as_text=True)
    rows = job_rows(page)
    assert list(rows) == list(all_jobs())                       # every job, in order
    assert rows["notify.deliver_email"] == "failed"
    assert rows["quizzes.close_expired_attempts"] == "done"
    assert rows["notify.daily_digest"] == ""
    assert "RuntimeError: the mail relay said no" in page and "2 closed" in page
    assert "3 sent, 0 to retry, 0 failed" not in page           # only the last run
    assert f'data-period="{latest.period}"' in page
    # The scheduler never ran here: the next runs come from each job's own schedule.
    assert 'id="scheduler-not-started"' in page
    next_runs = re.findall(r'<time datetime="([^"]+)" data-scheduled="false"', page)
    assert len(next_runs) == len(all_jobs())
    assert all(datetime.fromisoformat(moment) > datetime.now(UTC) - timedelta(minutes=1)
               for moment in next_runs)
    assert 'id="runs"' not in page


def test_once_the_scheduler_stored_its_schedule_the_next_run_is_the_stored_one(
        client, dbs, admin):
    moment = datetime(2026, 11, 24, 1, 7, tzinfo=UTC)
    dbs.execute(apscheduler_jobs.insert().values(id="notify.daily_digest",
                                                 next_run_time=moment.timestamp(),
                                                 job_state=b"state"))
    login(client, admin.email)
    page = client.get("/admin/scheduler").get_data(as_text=True)
    assert 'id="scheduler-not-started"' not in page
    row = page[page.index('id="job-notify.daily_digest"'):]
    row = row[:row.index("</tr>")]
    assert f'<time datetime="{moment.isoformat()}" data-scheduled="true"' in row


def test_a_jobs_recent_runs_are_listed_newest_first(client, dbs, admin):
    runs = [add_run(dbs, "notify.daily_digest", f"2026-11-{day:02d}T00", T0.replace(day=day),
                    result=f"{day} digests queued") for day in (20, 22, 21)]
    add_run(dbs, "notify.deliver_email", "2026-11-24T01:00", T0)
    login(client, admin.email)
    page = client.get("/admin/scheduler?job=notify.daily_digest").get_data(as_text=True)
    section = page[page.index('id="runs"'):]
    listed = [int(n) for n in re.findall(r'<tr id="run-(\d+)"', section)]
    assert listed == [runs[1].id, runs[2].id, runs[0].id]
    assert client.get("/admin/scheduler?job=no.such_job").status_code == 404


def test_the_scheduler_page_costs_the_same_queries_however_many_runs(
        client, dbs, admin, count_queries):
    login(client, admin.email)
    add_run(dbs, "notify.deliver_email", "p0", T0)

    def measure() -> int:
        with count_queries() as statements:
            assert client.get("/admin/scheduler?job=notify.deliver_email").status_code == 200
        return len(statements)

    few = measure()
    for n in range(1, 40):
        for job in list(all_jobs())[:3]:
            add_run(dbs, job, f"p{n}", T0 + timedelta(minutes=n), status="failed" if n % 7 else
                    "done", error="boom" if n % 7 else "")
    assert measure() == few


# ---------------------------------------------------------------- the outbox page

def test_the_outbox_counts_each_status_and_lists_the_chosen_one(
        client, dbs, factory, admin, monkeypatch, app):
    person = factory.person(name="Nguyễn Thị Hồng Nhung", email="nhung@mofa.example")
    mails = [add_mail(dbs, person, 1, "pending"), add_mail(dbs, person, 2, "sent", tries=1),
             add_mail(dbs, person, 3, "failed", tries=8, error="550 5.1.1 Mailbox unavailable"),
             add_mail(dbs, person, 4, "failed", tries=8, error="552 Too big"),
             add_mail(dbs, person, 5, "sending", tries=2)]
    login(client, admin.email)
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert counts(page) == {"": 5, "pending": 1, "sending": 1, "sent": 1, "failed": 2}
    assert len(outbox_rows(page)) == 5 and "Nguyễn Thị Hồng Nhung" in page
    assert 'id="retry-all"' in page

    page = client.get("/admin/outbox?status=failed").get_data(as_text=True)
    assert outbox_rows(page) == [(mails[3].key, "failed"), (mails[2].key, "failed")]
    assert "550 5.1.1 Mailbox unavailable" in page and "552 Too big" in page
    assert page.count("/retry\"") == 2                           # one retry button each

    page = client.get("/admin/outbox?status=sent").get_data(as_text=True)
    assert outbox_rows(page) == [(mails[1].key, "sent")] and "/retry\"" not in page

    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    first = client.get("/admin/outbox").get_data(as_text=True)
    second = client.get("/admin/outbox?page=2").get_data(as_text=True)
    third = client.get("/admin/outbox?page=3").get_data(as_text=True)
    keys = [k for page in (first, second, third) for k, _ in outbox_rows(page)]
    assert sorted(keys) == sorted(m.key for m in mails) and len(keys) == 5


def test_the_outbox_page_costs_the_same_queries_however_many_emails(
        client, dbs, factory, admin, count_queries):
    login(client, admin.email)
    people = [factory.person() for _ in range(12)]

    def measure() -> int:
        with count_queries() as statements:
            assert client.get("/admin/outbox").status_code == 200
        return len(statements)

    add_mail(dbs, people[0], 0, "failed", tries=8, error="550")
    few = measure()
    for n, person in enumerate(people):
        add_mail(dbs, person, n + 1, ("pending", "sent", "failed")[n % 3], tries=n)
    assert measure() == few


def test_the_admin_retries_one_given_up_email_keeping_its_tries(client, dbs, factory, admin):
    person = factory.person(email="nhung@mofa.example")
    failed = add_mail(dbs, person, 1, "failed", tries=8, error="550 5.1.1 Mailbox unavailable")
    other = add_mail(dbs, person, 2, "failed", tries=8, error="550")
    sent = add_mail(dbs, person, 3, "sent", tries=1)
    login(client, admin.email)

    assert client.form(f"/admin/outbox/{failed.id}/retry").status_code == 302
    dbs.expire_all()
    assert (failed.status, failed.tries) == (OutboxStatus.PENDING.value, 8)
    assert failed.next_attempt_at <= datetime.now(UTC)
    assert other.status == OutboxStatus.FAILED.value
    assert dbs.scalar(select(AuditEvent.actor_id).where(AuditEvent.action == "outbox.retry",
                                                        AuditEvent.target_id == failed.id)) \
        == admin.id

    assert client.form(f"/admin/outbox/{sent.id}/retry").status_code == 302   # nothing to do
    dbs.expire_all()
    assert (sent.status, sent.tries) == (OutboxStatus.SENT.value, 1)
    assert client.form("/admin/outbox/999999/retry").status_code == 404


def test_the_admin_retries_every_given_up_email_at_once(client, dbs, factory, admin):
    person = factory.person()
    rows = [add_mail(dbs, person, n, status, tries=8 if status == "failed" else 1)
            for n, status in enumerate(("failed", "failed", "sent", "pending", "failed"))]
    login(client, admin.email)
    assert client.form("/admin/outbox/retry-failed").status_code == 302
    dbs.expire_all()
    assert [(r.status, r.tries) for r in rows] == [
        ("pending", 8), ("pending", 8), ("sent", 1), ("pending", 1), ("pending", 8)]
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert counts(page)["failed"] == 0 and 'id="retry-all"' not in page
