"""Scheduled work of the certificates domain (run by the `lms scheduler` process)."""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from lms.notify.jobs import Job, every_minute


def resume_bulk_jobs(dbs: Session, now: datetime) -> str:
    """Run the bulk issues that are queued or whose runner stopped (a restarted web server,
    a killed process): nobody has to press "Resume" after a restart."""
    from lms.certificates.jobs import pending_job_ids, work_pending

    if not pending_job_ids(dbs, now):
        return "nothing to resume"
    dbs.rollback()  # the jobs run in their own transactions
    return f"bulk issues run: {work_pending(current_app._get_current_object())}"


JOBS = [
    Job("certificates.resume_bulk_jobs", resume_bulk_jobs, {"minute": "*"}, every_minute,
        _l("Bulk certificate issues that were queued or interrupted are run to the end")),
]
