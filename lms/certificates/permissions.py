"""Who may see, download, issue, revoke and design certificates.

Each rule is a pair where a list needs it: the object check and the SQL filter.
Verification by code or serial is public and needs no rule.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, true

from lms.auth.permissions import is_admin, is_trainer
from lms.certificates.models import Certificate


def can_view_certificate(user: Any, certificate: Certificate) -> bool:
    """See and download a certificate's PDF: its owner and admins (anyone else checks it on
    the public verification page, which shows nothing more personal)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return certificate.user_id == user.id or is_admin(user)


def visible_certificates_clause(user: Any) -> ColumnElement[bool]:
    if user is None or not getattr(user, "is_authenticated", False):
        return false()
    if is_admin(user):
        return true()
    return Certificate.user_id == user.id


def can_issue_certificates(user: Any) -> bool:
    """The certificate register's pages, bulk issue and reissue after a correction: admins
    (trainers design the templates, ``can_design_certificates``)."""
    return is_admin(user)


def can_revoke_certificate(user: Any, certificate: Certificate | None = None) -> bool:
    """Revoking is an administrator's decision."""
    return is_admin(user)


def can_design_certificates(user: Any) -> bool:
    """Create and edit certificate templates and choose a course's template."""
    return is_admin(user) or is_trainer(user)
