"""Delivering webhooks, as the e-mail outbox delivers e-mail (``lms.notify.outbox``): due
rows are claimed with one conditional UPDATE (SKIP LOCKED on PostgreSQL) and the claim
committed, no transaction stays open while a receiver is called, each attempt is signed
afresh under the same ``X-LMS-Delivery`` id, and every outcome of a batch is recorded with
one statement; failures are retried with growing delays.
"""
from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import InvalidToken
from flask import current_app
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from lms.api.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from lms.api.webhooks import PING, decrypt_secret, sign
from lms.db import claim_due, iso_utc
from lms.notify.outbox import backoff

log = logging.getLogger(__name__)

USER_AGENT = "lms-webhooks/1"
STALE_SENDING = timedelta(minutes=15)   # a row "sending" this long belongs to a dead process
BATCH_SIZE = 20
MAX_BATCHES = 10                        # a run sends at most this many batches (next minute: more)
RESPONSE_EXCERPT = 2000                 # characters of the receiver's answer kept



@dataclass(frozen=True)
class WebhookSettings:
    timeout: float = 10
    max_tries: int = 10

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WebhookSettings:
        return cls(timeout=float(config.get("WEBHOOK_TIMEOUT", 10)),
                   max_tries=int(config.get("WEBHOOK_MAX_TRIES", 10)))


@dataclass
class DeliveryReport:
    """What one delivery run did (the job's result on the scheduler page)."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.delivered} delivered, {self.retrying} to retry, {self.failed} failed"
        if self.errors:
            text += f"; {self.errors[-1]}"
        return text


def due_clause(now: datetime):
    """Rows of active endpoints to (re)try now: pending and due, or sending and abandoned."""
    active = WebhookDelivery.endpoint_id.in_(
        select(WebhookEndpoint.id).where(WebhookEndpoint.is_active.is_(True)))
    return and_(active, or_(
        and_(WebhookDelivery.status == DeliveryStatus.PENDING.value,
             WebhookDelivery.next_attempt_at <= now),
        and_(WebhookDelivery.status == DeliveryStatus.SENDING.value,
             WebhookDelivery.claimed_at < now - STALE_SENDING)))


def claim_batch(dbs: Session, now: datetime, limit: int = BATCH_SIZE) -> list[int]:
    """Take up to ``limit`` due rows for this process (see ``lms.db.claim_due``)."""
    return claim_due(dbs, WebhookDelivery, due_clause(now),
                     (WebhookDelivery.next_attempt_at, WebhookDelivery.id), limit,
                     status=DeliveryStatus.SENDING.value, claimed_at=now)


@dataclass(frozen=True)
class Outgoing:
    """One claimed delivery, ready to send (``error``: it cannot be sent at all)."""

    id: int
    endpoint_id: int
    delivery_id: str
    event: str
    url: str
    tries: int
    body: bytes
    secret: str
    active: bool
    error: str = ""


@dataclass(frozen=True)
class Answer:
    """What one attempt got: the status code (None: no answer), an excerpt, an error."""

    status: int | None
    text: str = ""
    error: str = ""
    reason: str = ""   # why the endpoint could not be reached (the system's words)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def body_of(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _read_batch(dbs: Session, ids: Sequence[int]) -> list[Outgoing]:
    rows = dbs.execute(select(WebhookDelivery, WebhookEndpoint)
                       .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                       .where(WebhookDelivery.id.in_(ids)).order_by(WebhookDelivery.id)).all()
    secrets_by_endpoint: dict[int, str] = {}
    outgoing = []
    for delivery, endpoint in rows:
        error = ""
        if endpoint.id not in secrets_by_endpoint:
            try:
                secrets_by_endpoint[endpoint.id] = decrypt_secret(endpoint.secret_encrypted)
            except InvalidToken:
                secrets_by_endpoint[endpoint.id] = ""
        secret = secrets_by_endpoint[endpoint.id]
        if not secret:
            error = ("The signing secret cannot be decrypted (LMS_SECRET_KEY changed?): "
                     "rotate the endpoint's secret.")
        outgoing.append(Outgoing(
            id=delivery.id, endpoint_id=endpoint.id, delivery_id=delivery.delivery_id,
            event=delivery.event, url=endpoint.url, tries=delivery.tries,
            body=body_of(delivery.payload), secret=secret, active=endpoint.is_active, error=error))
    return outgoing


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer that is not 2xx: the body is never sent on elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _excerpt(response: Any) -> str:
    try:
        raw = response.read(RESPONSE_EXCERPT * 4)
    except (OSError, http.client.HTTPException):
        return ""
    return raw.decode("utf-8", errors="replace")[:RESPONSE_EXCERPT]


def headers_for(secret: str, event: str, delivery_id: str, body: bytes,
                moment: datetime) -> dict[str, str]:
    timestamp = int(moment.timestamp())
    return {"Content-Type": "application/json", "User-Agent": USER_AGENT,
            "X-LMS-Event": event, "X-LMS-Delivery": delivery_id,
            "X-LMS-Timestamp": str(timestamp), "X-LMS-Signature": sign(secret, timestamp, body)}


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
    """POST the body; never raises for what the receiver or the network does."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with _opener.open(request, timeout=timeout) as response:
            return Answer(response.status, _excerpt(response))
    except urllib.error.HTTPError as exc:
        text = _excerpt(exc)
        exc.close()
        return Answer(exc.code, text, f"HTTP {exc.code}")
    except urllib.error.URLError as exc:
        reason = str(exc.reason)[:1000]
    except (OSError, http.client.HTTPException, ValueError) as exc:
        reason = f"{type(exc).__name__}: {exc}"[:1000]
    return Answer(None, "", f"Cannot reach the endpoint: {reason}", reason=reason)


