"""Scheduled work of the notify domain (run by the `lms scheduler` process)."""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from lms.notify.jobs import Job, every_minute, hourly


def deliver_email(dbs: Session, now: datetime) -> str:
    """Send the e-mails of the outbox that are due (with retries and back-off)."""
    from lms.notify.outbox import MailSettings, deliver_due

    return str(deliver_due(dbs, now, MailSettings.from_config(current_app.config)))


def daily_digest(dbs: Session, now: datetime) -> str:
    """Queue the daily digest e-mails of the people whose local time has passed 07:00."""
    from lms.notify.outbox import queue_daily_digests

    count = queue_daily_digests(dbs, now)
    dbs.commit()
    return f"{count} digests queued"


JOBS = [
    # ---- e-mail: delivery and daily digests
    Job("notify.deliver_email", deliver_email, {"minute": "*"}, every_minute,
        _l("E-mails waiting in the outbox are sent (failed ones are retried later)")),
    Job("notify.daily_digest", daily_digest, {"minute": 3}, hourly,
        _l("People who chose a daily digest get one e-mail a day, at 07:00 their time")),
]
# Reminders and certificate notices: lms.notify.reminder_tasks; unit heads' digests and
# escalations: lms.notify.digest_tasks (both listed in lms.scheduler.TASK_MODULES).
