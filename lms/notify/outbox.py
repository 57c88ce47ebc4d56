"""Sending the outbox over SMTP, and queueing the daily digests.

Delivery claims due rows in small batches with one conditional UPDATE (pending → sending,
``claimed_at``), so two processes never take the same row; renders each e-mail in the
recipient's language; sends the batch over one SMTP connection, holding no database
transaction while it talks to the server; and records every outcome with one statement.
A failed attempt comes back after a back-off (1, 2, 4, … minutes, at most 6 hours) and is
given up after ``EMAIL_MAX_TRIES``; when the server cannot be reached at all, nothing is
given up: the batch waits and tries again. A row left "sending" by a process that died is
taken again after 15 minutes. The Message-ID comes from the outbox key, so a mail client
recognises a repeat.
"""
from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime as rfc2822_date
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import String, and_, cast, exists, func, literal, null, or_, select, update
from sqlalchemy.orm import Session

from lms.db import claim_due, sqlite_write_intent
from lms.notify.email import (
    RenderedEmail,
    language_of,
    render_digest,
    render_notice,
    rendering_context,
)
from lms.notify.kinds import CATEGORIES
from lms.notify.models import EmailMode, Notification, NotificationPreference, OutboxEmail, OutboxStatus
from lms.notify.services import email_mode_column, insert_outbox_rows, with_preferences
from lms.org.models import User

log = logging.getLogger(__name__)

STALE_SENDING = timedelta(minutes=15)   # a row "sending" this long belongs to a dead process
MAX_BACKOFF = timedelta(hours=6)
BATCH_SIZE = 50
MAX_BATCHES = 20                        # a run sends at most this many batches (next minute: more)
DIGEST_KIND = "digest"
DIGEST_HOUR = 7                         # the daily digest goes out from 07:00, local time
DEFAULT_SENDER = "Bình dân học vụ số <no-reply@localhost>"


@dataclass(frozen=True)
class MailSettings:
    """How to reach the SMTP server (from the LMS_SMTP_* settings)."""

    host: str = ""
    port: int = 25
    user: str = ""
    password: str = ""
    tls: str = "none"                  # none | starttls | ssl
    timeout: float = 10
    sender: str = DEFAULT_SENDER
    max_tries: int = 8

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings:
        return cls(host=config.get("SMTP_HOST", "") or "", port=int(config.get("SMTP_PORT", 25)),
                   user=config.get("SMTP_USER", "") or "",
                   password=config.get("SMTP_PASSWORD", "") or "",
                   tls=(config.get("SMTP_TLS", "none") or "none").lower(),
                   timeout=float(config.get("SMTP_TIMEOUT", 10)),
                   sender=config.get("MAIL_FROM", DEFAULT_SENDER) or DEFAULT_SENDER,
                   max_tries=int(config.get("EMAIL_MAX_TRIES", 8)))

    @property
    def configured(self) -> bool:
        return bool(self.host)

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1] or "no-reply@localhost"


@dataclass
class DeliveryReport:
    """What one delivery run did (the job's result on the scheduler page)."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0          # back to pending, to try again after the back-off
    failed: int = 0            # given up
    waiting: int = 0           # not tried: SMTP not configured
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed"
        if self.waiting:
            text += f", {self.waiting} waiting (SMTP not configured)"
        if self.errors:
            text += f"; {self.errors[-1]}"
        return text


NOT_CONFIGURED = "SMTP is not configured (set LMS_SMTP_HOST): the e-mail waits in the outbox."


def backoff(tries: int) -> timedelta:
    """How long to wait after the ``tries``-th failed attempt: 1, 2, 4, … minutes, ≤ 6 h."""
    if tries < 1:
        return timedelta(0)
    if tries > 20:
        return MAX_BACKOFF
    return min(timedelta(minutes=2 ** (tries - 1)), MAX_BACKOFF)


def message_id(key: str, settings: MailSettings) -> str:
    """The same Message-ID for every attempt at one outbox row (a resend is seen as one)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = settings.sender_address.rpartition("@")[2] or "localhost"
    return f"<outbox.{digest}@{domain}>"


def due_clause(now: datetime):
    """Rows to (re)try now: pending and due, or sending and abandoned."""
    return or_(
        and_(OutboxEmail.status == OutboxStatus.PENDING.value, OutboxEmail.next_attempt_at <= now),
        and_(OutboxEmail.status == OutboxStatus.SENDING.value,
             OutboxEmail.claimed_at < now - STALE_SENDING))


