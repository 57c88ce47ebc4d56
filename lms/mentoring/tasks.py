"""Scheduled work of the mentoring domain (run by the `lms scheduler` process)."""
from __future__ import annotations

from datetime import datetime

from flask import Flask

from lms.db import db


def escalate_help_requests(app: Flask, now: datetime | None = None) -> int:
    """Bring the unit's other mentors into requests left waiting too long; returns how many.
    Running it twice escalates nothing twice (each request is escalated once)."""
    from lms.mentoring.help import escalate_due

    with app.app_context():
        count = escalate_due(db.session, now)
        db.session.commit()
        return count
