"""Recording admin actions."""
from __future__ import annotations

import logging
from typing import Any

from flask import has_request_context, request
from sqlalchemy.orm import Session

from lms.audit.models import AuditEvent

log = logging.getLogger(__name__)


def record(dbs: Session, actor: Any, action: str, target: Any = None,
           label: str = "", **details: Any) -> AuditEvent:
    """Add an audit event (flushed with the change it describes, in the same transaction)."""
    actor_id = getattr(actor, "id", None) if getattr(actor, "is_authenticated", True) else None
    event = AuditEvent(
        actor_id=actor_id,
        action=action,
        target_type=type(target).__name__.lower() if target is not None else "",
        target_id=getattr(target, "id", None),
        target_label=(label or _label(target))[:255],
        details=details,
        ip_address=(request.remote_addr or "") if has_request_context() else "",
    )
    dbs.add(event)
    log.debug("audit %s by %s on %s %s", action, actor_id, event.target_type, event.target_id)
    return event


def _label(target: Any) -> str:
    if target is None:
        return ""
    for attr in ("full_name", "name", "filename"):
        if getattr(target, attr, None):
            return str(getattr(target, attr))
    return ""
