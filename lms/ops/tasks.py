"""Scheduled work of operations: the scheduler's heartbeat (run by `lms scheduler`).

Each minute's run leaves a JobRun row; /readyz reads the newest one to tell whether the
scheduler process is alive. Runs older than ``KEEP_HEARTBEATS`` are removed by the
heartbeat itself, so the table does not grow by 1,440 rows a day.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete
from sqlalchemy.orm import Session

from lms.notify.jobs import Job, every_minute
from lms.ops.health import HEARTBEAT_JOB

KEEP_HEARTBEATS = timedelta(days=2)


def heartbeat(dbs: Session, now: datetime) -> str:
    """Say the scheduler is alive (the run's own row is the heartbeat)."""
    from lms.notify.models import JobRun

    dbs.execute(delete(JobRun).where(JobRun.job == HEARTBEAT_JOB,
                                     JobRun.started_at < now - KEEP_HEARTBEATS)
                .execution_options(synchronize_session=False))
    return "alive"


JOBS = [
    Job(HEARTBEAT_JOB, heartbeat, {"minute": "*"}, every_minute,
        _l("The scheduler says it is alive (the /readyz health check reads this)")),
]