def deliver_due(dbs: Session, now: datetime, settings: WebhookSettings | None = None,
                max_batches: int = MAX_BATCHES, batch_size: int = BATCH_SIZE) -> DeliveryReport:
    """Send the deliveries that are due, batch after batch; returns what was done.

    Signatures carry the time of each attempt (``now`` plus the time this run has taken)."""
    settings = settings or WebhookSettings.from_config(current_app.config)
    started = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    report = DeliveryReport()
    for _batch in range(max_batches):
        ids = claim_batch(dbs, now, batch_size)
        if not ids:
            break
        report.claimed += len(ids)
        _deliver_batch(dbs, ids, now, clock, settings, report)
    return report


def _deliver_batch(dbs: Session, ids: Sequence[int], now: datetime,
                   clock: Callable[[], datetime], settings: WebhookSettings,
                   report: DeliveryReport) -> None:
    items = _read_batch(dbs, ids)
    dbs.commit()   # no transaction stays open while receivers are called
    outcomes: list[tuple[Outgoing, Answer, datetime]] = []
    released: list[Outgoing] = []
    unreachable: dict[int, str] = {}   # endpoint id -> why: its other rows are not tried now
    for item in items:
        if not item.active:   # paused after the claim: back to the queue untouched
            released.append(item)
            continue
        if item.error:
            outcomes.append((item, Answer(None, "", item.error), clock()))
            continue
        if item.endpoint_id in unreachable:
            outcomes.append((item, Answer(None, "", "Not tried: " + unreachable[item.endpoint_id]),
                             clock()))
            continue
        moment = clock()
        answer = post(item.url, item.body,
                      headers_for(item.secret, item.event, item.delivery_id, item.body, moment),
                      settings.timeout)
        if answer.status is None:
            unreachable[item.endpoint_id] = answer.error
        if answer.ok:
            # Recorded and committed at once: a process killed later in the batch leaves no
            # delivered event looking undelivered (it would be sent again).
            _record(dbs, now, [(item, answer, moment)], [], settings, report)
            dbs.commit()
            continue
        outcomes.append((item, answer, moment))
    _record(dbs, now, outcomes, released, settings, report)
    dbs.commit()


def _record(dbs: Session, now: datetime, outcomes: Iterable[tuple[Outgoing, Answer, datetime]],
            released: Sequence[Outgoing], settings: WebhookSettings, report: DeliveryReport) -> None:
    """Every outcome of a batch in one executemany UPDATE. The next attempt counts from the
    run's ``now``, so it falls due on a run of the minute schedule."""
    rows: list[dict[str, Any]] = []
    for item, answer, moment in outcomes:
        tries = item.tries + 1
        if answer.ok:
            report.delivered += 1
            rows.append(dict(id=item.id, status=DeliveryStatus.DELIVERED.value, tries=tries,
                             delivered_at=moment, next_attempt_at=moment, claimed_at=None,
                             last_status_code=answer.status, last_response=answer.text,
                             last_error=""))
            continue
        error = answer.error or f"HTTP {answer.status}"
        given_up = tries >= settings.max_tries
        if given_up:
            report.failed += 1
        else:
            report.retrying += 1
        report.errors.append(error)
        rows.append(dict(id=item.id, tries=tries, delivered_at=None, claimed_at=None,
                         status=(DeliveryStatus.FAILED if given_up else DeliveryStatus.PENDING).value,
                         next_attempt_at=now + backoff(tries), last_status_code=answer.status,
                         last_response=answer.text, last_error=error[:2000]))
        log.warning("webhook %s to %s: %s (try %d)", item.delivery_id, item.url, error, tries)
    if rows:
        dbs.execute(update(WebhookDelivery), rows)
    if released:
        dbs.execute(update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_([item.id for item in released]))
                    .values(status=DeliveryStatus.PENDING.value, claimed_at=None)
                    .execution_options(synchronize_session=False))


@dataclass(frozen=True)
class PingTarget:
    """What a ping needs, read before the call (no transaction stays open during it)."""

    url: str
    name: str
    secret: str

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> PingTarget:
        try:
            secret = decrypt_secret(endpoint.secret_encrypted)
        except InvalidToken:
            secret = ""
        return cls(url=endpoint.url, name=endpoint.name, secret=secret)


def send_ping(target: PingTarget, now: datetime, settings: WebhookSettings | None = None) -> Answer:
    """POST a signed ``ping`` to the endpoint now (nothing is queued or recorded)."""
    settings = settings or WebhookSettings.from_config(current_app.config)
    if not target.secret:
        reason = "the signing secret cannot be decrypted (LMS_SECRET_KEY changed?)"
        return Answer(None, "", reason, reason=reason)
    delivery_id = str(uuid.uuid4())
    body = body_of({"id": delivery_id, "type": PING, "created_at": iso_utc(now),
                    "data": {"endpoint": target.name}})
    return post(target.url, body, headers_for(target.secret, PING, delivery_id, body, now),
                min(settings.timeout, 10))
