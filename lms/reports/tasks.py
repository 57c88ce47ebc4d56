"""Scheduled work of the reports domain (run by the `lms scheduler` process)."""
from __future__ import annotations

from datetime import datetime

from flask import Flask

from lms.db import db


def month_end_snapshot(app: Flask, now: datetime | None = None) -> int:
    """Freeze the last month end's figures, once whatever how often it runs; returns its id."""
    from lms.reports.services import take_month_end_snapshot
    with app.app_context():
        snapshot = take_month_end_snapshot(db.session, now)
        db.session.commit()
        return snapshot.id
