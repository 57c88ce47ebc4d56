"""Running a scheduled job exactly once per period.

Every run first claims its (job, period) row in ``job_runs`` and commits the claim; only
the process whose claim succeeded does the work. A run that failed, or one whose process
died (still "running" long after it started), may be claimed again: every effect a job
has is idempotent itself (notifications and e-mails carry unique keys), so finishing a
half-done run adds only what is missing.
"""
from __future__ import annotations

import logging
import os
import socket
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lms.db import db, sqlite_write_intent, utcnow
from lms.notify.models import JobRun, JobRunStatus

log = logging.getLogger(__name__)

# A run still marked "running" this long after it started belongs to a process that died.
STALE_AFTER = timedelta(minutes=30)


def hourly(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H")


def daily(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def every_minute(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def monthly(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


@dataclass(frozen=True)
class Job:
    """A job of the scheduler: ``work(session, now)`` does it and returns a short result.

    ``trigger`` holds APScheduler cron fields (UTC), e.g. ``{"minute": 5}`` for hourly;
    ``period(now)`` names the period a run covers, so two runs in one period are one."""

    id: str
    work: Callable[[Session, datetime], Any]
    trigger: dict[str, Any]
    period: Callable[[datetime], str]
    description: Any = ""          # a lazy string for the admin page


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(dbs: Session, job: str, period: str, now: datetime) -> JobRun | None:
    """Claim (job, period) for this process, or None when another run has it or did it.
    Commits the claim, so other processes see it at once."""
    run = JobRun(job=job, period=period, status=JobRunStatus.RUNNING.value, owner=owner_name(),
                 started_at=now)
    try:
        with dbs.begin_nested():
            dbs.add(run)
    except IntegrityError:
        taken = dbs.execute(
            update(JobRun)
            .where(JobRun.job == job, JobRun.period == period,
                   or_(JobRun.status == JobRunStatus.FAILED.value,
                       (JobRun.status == JobRunStatus.RUNNING.value)
                       & (JobRun.started_at < now - STALE_AFTER)))
            .values(status=JobRunStatus.RUNNING.value, owner=owner_name(), started_at=now,
                    attempts=JobRun.attempts + 1, error="")
            .execution_options(synchronize_session=False)).rowcount
        dbs.commit()
        if taken != 1:
            return None
        return dbs.scalar(select(JobRun).where(JobRun.job == job, JobRun.period == period))
    dbs.commit()
    return run


def run_job(app: Flask, job: Job, now: datetime | None = None) -> JobRun | None:
    """Claim this period's run of ``job`` and do it; None when it was done (or is being
    done) elsewhere. A failure is recorded on the run (and logged), never raised."""
    # Jobs write: on SQLite each transaction starts with BEGIN IMMEDIATE and waits its turn
    # beside the web workers (APScheduler's worker threads do not inherit the CLI's setting).
    token = sqlite_write_intent.set(True)
    try:
        return _run(app, job, now)
    finally:
        sqlite_write_intent.reset(token)


def _run(app: Flask, job: Job, now: datetime | None) -> JobRun | None:
    with app.app_context():
        dbs = db.session
        now = now or utcnow()
        run = claim(dbs, job.id, job.period(now), now)
        if run is None:
            log.info("job %s %s: already claimed", job.id, job.period(now))
            return None
        run_id = run.id
        try:
            result = job.work(dbs, now)
        except Exception as exc:  # recorded for the admin page; the next period runs anyway
            dbs.rollback()
            log.exception("job %s %s failed", job.id, job.period(now))
            dbs.execute(update(JobRun).where(JobRun.id == run_id).values(
                status=JobRunStatus.FAILED.value, finished_at=utcnow(),
                error="".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000]))
            dbs.commit()
            return dbs.get(JobRun, run_id)
        dbs.execute(update(JobRun).where(JobRun.id == run_id).values(
            status=JobRunStatus.DONE.value, finished_at=utcnow(),
            result=str(result if result is not None else "")[:4000]))
        dbs.commit()
        log.info("job %s %s done: %s", job.id, job.period(now), result)
        return dbs.get(JobRun, run_id)
