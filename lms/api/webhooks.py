"""Webhooks: endpoints other systems register, events queued with what caused them, and
signed deliveries with retries.

An event is queued in the transaction that caused it (a completion, an issue, a
revocation), one row per subscribed endpoint, under a key unique per endpoint: firing
twice queues once. Its payload is a snapshot taken then. Delivery follows the e-mail
outbox (``lms.notify.outbox``): due rows are claimed with one conditional UPDATE (SKIP
LOCKED on PostgreSQL) and the claim committed, no transaction stays open while a receiver
is called, and every outcome of a batch is recorded with one statement. A row keeps its
``delivery_id`` on every attempt, so a receiver can drop a repeat; each attempt is signed
afresh (``X-LMS-Signature: v1=HMAC-SHA256(secret, "<timestamp>." + body)``).

Signing secrets are shown once and stored encrypted (Fernet, key derived from the app's
SECRET_KEY). Deactivating an endpoint pauses it: its events are still queued and wait,
and are delivered once it is active again.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lms.api.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from lms.audit.services import record
from lms.courses.models import Course, Enrolment
from lms.db import iso_utc, utcnow
from lms.errors import DomainError
from lms.org.models import Unit, User
from lms.pagination import Page, paginate
from lms.text import clean

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
SIGNATURE_TOLERANCE = 300               # seconds: an older (or future) timestamp is a replay
MAX_NAME, MAX_URL = 120, 500
PING = "ping"

EVENT_LABELS = {
    WebhookEvent.COURSE_COMPLETED.value: _l("Course completed"),
    WebhookEvent.CERTIFICATE_ISSUED.value: _l("Certificate issued"),
    WebhookEvent.CERTIFICATE_REVOKED.value: _l("Certificate revoked"),
}


# ---------------------------------------------------------------- secrets and signatures

def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _fernet() -> Fernet:
    digest = hashlib.sha256(str(current_app.config["SECRET_KEY"]).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_secret(secret: str) -> bytes:
    return _fernet().encrypt(secret.encode())


def decrypt_secret(encrypted: bytes) -> str:
    """The signing secret; raises ``cryptography.fernet.InvalidToken`` when SECRET_KEY changed."""
    return _fernet().decrypt(bytes(encrypted)).decode()


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header's value: ``v1=`` + hex HMAC-SHA256 of ``"<timestamp>." + body``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify_signature(secret: str, timestamp: int | str, body: bytes, header: str,
                     now: datetime | float | None = None,
                     tolerance: int = SIGNATURE_TOLERANCE) -> bool:
    """What a receiver checks: the timestamp is within ``tolerance`` seconds of ``now`` (an
    older one is a replay) and one of the header's ``v1=`` signatures matches the body."""
    try:
        sent = int(str(timestamp).strip())
    except (TypeError, ValueError):
        return False
    if now is None:
        current = time.time()
    elif isinstance(now, datetime):
        current = now.timestamp()
    else:
        current = float(now)
    if abs(current - sent) > tolerance:
        return False
    expected = sign(secret, sent, body)
    return any(hmac.compare_digest(candidate.strip(), expected)
               for candidate in (header or "").split(",") if candidate.strip())


# ---------------------------------------------------------------- endpoints

def event_choices() -> list[tuple[str, Any]]:
    return [(event.value, EVENT_LABELS[event.value]) for event in WebhookEvent]


def _check(name: str, url: str, events: Iterable[str]) -> tuple[str, str, list[str]]:
    name = clean(name)
    if not name:
        raise DomainError(_("Give the endpoint a name (the system that receives the events)."),
                          field="name")
    if len(name) > MAX_NAME:
        raise DomainError(_("The name is too long (at most %(n)d characters).", n=MAX_NAME),
                          field="name")
    url = (url or "").strip()
    parts = urlsplit(url) if url and not any(ch.isspace() for ch in url) else None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise DomainError(_("Enter a web address starting with https:// (or http://), such as "
                            "https://hr.example.gov.vn/lms-events."), field="url")
    if len(url) > MAX_URL:
        raise DomainError(_("The address is too long (at most %(n)d characters).", n=MAX_URL),
                          field="url")
    if parts.username or parts.password:
        raise DomainError(_("The address must not contain a user name or password: the "
                            "signature proves who sends."), field="url")
    events = set(events)
    unknown = sorted(events - set(EVENT_LABELS))
    if unknown:
        raise DomainError(_("Unknown event: %(events)s.", events=", ".join(unknown)),
                          field="events")
    if not events:
        raise DomainError(_("Choose at least one event."), field="events")
    return name, url, [event.value for event in WebhookEvent if event.value in events]


