"""API clients: creating them, their tokens, and who a client is when it calls.

A client's scopes say which parts of the API it may call at all; what it may read there is
decided by the same permission rules as the pages, asked about an ``ApiPrincipal`` that
holds the grants its scopes and unit scope stand for: a client scoped to a unit reads like
the head of that unit, an unscoped one like a trainer (every unit), and ``staff:write``
manages the organisation like an admin. No rule exists twice.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms.api.models import ApiClient
from lms.audit.services import record
from lms.db import utcnow
from lms.errors import DomainError
from lms.org.models import Role, Unit
from lms.text import clean

TOKEN_PREFIX = "lms_"

SCOPES = {
    "staff:write": _l("Staff sync: create and update units and people"),
    "progress:read": _l("Progress: per person, unit and course, and xAPI statements"),
    "certificates:read": _l("Certificates: lookup, verification and lists per person"),
}
# Scopes that change the organisation need the whole ministry in view.
MINISTRY_WIDE_SCOPES = {"staff:write"}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _check(dbs: Session, name: str, scopes: list[str], unit_id: int | None) -> tuple[str, list[str]]:
    name = clean(name)
    if not name:
        raise DomainError(_("Give the client a name (the system that will call the API)."),
                          field="name")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise DomainError(_("Unknown scope: %(scopes)s.", scopes=", ".join(unknown)), field="scopes")
    if not scopes:
        raise DomainError(_("Choose at least one scope."), field="scopes")
    if unit_id is not None:
        unit = dbs.get(Unit, unit_id)
        if unit is None:
            raise DomainError(_("The unit does not exist."), field="unit_id")
        if MINISTRY_WIDE_SCOPES & set(scopes):
            raise DomainError(_("Staff sync changes the whole organisation: a client with it "
                                "cannot be limited to one unit."), field="unit_id")
    return name, sorted(set(scopes))


def create_client(dbs: Session, actor: Any, name: str, scopes: list[str],
                  unit_id: int | None = None) -> tuple[ApiClient, str]:
    """A new client and its token (shown once: only its hash is kept)."""
    name, scopes = _check(dbs, name, scopes, unit_id)
    token = new_token()
    client = ApiClient(name=name, scopes=scopes, unit_id=unit_id, token_sha256=hash_token(token),
                       token_prefix=token[:10], created_by_id=getattr(actor, "id", None))
    dbs.add(client)
    dbs.flush()
    record(dbs, actor, "api_client.created", client, scopes=scopes, unit_id=unit_id)
    return client, token


def update_client(dbs: Session, actor: Any, client: ApiClient, name: str, scopes: list[str],
                  unit_id: int | None) -> ApiClient:
    name, scopes = _check(dbs, name, scopes, unit_id)
    changes = {key: value for key, value in
               (("name", name), ("scopes", scopes), ("unit_id", unit_id))
               if getattr(client, key) != value}
    for key, value in changes.items():
        setattr(client, key, value)
    if changes:
        record(dbs, actor, "api_client.updated", client, changes=changes)
    dbs.flush()
    return client


def rotate_token(dbs: Session, actor: Any, client: ApiClient) -> str:
    """A new token for the client; the old one stops working at once."""
    if not client.is_active:
        raise DomainError(_("A revoked client cannot get a new token."))
    token = new_token()
    client.token_sha256 = hash_token(token)
    client.token_prefix = token[:10]
    client.rotated_at = utcnow()
    record(dbs, actor, "api_client.rotated", client)
    dbs.flush()
    return token


def revoke_client(dbs: Session, actor: Any, client: ApiClient) -> None:
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        record(dbs, actor, "api_client.revoked", client)
        dbs.flush()


def client_for_token(dbs: Session, token: str) -> ApiClient | None:
    """The active client holding this token, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    client = dbs.scalar(select(ApiClient).where(ApiClient.token_sha256 == hash_token(token)))
    if client is None or not client.is_active:
        return None
    return client


# ---------------------------------------------------------------- the caller, as the rules see it

@dataclass(frozen=True)
class ScopeGrant:
    """Quacks like a RoleGrant for the role predicates in ``lms.auth.permissions``."""

    role: str
    unit: Unit | None = None


@dataclass
class ApiPrincipal:
    """An API client as the permission rules see it (a user with no account of its own)."""

    client: ApiClient
    grants: list[ScopeGrant] = field(default_factory=list)
    is_authenticated: bool = True
    is_active: bool = True
    id: None = None
    locale: str = "vi"
    timezone: str = "Asia/Ho_Chi_Minh"

    def has_scope(self, scope: str) -> bool:
        return scope in (self.client.scopes or [])

    @property
    def last_used_at(self) -> datetime | None:
        return self.client.last_used_at


def principal_for(client: ApiClient) -> ApiPrincipal:
    scopes = set(client.scopes or [])
    grants: list[ScopeGrant] = []
    if scopes - MINISTRY_WIDE_SCOPES:
        grants.append(ScopeGrant(Role.UNIT_HEAD.value, client.unit) if client.unit
                      else ScopeGrant(Role.TRAINER.value))
    if scopes & MINISTRY_WIDE_SCOPES and client.unit_id is None:
        grants.append(ScopeGrant(Role.ADMIN.value))
    return ApiPrincipal(client=client, grants=grants)
