"""A scheduled job runs once per period, whatever fires it: a second scheduler process, a
retried trigger, a restart. A failed run is recorded and retried; a run whose process died
is taken over once it is stale; the schedule itself lives in the app's database.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from lms import create_app
from lms.cli import upgrade_database
from lms.db import db, utcnow
from lms.notify import jobs
from lms.notify.jobs import STALE_AFTER, Job, claim, daily, hourly, run_job
from lms.notify.models import JobRun, JobRunStatus
from lms.scheduler import all_jobs, build_scheduler, next_runs
from tests.conftest import app_settings, fresh_database
from tests.races import race

NOW = datetime(2026, 11, 30, 8, 5, tzinfo=timezone.utc)   # a Monday


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    """An app on its own database whose transactions really commit (as two schedulers')."""
    with fresh_database("jobs") as url:
        app = create_app(app_settings(url, str(tmp_path_factory.mktemp("jobs"))))
        with app.app_context():
            upgrade_database()
        yield app
        with app.app_context():
            db.engine.dispose()


def counting_job(name: str, calls: list, period=hourly, fail_first: bool = False) -> Job:
    def work(dbs, now):
        calls.append(now)
        if fail_first and len(calls) == 1:
            raise RuntimeError("SMTP server unreachable")
        return f"{len(calls)} call(s)"
    return Job(name, work, {"minute": 5}, period)


def runs(app, name: str) -> list[JobRun]:
    with app.app_context():
        return list(db.session.scalars(select(JobRun).where(JobRun.job == name)
                                       .order_by(JobRun.id)))


def test_a_job_fired_twice_in_one_period_works_once(committed):
    calls: list = []
    job = counting_job("test.twice", calls)
    first = run_job(committed, job, NOW)
    assert first.status == JobRunStatus.DONE.value and first.result == "1 call(s)"
    assert run_job(committed, job, NOW + timedelta(minutes=20)) is None     # same hour
    assert len(calls) == 1
    run_job(committed, job, NOW + timedelta(hours=1))                        # next period
    assert len(calls) == 2
    assert [r.period for r in runs(committed, "test.twice")] == ["2026-11-30T08", "2026-11-30T09"]


def test_a_failed_run_is_recorded_and_retried_in_the_same_period(committed):
    calls: list = []
    job = counting_job("test.flaky", calls, period=daily, fail_first=True)
    failed = run_job(committed, job, NOW)
    assert failed.status == JobRunStatus.FAILED.value
    assert "SMTP server unreachable" in failed.error
    done = run_job(committed, job, NOW + timedelta(minutes=1))
    assert done.status == JobRunStatus.DONE.value and done.attempts == 2 and not done.error
    assert run_job(committed, job, NOW + timedelta(minutes=2)) is None
    assert len(calls) == 2


def test_a_run_whose_process_died_is_taken_over_only_when_stale(committed):
    with committed.app_context():
        assert claim(db.session, "test.crash", "2026-11-30", NOW) is not None   # then "dies"
        assert claim(db.session, "test.crash", "2026-11-30", NOW + timedelta(minutes=5)) is None
        later = NOW + STALE_AFTER + timedelta(minutes=1)
        taken = claim(db.session, "test.crash", "2026-11-30", later)
        assert taken is not None and taken.attempts == 2 and taken.started_at == later


def test_two_schedulers_firing_at_once_run_the_job_once(committed):
    calls: list = []
    lock = threading.Lock()

    def work(dbs, now):
        with lock:
            calls.append(now)
        return "ok"

    job = Job("test.race", work, {"minute": 5}, hourly)
    barrier = threading.Barrier(4)
    results: list = []

    def fire():
        barrier.wait()
        results.append(run_job(committed, job, NOW))

    threads = [threading.Thread(target=fire) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert sum(1 for r in results if r is not None) == 1
    assert len(runs(committed, "test.race")) == 1


def test_claims_racing_in_separate_transactions_leave_one_winner(committed):
    period = "race-claims"
    won = race(committed, [lambda s: claim(s, "test.claims", period, NOW) is not None] * 6)
    assert won.count(True) == 1, won
    with committed.app_context():
        assert db.session.scalar(select(func.count()).select_from(JobRun).where(
            JobRun.job == "test.claims")) == 1


def test_the_schedule_is_kept_in_the_apps_database_with_missed_runs_coalesced(committed):
    scheduler = build_scheduler(committed, blocking=False)
    scheduler.start(paused=True)
    try:
        assert scheduler._job_defaults["coalesce"] is True
        assert scheduler._job_defaults["max_instances"] == 1
        with committed.app_context():
            stored = next_runs(db.session)
        assert set(stored) == set(all_jobs())
        assert all(moment is not None for moment in stored.values())
    finally:
        scheduler.shutdown(wait=False)
    # A second process builds the same schedule over the same rows (replace_existing).
    again = build_scheduler(committed, blocking=False)
    again.start(paused=True)
    again.shutdown(wait=False)
    with committed.app_context():
        assert set(next_runs(db.session)) == set(all_jobs())


def test_a_run_missed_while_the_scheduler_was_down_is_kept_for_the_restart(committed):
    """A month-end snapshot due while no scheduler ran is not pushed to next month: the
    restarted scheduler finds it overdue and runs it once (coalesced)."""
    from datetime import timedelta

    from sqlalchemy import update

    from lms.notify.models import apscheduler_jobs

    first = build_scheduler(committed, blocking=False)
    first.start(paused=True)
    first.shutdown(wait=False)
    missed_at = utcnow() - timedelta(hours=3)
    with committed.app_context():
        db.session.execute(update(apscheduler_jobs).where(
            apscheduler_jobs.c.id == "reports.month_end_snapshot").values(
            next_run_time=missed_at.timestamp()))
        db.session.commit()
    again = build_scheduler(committed, blocking=False)
    again.start(paused=True)
    try:
        job = again.get_job("reports.month_end_snapshot")
        assert abs((job.next_run_time - missed_at).total_seconds()) < 1
        others = [j for j in again.get_jobs() if j.id != "reports.month_end_snapshot"]
        assert all(j.next_run_time > utcnow() - timedelta(minutes=2) for j in others)
    finally:
        again.shutdown(wait=False)


def test_the_command_lists_and_runs_jobs(lms):
    listed = lms("scheduler", "--list")
    assert listed.exit_code == 0 and "mentoring.escalate_help" in listed.output
    ran = lms("scheduler", "--run", "mentoring.escalate_help", "--at", "2026-11-30T08:10")
    assert ran.exit_code == 0, ran.output
    assert "2026-11-30T08" in ran.output and "done" in ran.output
    assert lms("scheduler", "--run", "no.such.job").exit_code != 0
    assert jobs.every_minute(NOW) == "2026-11-30T08:05"
