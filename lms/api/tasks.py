"""Scheduled work of the API (run by the `lms scheduler` process)."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete
from sqlalchemy.orm import Session

from lms.notify.jobs import Job, daily, every_minute


def deliver_webhooks(dbs: Session, now: datetime) -> str:
    """Send the webhook deliveries that are due (with retries and back-off)."""
    from lms.api.delivery import WebhookSettings, deliver_due

    return str(deliver_due(dbs, now, WebhookSettings.from_config(current_app.config)))


def prune_call_log(dbs: Session, now: datetime) -> str:
    """Forget API calls older than LMS_API_CALL_LOG_DAYS (the log would otherwise grow a row
    per call for ever)."""
    from lms.api.models import ApiCall

    cutoff = now - timedelta(days=current_app.config["API_CALL_LOG_DAYS"])
    removed = dbs.execute(delete(ApiCall).where(ApiCall.created_at < cutoff)
                          .execution_options(synchronize_session=False)).rowcount or 0
    dbs.commit()
    return f"{removed} calls older than {cutoff:%Y-%m-%d} removed"


JOBS = [
    Job("api.deliver_webhooks", deliver_webhooks, {"minute": "*"}, every_minute,
        _l("Events waiting for webhook endpoints are sent (failed ones are retried later)")),
    Job("api.prune_call_log", prune_call_log, {"hour": 19, "minute": 40}, daily,
        _l("API calls older than the kept period are removed from the clients' call logs")),
]