def create_endpoint(dbs: Session, actor: Any, name: str, url: str,
                    events: Iterable[str]) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (shown once; only its encrypted form is kept)."""
    name, url, events = _check(name, url, events)
    secret = new_secret()
    endpoint = WebhookEndpoint(name=name, url=url, events=events,
                               secret_encrypted=encrypt_secret(secret), is_active=True,
                               created_by_id=getattr(actor, "id", None))
    dbs.add(endpoint)
    dbs.flush()
    record(dbs, actor, "webhook.created", endpoint, label=name, url=url, events=events)
    log.info("webhook endpoint %s (%s) created by %s", endpoint.id, url, getattr(actor, "id", None))
    return endpoint, secret


def update_endpoint(dbs: Session, actor: Any, endpoint: WebhookEndpoint, name: str, url: str,
                    events: Iterable[str]) -> WebhookEndpoint:
    name, url, events = _check(name, url, events)
    changes = {key: value for key, value in (("name", name), ("url", url), ("events", events))
               if getattr(endpoint, key) != value}
    for key, value in changes.items():
        setattr(endpoint, key, value)
    if changes:
        record(dbs, actor, "webhook.updated", endpoint, label=name, changes=changes)
    dbs.flush()
    return endpoint


def rotate_secret(dbs: Session, actor: Any, endpoint: WebhookEndpoint) -> str:
    """A new signing secret; every attempt from now on is signed with it."""
    secret = new_secret()
    endpoint.secret_encrypted = encrypt_secret(secret)
    endpoint.secret_rotated_at = utcnow()
    record(dbs, actor, "webhook.secret_rotated", endpoint, label=endpoint.name)
    dbs.flush()
    return secret


def set_endpoint_active(dbs: Session, actor: Any, endpoint: WebhookEndpoint, active: bool) -> None:
    """Pause (its deliveries wait, new events still queue) or resume an endpoint."""
    if endpoint.is_active == active:
        return
    endpoint.is_active = active
    record(dbs, actor, "webhook.activated" if active else "webhook.deactivated", endpoint,
           label=endpoint.name)
    dbs.flush()


def send_again(dbs: Session, actor: Any, delivery: WebhookDelivery, now: datetime) -> None:
    """Put a given-up delivery back in the queue, due now, with the same delivery id; its
    tries are kept, so it gets one more attempt before it is given up again."""
    if delivery.status != DeliveryStatus.FAILED.value:
        raise DomainError(_("Only a delivery that was given up can be sent again."))
    dbs.execute(update(WebhookDelivery).where(
        WebhookDelivery.id == delivery.id,
        WebhookDelivery.status == DeliveryStatus.FAILED.value)
        .values(status=DeliveryStatus.PENDING.value, next_attempt_at=now, claimed_at=None)
        .execution_options(synchronize_session="fetch"))
    record(dbs, actor, "webhook.resent", delivery, label=delivery.delivery_id,
           endpoint_id=delivery.endpoint_id)


# ---------------------------------------------------------------- queueing events

def _dialect_insert(dbs: Session):
    if dbs.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def enqueue(dbs: Session, event: WebhookEvent, event_key: str,
            data: Callable[[], dict[str, Any]], now: datetime | None = None) -> int:
    """Queue ``event`` for every endpoint subscribed to it (paused ones too), in the caller's
    transaction; an (endpoint, key) already queued is skipped. ``data()`` builds the
    payload's snapshot, only when some endpoint wants it. Returns how many rows were added."""
    subscribed = [endpoint_id for endpoint_id, events in
                  dbs.execute(select(WebhookEndpoint.id, WebhookEndpoint.events))
                  if event.value in (events or [])]
    if not subscribed:
        return 0
    now = now or utcnow()
    snapshot = data()
    rows = []
    for endpoint_id in sorted(subscribed):
        delivery_id = str(uuid.uuid4())
        rows.append(dict(
            endpoint_id=endpoint_id, event=event.value, event_key=event_key[:200],
            delivery_id=delivery_id,
            payload={"id": delivery_id, "type": event.value, "created_at": iso_utc(now),
                     "data": snapshot},
            status=DeliveryStatus.PENDING.value, tries=0, created_at=now, next_attempt_at=now,
            last_response="", last_error=""))
    insert = _dialect_insert(dbs)
    stmt = (insert(WebhookDelivery).values(rows)
            .on_conflict_do_nothing(index_elements=["endpoint_id", "event_key"])
            .returning(WebhookDelivery.id))
    return len(dbs.execute(stmt).all())


def _people_columns():
    return (User.employee_code, User.full_name, User.email, Unit.code.label("unit_code"),
            Course.slug, Course.title)


def _person_course(row: Any) -> dict[str, Any]:
    return {"person": {"employee_code": row.employee_code, "full_name": row.full_name,
                       "email": row.email, "unit_code": row.unit_code},
            "course": {"slug": row.slug, "title": row.title}}


