"""The `lms scheduler` process: every domain's scheduled jobs, run by APScheduler 3.

Jobs live in each domain's ``tasks.py`` (a ``JOBS`` list of :class:`lms.notify.jobs.Job`).
The schedule is kept in the app's database (APScheduler's SQLAlchemy job store), missed
runs after downtime are coalesced into one, and every run claims its (job, period) in
``job_runs`` first — so two scheduler processes, a restart or a job fired twice never do
the work twice. Web workers never run jobs.
"""
from __future__ import annotations

import importlib
import logging
from datetime import datetime

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from lms.db import db
from lms.notify.jobs import Job, run_job
from lms.notify.models import apscheduler_jobs

log = logging.getLogger(__name__)

# Domains whose tasks.py declares scheduled jobs.
TASK_MODULES = ("lms.notify.tasks", "lms.notify.reminder_tasks", "lms.notify.digest_tasks",
                "lms.mentoring.tasks", "lms.reports.tasks", "lms.quizzes.tasks", "lms.certificates.tasks",
                "lms.api.tasks", "lms.ops.tasks")
JOBSTORE_TABLE = "apscheduler_jobs"

_app: Flask | None = None


def all_jobs() -> dict[str, Job]:
    """Every scheduled job, by id, in the order of ``TASK_MODULES``."""
    jobs: dict[str, Job] = {}
    for name in TASK_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        for job in getattr(module, "JOBS", ()):
            jobs[job.id] = job
    return jobs


def run_now(app: Flask, job_id: str, now: datetime | None = None):
    """Run one job's current period (or the period of ``now``) in this process."""
    return run_job(app, all_jobs()[job_id], now)


def _fire(job_id: str) -> None:
    """What APScheduler calls (by reference, so the job store can keep it)."""
    if _app is None:
        raise RuntimeError("the scheduler's app is not set")
    run_job(_app, all_jobs()[job_id])


def build_scheduler(app: Flask, blocking: bool = True):
    """An APScheduler scheduler with every job, its schedule kept in the app's database."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    global _app
    _app = app
    engine = app.extensions["lms.db"].kw["bind"]
    store = SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE)
    kind = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = kind(jobstores={"default": store}, timezone="UTC", job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": 24 * 3600})
    missed = _missed_runs(app)
    for job in all_jobs().values():
        # A run missed while no scheduler was up keeps its time, so the misfire rules run it
        # once (coalesced) at start; replacing the job would move it to the next period.
        extra = {"next_run_time": missed[job.id]} if job.id in missed else {}
        scheduler.add_job("lms.scheduler:_fire", "cron", args=[job.id], id=job.id,
                          name=job.id, replace_existing=True, **job.trigger, **extra)
    return scheduler


def _missed_runs(app: Flask) -> dict[str, datetime]:
    """Jobs whose stored next run is already past (the scheduler was down then)."""
    from lms.db import utcnow

    with app.app_context():
        try:
            stored = next_runs(db.session)
        except SQLAlchemyError:   # no job store yet: a first start
            return {}
        finally:
            db.session.rollback()
    now = utcnow()
    return {job_id: moment for job_id, moment in stored.items()
            if moment is not None and moment < now}


def next_runs(dbs: Session) -> dict[str, datetime | None]:
    """When the job store says each job runs next (None: paused)."""
    from datetime import timezone

    rows = dbs.execute(select(apscheduler_jobs.c.id, apscheduler_jobs.c.next_run_time)).all()
    return {job_id: datetime.fromtimestamp(ts, timezone.utc) if ts is not None else None
            for job_id, ts in rows}


# ---------------------------------------------------------------- the command

def command():
    import click
    from flask import current_app
    from flask.cli import with_appcontext

    @click.command("scheduler", help=(
        "Run the scheduled jobs (reminders, digests, escalations, e-mail delivery, month-end "
        "snapshots) until stopped. Run one such process; a second one is harmless. "
        "--list shows the jobs; --run JOB runs one job's current period now."))
    @click.option("--list", "list_jobs", is_flag=True, help="Show the jobs and their schedules.")
    @click.option("--run", "run_id", default=None, help="Run this job once, now, and exit.")
    @click.option("--at", "at", type=click.DateTime(formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d"]),
                  default=None, help="With --run: the moment (UTC) to run it as.")
    @with_appcontext
    def scheduler_command(list_jobs: bool, run_id: str | None, at) -> None:
        from datetime import timezone

        app = current_app._get_current_object()
        jobs = all_jobs()
        if list_jobs:
            for job in jobs.values():
                fields = " ".join(f"{k}={v}" for k, v in job.trigger.items())
                click.echo(f"{job.id:28} {fields}")
            return
        if run_id:
            if run_id not in jobs:
                raise click.ClickException(f"No job {run_id!r}. Jobs: {', '.join(jobs)}.")
            moment = at.replace(tzinfo=timezone.utc) if at else None
            run = run_job(app, jobs[run_id], moment)
            if run is None:
                click.echo(f"{run_id}: this period's run was already done (or is running).")
            else:
                click.echo(f"{run_id} {run.period}: {run.status} {run.result or run.error}")
            return
        scheduler = build_scheduler(app, blocking=True)
        click.echo(f"Scheduler started with {len(jobs)} jobs (Ctrl+C stops it).")
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass

    return scheduler_command
