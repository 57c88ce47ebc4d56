"""Scheduled work of the reports domain (run by the `lms scheduler` process)."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from lms.notify.jobs import Job, daily


def snapshot(dbs: Session, now: datetime) -> str:
    """Freeze the last month end's figures (taken once, whatever how often it runs)."""
    from lms.reports.services import take_month_end_snapshot

    taken = take_month_end_snapshot(dbs, now)
    if taken is None:
        return "no organisation yet"
    return f"snapshot {taken.id} as of {taken.as_of.isoformat()}"


JOBS = [
    Job("reports.month_end_snapshot", snapshot, {"hour": 0, "minute": 30}, daily,
        _l("Month-end snapshot of every unit's figures")),
]
