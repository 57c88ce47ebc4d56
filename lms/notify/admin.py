"""The admins' pages of the scheduler and the e-mail outbox.

The scheduler page lists every job (what it does, its schedule, its last run with the
result or error, its next run) and a job's recent runs; the outbox page counts e-mails
per status, lists them, and puts failed ones back in the queue. Each page runs a fixed
number of queries, whatever the number of jobs, runs or e-mails.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from lms.audit.services import record
from lms.db import db, utcnow
from lms.forms import ActionForm
from lms.notify.jobs import Job
from lms.notify.models import JobRun, OutboxEmail, OutboxStatus
from lms.notify.outbox import retry_failed
from lms.notify.permissions import can_watch_scheduler
from lms.notify.views import bp
from lms.pagination import Page, paginate

log = logging.getLogger(__name__)

RECENT_RUNS = 30
STATUSES = tuple(status.value for status in OutboxStatus)


def _require_admin() -> None:
    if not can_watch_scheduler(current_user):
        abort(403)


# ---------------------------------------------------------------- reads

@dataclass(frozen=True)
class JobRow:
    id: str
    description: str
    schedule: str
    cron: str
    last_run: JobRun | None
    next_run: datetime | None
    scheduled: bool            # the next run comes from the scheduler's own store


def describe_schedule(trigger: dict[str, Any]) -> str:
    """The cron fields (UTC) in words, for the common shapes; else the fields as they are."""
    fields = {k: str(v) for k, v in trigger.items()}
    minute = fields.get("minute")
    if set(fields) == {"minute"} and minute == "*":
        return _("Every minute")
    if set(fields) == {"minute"} and minute and minute.startswith("*/"):
        return _("Every %(num)s minutes", num=minute[2:])
    if set(fields) == {"minute"} and minute and minute.isdigit():
        return _("Every hour at minute %(minute)s", minute=minute)
    if set(fields) == {"hour", "minute"} and all(v.isdigit() for v in fields.values()):
        return _("Every day at %(time)s UTC", time=f"{int(fields['hour']):02d}:"
                                                 f"{int(fields['minute']):02d}")
    return " ".join(f"{k}={v}" for k, v in trigger.items())


def _fallback_next(job: Job, now: datetime) -> datetime | None:
    """When the trigger would fire next (the scheduler has not stored the job yet)."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        return CronTrigger(timezone=timezone.utc, **job.trigger).get_next_fire_time(None, now)
    except (TypeError, ValueError):
        return None


def last_runs(dbs: Session) -> dict[str, JobRun]:
    """Each job's most recently started run (one query)."""
    ranked = select(JobRun.id, func.row_number().over(
        partition_by=JobRun.job, order_by=(JobRun.started_at.desc(), JobRun.id.desc()))
        .label("rank")).subquery()
    runs = dbs.scalars(select(JobRun).join(ranked, ranked.c.id == JobRun.id)
                       .where(ranked.c.rank == 1))
    return {run.job: run for run in runs}


def recent_runs(dbs: Session, job_id: str, limit: int = RECENT_RUNS) -> list[JobRun]:
    return list(dbs.scalars(select(JobRun).where(JobRun.job == job_id)
                            .order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)))


def job_rows(dbs: Session, jobs: dict[str, Job], stored: dict[str, datetime | None],
             now: datetime) -> list[JobRow]:
    last = last_runs(dbs)
    rows = []
    for job in jobs.values():
        scheduled = job.id in stored
        rows.append(JobRow(
            id=job.id, description=str(job.description or ""),
            schedule=describe_schedule(job.trigger),
            cron=" ".join(f"{k}={v}" for k, v in job.trigger.items()),
            last_run=last.get(job.id),
            next_run=stored[job.id] if scheduled else _fallback_next(job, now),
            scheduled=scheduled))
    return rows


def outbox_counts(dbs: Session) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in dbs.execute(select(OutboxEmail.status, func.count())
                                     .group_by(OutboxEmail.status)):
        counts[status] = count
    return counts


def outbox_page(dbs: Session, status: str, page: int, per_page: int) -> Page[OutboxEmail]:
    """The outbox, newest first (failed ones: the latest attempt first), with recipients."""
    query = select(OutboxEmail).options(joinedload(OutboxEmail.user))
    if status:
        query = query.where(OutboxEmail.status == status)
    if status == OutboxStatus.PENDING.value:
        query = query.order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
    else:
        query = query.order_by(OutboxEmail.created_at.desc(), OutboxEmail.id.desc())
    return paginate(dbs, query, page, per_page)


# ---------------------------------------------------------------- pages

@bp.route("/admin/scheduler", endpoint="admin_scheduler")
@login_required
def scheduler_page():
    _require_admin()
    from lms.scheduler import all_jobs, next_runs

    jobs = all_jobs()
    selected = request.args.get("job", "")
    if selected and selected not in jobs:
        abort(404)
    stored = next_runs(db.session)
    now = utcnow()
    rows = job_rows(db.session, jobs, stored, now)
    runs = recent_runs(db.session, selected) if selected else []
    return render_template("notify/admin_scheduler.html", rows=rows, selected=selected,
                           runs=runs, scheduler_started=bool(stored), now=now)


@bp.route("/admin/outbox", endpoint="admin_outbox")
@login_required
def outbox_list():
    _require_admin()
    status = request.args.get("status", "")
    if status not in STATUSES:
        status = ""
    counts = outbox_counts(db.session)
    page = outbox_page(db.session, status, request.args.get("page", 1, type=int),
                       current_app.config["PAGE_SIZE"])
    return render_template("notify/admin_outbox.html", page=page, counts=counts, status=status,
                           statuses=STATUSES, args={"status": status} if status else {},
                           action_form=ActionForm(formdata=None),
                           smtp_configured=bool(current_app.config.get("SMTP_HOST")))


@bp.route("/admin/outbox/<int:outbox_id>/retry", methods=["POST"], endpoint="admin_outbox_retry")
@login_required
def outbox_retry(outbox_id: int):
    email = db.session.get(OutboxEmail, outbox_id) or abort(404)
    _require_admin()
    if not ActionForm().validate_on_submit():
        abort(400)
    if email.status != OutboxStatus.FAILED.value:
        flash(_("Only an e-mail that was given up can be retried."), "error")
        return redirect(url_for("notify.admin_outbox", status=email.status))
    retry_failed(db.session, utcnow(), [email.id])
    record(db.session, current_user, "outbox.retry", email, label=email.key)
    db.session.commit()
    log.info("outbox %s put back in the queue by %s", email.key, current_user.id)
    flash(_("The e-mail is back in the queue: it is sent within a minute."), "success")
    return redirect(url_for("notify.admin_outbox", status=OutboxStatus.FAILED.value))


@bp.route("/admin/outbox/retry-failed", methods=["POST"], endpoint="admin_outbox_retry_failed")
@login_required
def outbox_retry_failed():
    _require_admin()
    if not ActionForm().validate_on_submit():
        abort(400)
    count = retry_failed(db.session, utcnow())
    if count:
        record(db.session, current_user, "outbox.retry_all", None, count=count)
    db.session.commit()
    log.info("%d failed e-mails put back in the queue by %s", count, current_user.id)
    flash(ngettext("%(num)d e-mail is back in the queue.", "%(num)d e-mails are back in the queue.",
                   count), "success" if count else "info")
    return redirect(url_for("notify.admin_outbox"))