def queue_course_completed(dbs: Session, enrolment: Enrolment) -> int:
    def data() -> dict[str, Any]:
        row = dbs.execute(
            select(*_people_columns()).select_from(Enrolment)
            .join(User, User.id == Enrolment.user_id).join(Course, Course.id == Enrolment.course_id)
            .outerjoin(Unit, Unit.id == User.unit_id).where(Enrolment.id == enrolment.id)).one()
        return {"enrolment_id": enrolment.id, "completed_at": iso_utc(enrolment.completed_at),
                **_person_course(row)}

    key = f"{WebhookEvent.COURSE_COMPLETED.value}:{enrolment.id}:{iso_utc(enrolment.completed_at)}"
    return enqueue(dbs, WebhookEvent.COURSE_COMPLETED, key, data)


def queue_certificate(dbs: Session, event: WebhookEvent, certificate: Any) -> int:
    from lms.certificates.models import Certificate
    from lms.certificates.services import verify_url

    def data() -> dict[str, Any]:
        row = dbs.execute(
            select(*_people_columns()).select_from(Certificate)
            .join(User, User.id == Certificate.user_id)
            .join(Course, Course.id == Certificate.course_id)
            .outerjoin(Unit, Unit.id == User.unit_id).where(Certificate.id == certificate.id)).one()
        return {"serial": certificate.serial, "code": certificate.code,
                "verify_url": verify_url(certificate.code),
                "enrolment_id": certificate.enrolment_id,
                "completed_at": iso_utc(certificate.completed_at),
                "issued_at": iso_utc(certificate.issued_at),
                "expires_at": iso_utc(certificate.expires_at),
                "revoked_at": iso_utc(certificate.revoked_at),
                "reason": certificate.revoked_reason, **_person_course(row)}

    return enqueue(dbs, event, f"{event.value}:{certificate.id}", data)


def _queue_safely(session: Session, what: str, work: Callable[[], int]) -> None:
    """A webhook that cannot be queued never undoes what caused it (it is logged)."""
    try:
        with session.begin_nested():
            work()
    except Exception:
        log.exception("webhooks: could not queue %s", what)


def on_course_completed(sender: Any, session: Session, enrolment: Enrolment, **_kw: Any) -> None:
    _queue_safely(session, f"course.completed of enrolment {enrolment.id}",
                  lambda: queue_course_completed(session, enrolment))


def on_certificate_issued(sender: Any, session: Session, certificate: Any, **_kw: Any) -> None:
    _queue_safely(session, f"certificate.issued of {certificate.id}",
                  lambda: queue_certificate(session, WebhookEvent.CERTIFICATE_ISSUED, certificate))


def on_certificate_revoked(sender: Any, session: Session, certificate: Any, **_kw: Any) -> None:
    _queue_safely(session, f"certificate.revoked of {certificate.id}",
                  lambda: queue_certificate(session, WebhookEvent.CERTIFICATE_REVOKED, certificate))


def connect_signals() -> None:
    """Queue webhooks on the domain events (blinker keeps one connection per receiver, so
    calling this again is harmless)."""
    from lms.certificates.events import certificate_issued, certificate_revoked
    from lms.courses.events import course_completed

    course_completed.connect(on_course_completed, weak=False)
    certificate_issued.connect(on_certificate_issued, weak=False)
    certificate_revoked.connect(on_certificate_revoked, weak=False)


# ---------------------------------------------------------------- reads for the admin pages

@dataclass(frozen=True)
class EndpointRow:
    endpoint: WebhookEndpoint
    waiting: int       # pending or sending
    failed: int


def endpoint_rows(dbs: Session) -> list[EndpointRow]:
    """Every endpoint with its counts of waiting and given-up deliveries (two queries)."""
    endpoints = list(dbs.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.name,
                                                                  WebhookEndpoint.id)))
    counts: dict[tuple[int, str], int] = {}
    for endpoint_id, status, count in dbs.execute(
            select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count())
            .where(WebhookDelivery.status.in_([DeliveryStatus.PENDING.value,
                                               DeliveryStatus.SENDING.value,
                                               DeliveryStatus.FAILED.value]))
            .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status)):
        counts[(endpoint_id, status)] = count
    return [EndpointRow(endpoint=e,
                        waiting=counts.get((e.id, DeliveryStatus.PENDING.value), 0)
                        + counts.get((e.id, DeliveryStatus.SENDING.value), 0),
                        failed=counts.get((e.id, DeliveryStatus.FAILED.value), 0))
            for e in endpoints]


def deliveries_page(dbs: Session, endpoint_id: int, status: str, page: int,
                    per_page: int) -> Page[WebhookDelivery]:
    """An endpoint's deliveries, newest first (two queries)."""
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    return paginate(dbs, query.order_by(WebhookDelivery.id.desc()), page, per_page)
