from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lms.audit.models import AuditEvent
from lms.pagination import Page, paginate


def events_query(action: str = ""):
    query = (select(AuditEvent).options(selectinload(AuditEvent.actor))
             .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()))
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    return query


def recent_events(dbs: Session, limit: int = 10) -> list[AuditEvent]:
    return list(dbs.scalars(events_query().limit(limit)))


def events_page(dbs: Session, action: str, page: int, per_page: int) -> Page[AuditEvent]:
    return paginate(dbs, events_query(action), page, per_page)