def claim_batch(dbs: Session, now: datetime, limit: int = BATCH_SIZE) -> list[int]:
    """Take up to ``limit`` due rows for this process (see ``lms.db.claim_due``)."""
    return claim_due(dbs, OutboxEmail, due_clause(now),
                     (OutboxEmail.next_attempt_at, OutboxEmail.id), limit,
                     status=OutboxStatus.SENDING.value, claimed_at=now)


# ---------------------------------------------------------------- reading and rendering

@dataclass(frozen=True)
class Outgoing:
    """One claimed row, read and rendered (``error`` when it cannot be sent at all)."""

    id: int
    key: str
    tries: int
    to_name: str
    to_address: str
    email: RenderedEmail | None
    language: str = ""
    error: str = ""


def _read_batch(dbs: Session, ids: Sequence[int]) -> list[Outgoing]:
    """Three reads whatever the batch: the rows with their recipients, then every
    notification they show; then each e-mail rendered in its recipient's language."""
    rows = dbs.execute(
        select(OutboxEmail, User).join(User, User.id == OutboxEmail.user_id)
        .where(OutboxEmail.id.in_(ids)).order_by(OutboxEmail.id)).all()
    wanted: set[int] = set()
    for row, _user in rows:
        if row.kind == DIGEST_KIND:
            wanted.update(_digest_ids(row.params))
        elif row.notification_id:
            wanted.add(row.notification_id)
    notifications = {n.id: n for n in dbs.scalars(
        select(Notification).where(Notification.id.in_(wanted)))} if wanted else {}
    outgoing = []
    with rendering_context():
        for row, user in rows:
            outgoing.append(_render_row(row, user, notifications))
    return outgoing


def _digest_ids(params: Any) -> list[int]:
    raw = (params or {}).get("ids") or []
    if isinstance(raw, str):  # a JSON text some drivers hand back as it was aggregated
        import json
        raw = json.loads(raw)
    return sorted({int(value) for value in raw if value is not None})


def _render_row(row: OutboxEmail, user: User, notifications: Mapping[int, Notification]) -> Outgoing:
    base = dict(id=row.id, key=row.key, tries=row.tries, to_name=user.full_name,
                to_address=user.email or "", language=language_of(user.locale))
    if not user.is_active or not user.email:
        return Outgoing(**base, email=None, error="The account is deactivated or has no e-mail.")
    try:
        if row.kind == DIGEST_KIND:
            shown = [notifications[i] for i in _digest_ids(row.params)
                     if i in notifications and notifications[i].user_id == user.id]
            day = (row.params or {}).get("date")
            email = render_digest([(n.kind, n.params or {}, n.body, n.link) for n in shown],
                                  recipient_name=user.full_name, locale=user.locale,
                                  day=date.fromisoformat(day) if day else None)
        else:
            notification = notifications.get(row.notification_id or 0)
            email = render_notice(row.kind, row.params or {}, recipient_name=user.full_name,
                                  locale=user.locale,
                                  body=notification.body if notification else "",
                                  link=notification.link if notification else "")
    except Exception as exc:  # one broken e-mail must not stop the others
        log.exception("outbox %s: cannot render", row.key)
        return Outgoing(**base, email=None, error=f"Cannot render the e-mail: {exc}"[:2000])
    return Outgoing(**base, email=email)


def build_message(item: Outgoing, settings: MailSettings, now: datetime) -> EmailMessage:
    assert item.email is not None
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = Address(display_name=item.to_name, addr_spec=item.to_address)
    message["Subject"] = item.email.subject
    message["Date"] = rfc2822_date(now)
    message["Message-ID"] = message_id(item.key, settings)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(item.email.text)
    message.add_alternative(item.email.html, subtype="html")
    if item.language:   # after the parts: making them moves every Content-* header down
        message["Content-Language"] = item.language
    return message


# ---------------------------------------------------------------- SMTP

class ServerUnavailable(Exception):
    """The SMTP server cannot be reached or refuses the session: nobody's fault but its own."""


def _connect(settings: MailSettings) -> smtplib.SMTP:
    try:
        if settings.tls == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout,
                context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
            if settings.tls == "starttls":
                server.starttls(context=ssl.create_default_context())
        if settings.user:
            server.login(settings.user, settings.password)
        return server
    except (OSError, smtplib.SMTPException) as exc:
        raise ServerUnavailable(f"{type(exc).__name__}: {exc}") from exc


