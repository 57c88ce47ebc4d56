"""Sending and reading in-app notifications."""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from lms.db import utcnow
from lms.notify.models import Notification

log = logging.getLogger(__name__)


def notify(dbs: Session, user_ids: Iterable[int], kind: str, *, actor: Any = None,
           params: dict[str, Any] | None = None, body: str = "", link: str = "",
           at: datetime | None = None) -> int:
    """Add one notification of ``kind`` for each person (one INSERT for all of them)."""
    ids = sorted(set(user_ids))
    if not ids:
        return 0
    actor_id = getattr(actor, "id", None)
    when = at or utcnow()
    dbs.execute(insert(Notification), [
        {"user_id": user_id, "kind": kind, "actor_id": actor_id, "params": params or {},
         "body": body, "link": link, "created_at": when} for user_id in ids])
    log.info("notification %s to %d people by %s", kind, len(ids), actor_id)
    return len(ids)


def notify_each(dbs: Session, kind: str, params_by_user: Sequence[tuple[int, dict[str, Any]]],
                *, actor: Any = None, at: datetime | None = None) -> int:
    """One notification of ``kind`` per (person, params) pair, all in one INSERT."""
    if not params_by_user:
        return 0
    when = at or utcnow()
    dbs.execute(insert(Notification), [
        {"user_id": user_id, "kind": kind, "actor_id": getattr(actor, "id", None),
         "params": params, "body": "", "link": "", "created_at": when}
        for user_id, params in params_by_user])
    return len(params_by_user)


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
