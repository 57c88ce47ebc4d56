"""Reads for the notification centre: one COUNT and one page query, whatever the number."""
from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms.notify.models import Notification
from lms.pagination import Page, paginate


def notification_page(dbs: Session, user_id: int, page: int, per_page: int) -> Page[Notification]:
    """The person's notifications, newest first."""
    query = (select(Notification).where(Notification.user_id == user_id)
             .order_by(Notification.created_at.desc(), Notification.id.desc()))
    return paginate(dbs, query, page, per_page)


def own_notification(dbs: Session, user_id: int, notification_id: int) -> Notification | None:
    """One of the person's notifications; somebody else's is None, as if it did not exist."""
    return dbs.scalar(select(Notification).where(Notification.id == notification_id,
                                                 Notification.user_id == user_id))


def unread_ids_about(dbs: Session, user_id: int, kinds: Collection[str], key: str,
                     value: int) -> list[int]:
    """The person's unread notifications of these kinds whose ``params[key]`` is ``value``
    (e.g. the ones about one help request, read once its thread is opened)."""
    return list(dbs.scalars(select(Notification.id).where(
        Notification.user_id == user_id, Notification.read_at.is_(None),
        Notification.kind.in_(list(kinds)), Notification.params[key].as_integer() == value)))
