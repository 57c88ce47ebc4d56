"""Scheduled work of the mentoring domain (run by the `lms scheduler` process)."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from lms.notify.jobs import Job, hourly


def escalate(dbs: Session, now: datetime) -> str:
    """Bring the unit's other mentors into requests left waiting too long."""
    from lms.mentoring.help import escalate_due

    return f"{escalate_due(dbs, now)} escalated"


def daily_list(dbs: Session, now: datetime) -> str:
    """The mentors' daily list of mentees who newly need help (08:00 in each mentor's time)."""
    from lms.mentoring.daily import daily_list as make_lists

    return make_lists(dbs, now)


JOBS = [
    Job("mentoring.escalate_help", escalate, {"minute": 10}, hourly,
        _l("Help requests waiting too long go to the unit's other mentors")),
    Job("mentoring.daily_list", daily_list, {"minute": 25}, hourly,
        _l("Mentors' daily list of mentees who newly need help (08:00, each mentor's time)")),
]
