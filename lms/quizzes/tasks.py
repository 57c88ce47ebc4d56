"""Scheduled work of the quizzes domain (run by the `lms scheduler` process)."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from lms.notify.jobs import Job, every_minute


def close_expired(dbs: Session, now: datetime) -> str:
    """Submit the attempts whose time is up, graded with what was saved."""
    from lms.quizzes.attempts import close_expired_attempts

    return f"{close_expired_attempts(dbs, now)} closed"


JOBS = [
    Job("quizzes.close_expired_attempts", close_expired, {"minute": "*/5"}, every_minute,
        _l("Quiz attempts whose time is up are submitted")),
]
