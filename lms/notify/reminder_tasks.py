"""The learners' reminders job (the integrator lists ``JOBS`` in ``lms/notify/tasks.py``)."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from lms.notify.jobs import Job, hourly


def reminders(dbs: Session, now: datetime) -> str:
    """Due-date reminders, overdue notices and certificate expiry notices, from 08:00 local
    time in each learner's timezone."""
    from lms.notify.reminders import send_reminders

    return str(send_reminders(dbs, now))


JOBS = [
    Job("notify.reminders", reminders, {"minute": 5}, hourly,
        _l("Reminders before due dates, overdue notices and certificates expiring "
           "(from 08:00 in each learner's timezone)")),
]