def _close(server: smtplib.SMTP) -> None:
    try:
        server.quit()
    except (OSError, smtplib.SMTPException):
        server.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [f"{code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                 for code, msg in exc.recipients.values()]
        return "Recipient refused: " + "; ".join(parts)
    if isinstance(exc, smtplib.SMTPResponseException):
        message = exc.smtp_error
        if isinstance(message, bytes):
            message = message.decode(errors="replace")
        return f"{type(exc).__name__}: {exc.smtp_code} {message}"
    return f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------- delivery

def deliver_due(dbs: Session, now: datetime, settings: MailSettings | None = None, *,
                batch_size: int = BATCH_SIZE, max_batches: int = MAX_BATCHES) -> DeliveryReport:
    """Send the e-mails that are due at ``now``. Commits as it goes (claims, then outcomes);
    safe to run in several processes at once."""
    if settings is None:
        from flask import current_app

        settings = MailSettings.from_config(current_app.config)
    report = DeliveryReport()
    token = sqlite_write_intent.set(True)   # SQLite: every transaction here writes
    try:
        if not settings.configured:
            report.waiting = _mark_not_configured(dbs, now)
            dbs.commit()
            return report
        for _ in range(max_batches):
            ids = claim_batch(dbs, now, batch_size)
            if not ids:
                break
            report.claimed += len(ids)
            reachable = _deliver_batch(dbs, ids, now, settings, report)
            if not reachable or len(ids) < batch_size:
                break
    finally:
        sqlite_write_intent.reset(token)
    if report.claimed:
        log.info("outbox delivery: %s", report)
    return report


def _mark_not_configured(dbs: Session, now: datetime) -> int:
    return dbs.execute(
        update(OutboxEmail)
        .where(OutboxEmail.status == OutboxStatus.PENDING.value,
               OutboxEmail.next_attempt_at <= now, OutboxEmail.last_error != NOT_CONFIGURED)
        .values(last_error=NOT_CONFIGURED)
        .execution_options(synchronize_session=False)).rowcount or 0


def _deliver_batch(dbs: Session, ids: Sequence[int], now: datetime, settings: MailSettings,
                   report: DeliveryReport) -> bool:
    """Send one claimed batch; False when the server could not be reached."""
    items = _read_batch(dbs, ids)
    dbs.commit()   # no transaction stays open while the SMTP server is talked to
    outcomes: dict[int, tuple[str | None, Outgoing]] = {}   # id -> (error, item) of failures
    sent: set[int] = set()
    sendable = []
    for item in items:
        if item.email is None:
            outcomes[item.id] = (item.error, item)
        else:
            sendable.append(item)
    unreachable = ""
    if sendable:
        try:
            server = _connect(settings)
        except ServerUnavailable as exc:
            unreachable = str(exc)
        else:
            try:
                for index, item in enumerate(sendable):
                    try:
                        server.send_message(build_message(item, settings, now),
                                            from_addr=settings.sender_address,
                                            to_addrs=[item.to_address])
                    except smtplib.SMTPServerDisconnected as exc:
                        unreachable = _describe(exc)
                        sendable = sendable[index:]
                        break
                    except smtplib.SMTPException as exc:   # this message: refused, too big…
                        outcomes[item.id] = (_describe(exc), item)
                    except OSError as exc:                  # (SMTPException is one too)
                        unreachable = _describe(exc)
                        sendable = sendable[index:]
                        break
                    else:
                        # Recorded and committed at once: a process killed later in the
                        # batch leaves no sent e-mail looking unsent (it would go twice).
                        _record(dbs, now, settings, [(None, item)], [], "", report)
                        dbs.commit()
                        sent.add(item.id)
                else:
                    sendable = []
            finally:
                _close(server)
    waiting = ([item for item in sendable if item.id not in outcomes and item.id not in sent]
               if unreachable else [])
    _record(dbs, now, settings, outcomes.values(), waiting, unreachable, report)
    dbs.commit()
    return not unreachable


def _record(dbs: Session, now: datetime, settings: MailSettings,
            outcomes: Iterable[tuple[str | None, Outgoing]], waiting: Sequence[Outgoing],
            unreachable: str, report: DeliveryReport) -> None:
    """Outcomes in one executemany UPDATE (each sent e-mail is recorded alone, as soon as the
    server has taken it)."""
    rows: list[dict[str, Any]] = []
    for error, item in outcomes:
        tries = item.tries + 1
        subject = item.email.subject[:300] if item.email else ""
        if error is None:
            report.sent += 1
            rows.append(dict(id=item.id, status=OutboxStatus.SENT.value, tries=tries,
                             sent_at=now, next_attempt_at=now, claimed_at=None, last_error="",
                             to_address=item.to_address, subject=subject))
            continue
        given_up = item.email is None or tries >= settings.max_tries
        if given_up:
            report.failed += 1
        else:
            report.retrying += 1
        report.errors.append(error)
        rows.append(dict(id=item.id, tries=tries, sent_at=None, claimed_at=None,
                         status=(OutboxStatus.FAILED if given_up else OutboxStatus.PENDING).value,
                         next_attempt_at=now + backoff(tries), last_error=error[:2000],
                         to_address=item.to_address, subject=subject))
    for item in waiting:
        # The server is down: the message is not at fault, so it is never given up for it.
        tries = item.tries + 1
        report.retrying += 1
        rows.append(dict(id=item.id, tries=tries, sent_at=None, claimed_at=None,
                         status=OutboxStatus.PENDING.value, next_attempt_at=now + backoff(tries),
                         last_error=f"SMTP server unavailable: {unreachable}"[:2000],
                         to_address=item.to_address,
                         subject=item.email.subject[:300] if item.email else ""))
    if unreachable:
        report.errors.append(f"SMTP server unavailable: {unreachable}")
        log.warning("outbox: SMTP server %s unavailable: %s", settings.host, unreachable)
    if rows:
        dbs.execute(update(OutboxEmail), rows)


# ---------------------------------------------------------------- the admin's retry

def retry_failed(dbs: Session, now: datetime, ids: Iterable[int] | None = None) -> int:
    """Put failed e-mails (the listed ones, or all) back in the queue, due now; their tries
    are kept, so each gets one more attempt before it is given up again."""
    stmt = update(OutboxEmail).where(OutboxEmail.status == OutboxStatus.FAILED.value)
    if ids is not None:
        stmt = stmt.where(OutboxEmail.id.in_(list(ids)))
    return dbs.execute(stmt.values(status=OutboxStatus.PENDING.value, next_attempt_at=now,
                                   claimed_at=None)
                       .execution_options(synchronize_session=False)).rowcount or 0


# ---------------------------------------------------------------- daily digests

def _zone(name: str) -> ZoneInfo:
    from flask import current_app

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Ho_Chi_Minh"))


def digest_window(now: datetime, zone: ZoneInfo) -> tuple[date, datetime, datetime] | None:
    """(local date, start, end) of the digest due at ``now`` in ``zone``: the notifications
    of the 24 local hours before 07:00 today; None before 07:00."""
    local = now.astimezone(zone)
    if local.hour < DIGEST_HOUR:
        return None
    day = local.date()
    end = datetime.combine(day, time(DIGEST_HOUR), zone).astimezone(timezone.utc)
    start = datetime.combine(day - timedelta(days=1), time(DIGEST_HOUR), zone).astimezone(
        timezone.utc)
    return day, start, end


def _digest_zones(dbs: Session) -> list[str]:
    people = select(User.timezone).distinct().where(User.is_active.is_(True))
    if not any(c.default == EmailMode.DIGEST for c in CATEGORIES.values()):
        people = people.where(exists().where(
            NotificationPreference.user_id == User.id,
            NotificationPreference.mode == EmailMode.DIGEST.value))
    return sorted(zone or "" for zone in dbs.scalars(people))


def queue_daily_digests(dbs: Session, now: datetime) -> int:
    """Queue one digest e-mail (key ``digest:<user>:<local date>``) for each person with
    notifications they want as a daily digest, from 07:00 their time: one INSERT … SELECT
    per timezone. Notifications already e-mailed on their own are left out."""
    is_pg = dbs.get_bind().dialect.name == "postgresql"
    queued = 0
    for zone_name in _digest_zones(dbs):
        window = digest_window(now, _zone(zone_name))
        if window is None:
            continue
        day, start, end = window
        if is_pg:
            from sqlalchemy.dialects.postgresql import aggregate_order_by
            ids = func.json_agg(aggregate_order_by(Notification.id, Notification.id))
            params = func.json_build_object("date", day.isoformat(), "ids", ids)
        else:
            params = func.json_object("date", day.isoformat(), "ids",
                                      func.json_group_array(Notification.id))
        key = literal("digest:") + cast(Notification.user_id, String) + literal(f":{day}")
        already_sent = exists().where(OutboxEmail.notification_id == Notification.id)
        rows = with_preferences(
            select(key, Notification.user_id, literal(DIGEST_KIND), params,
                   null(), literal(OutboxStatus.PENDING.value), literal(0),
                   literal(now, OutboxEmail.next_attempt_at.type), literal(""),
                   literal(now, OutboxEmail.created_at.type))
            .select_from(Notification).join(User, User.id == Notification.user_id)
        ).where(User.timezone == zone_name, User.is_active.is_(True),
                Notification.created_at >= start, Notification.created_at < end,
                email_mode_column() == EmailMode.DIGEST.value, ~already_sent
                ).group_by(Notification.user_id)
        stmt = insert_outbox_rows(dbs, rows).returning(OutboxEmail.id)
        queued += len(dbs.execute(stmt).all())   # (rowcount: -1 on PostgreSQL here)
    return queued

