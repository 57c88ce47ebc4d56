"""Sending and reading notifications, and queueing their e-mails.

Every notification has a unique ``key``: the ones a job makes are named after what they
are about ("due:7:enrolment:42"), so a second run adds nothing; the others get a random
key. Its e-mail (for people who want e-mail of that category at once) is queued in the
outbox under the notification's id, so it is queued once too.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session

from lms.db import utcnow
from lms.notify.kinds import CATEGORIES, category_column
from lms.notify.models import (
    EmailMode,
    Notification,
    NotificationPreference,
    OutboxEmail,
    OutboxStatus,
)

log = logging.getLogger(__name__)


def _key() -> str:
    return f"u:{uuid.uuid4().hex}"


def notify(dbs: Session, user_ids: Iterable[int], kind: str, *, actor: Any = None,
           params: dict[str, Any] | None = None, body: str = "", link: str = "",
           at: datetime | None = None) -> int:
    """Add one notification of ``kind`` for each person (one INSERT) and queue the e-mails."""
    ids = sorted(set(user_ids))
    return notify_each(dbs, kind, [(user_id, params or {}) for user_id in ids], actor=actor,
                       body=body, link=link, at=at)


def notify_each(dbs: Session, kind: str, params_by_user: Sequence[tuple[int, dict[str, Any]]],
                *, actor: Any = None, body: str = "", link: str = "",
                at: datetime | None = None) -> int:
    """One notification of ``kind`` per (person, params) pair, all in one INSERT, and their
    e-mails queued (one INSERT … SELECT)."""
    if not params_by_user:
        return 0
    when = at or utcnow()
    keys = [_key() for _ in params_by_user]
    dbs.execute(insert(Notification), [
        {"user_id": user_id, "kind": kind, "key": key, "actor_id": getattr(actor, "id", None),
         "params": params, "body": body, "link": link, "created_at": when}
        for (user_id, params), key in zip(params_by_user, keys, strict=True)])
    queue_emails(dbs, Notification.key.in_(keys), when)
    log.info("notification %s to %d people by %s", kind, len(keys), getattr(actor, "id", None))
    return len(keys)


def email_mode_column() -> ColumnElement[str]:
    """SQL: the recipient's e-mail mode for a notification row's category (their preference,
    else the category's default). Needs ``NotificationPreference`` outer-joined."""
    defaults = {name: category.default.value for name, category in CATEGORIES.items()}
    default = case(defaults, value=category_column(Notification.kind),
                   else_=EmailMode.IMMEDIATE.value)
    return func.coalesce(NotificationPreference.mode, default)


def with_preferences(query):
    """``query`` over notifications with each recipient's preference for its category
    outer-joined (for :func:`email_mode_column`)."""
    return query.outerjoin(NotificationPreference, and_(
        NotificationPreference.user_id == Notification.user_id,
        NotificationPreference.category == category_column(Notification.kind)))


def queue_emails(dbs: Session, which: ColumnElement[bool], at: datetime | None = None) -> int:
    """Queue the e-mail of every notification matched by ``which`` whose recipient wants
    e-mail of its category at once (INSERT … SELECT; an e-mail already queued stays one)."""
    when = at or utcnow()
    rows = with_preferences(
        select(literal("n:") + cast(Notification.id, String), Notification.user_id,
               Notification.kind, Notification.params, Notification.id,
               literal(OutboxStatus.PENDING.value), literal(0),
               literal(when, OutboxEmail.next_attempt_at.type), literal(""),
               literal(when, OutboxEmail.created_at.type))
        .select_from(Notification)
    ).where(which, email_mode_column() == EmailMode.IMMEDIATE.value)
    stmt = insert_outbox_rows(dbs, rows)
    # preserve_rowcount: without it psycopg 3 reports -1 once the cursor is closed.
    return max(dbs.execute(stmt.execution_options(preserve_rowcount=True)).rowcount or 0, 0)


def insert_outbox_rows(dbs: Session, rows):
    """INSERT … SELECT of outbox rows (the columns below, in order); a key already queued
    is skipped, so queueing twice queues once."""
    columns = ["key", "user_id", "kind", "params", "notification_id", "status", "tries",
               "next_attempt_at", "last_error", "created_at"]
    if dbs.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return (dialect_insert(OutboxEmail).from_select(columns, rows)
            .on_conflict_do_nothing(index_elements=["key"]))


def unread_count(dbs: Session, user_id: int) -> int:
    return dbs.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def mark_read(dbs: Session, user_id: int, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the person's notifications read: the listed ones, or all when none are listed."""
    stmt = update(Notification).where(Notification.user_id == user_id,
                                      Notification.read_at.is_(None))
    if notification_ids is not None:
        stmt = stmt.where(Notification.id.in_(list(notification_ids)))
    return dbs.execute(stmt.values(read_at=utcnow())).rowcount or 0


def email_modes(dbs: Session, user_id: int) -> dict[str, str]:
    """A person's e-mail mode for every category (their choice, else the category's default)."""
    saved = dict(dbs.execute(select(NotificationPreference.category, NotificationPreference.mode)
                             .where(NotificationPreference.user_id == user_id)).all())
    return {name: saved.get(name, category.default.value) for name, category in CATEGORIES.items()}


def set_email_mode(dbs: Session, user_id: int, category: str, mode: str) -> None:
    """Keep a person's e-mail preference for a category (mandatory ones cannot be off)."""
    from flask_babel import gettext as _

    from lms.errors import DomainError

    if category not in CATEGORIES or mode not in {m.value for m in EmailMode}:
        raise DomainError(_("Choose one of the options."))
    if CATEGORIES[category].mandatory and mode == EmailMode.OFF.value:
        raise DomainError(_("E-mails about mandatory training cannot be switched off."))
    preference = dbs.get(NotificationPreference, (user_id, category))
    if preference is None:
        dbs.add(NotificationPreference(user_id=user_id, category=category, mode=mode))
    else:
        preference.mode = mode
    dbs.flush()
