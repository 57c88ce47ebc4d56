"""Scheduled work of the API (run by the `lms scheduler` process)."""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from lms.notify.jobs import Job, every_minute


def deliver_webhooks(dbs: Session, now: datetime) -> str:
    """Send the webhook deliveries that are due (with retries and back-off)."""
    from lms.api.delivery import WebhookSettings, deliver_due

    return str(deliver_due(dbs, now, WebhookSettings.from_config(current_app.config)))


JOBS = [
    Job("api.deliver_webhooks", deliver_webhooks, {"minute": "*"}, every_minute,
        _l("Events waiting for webhook endpoints are sent (failed ones are retried later)")),
]
