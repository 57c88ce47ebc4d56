"""Role predicates: the only place that reads role grants.

Every other permission rule is built from these, so no view or template compares
role strings itself.
"""
from __future__ import annotations

from typing import Any

from lms.org.models import Role


def _grants(user: Any) -> list:
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return user.grants


def has_role(user: Any, role: Role) -> bool:
    return any(grant.role == role.value for grant in _grants(user))


def is_admin(user: Any) -> bool:
    """Admins manage units, people and roles across the whole ministry."""
    return has_role(user, Role.ADMIN)


def is_trainer(user: Any) -> bool:
    return has_role(user, Role.TRAINER)


def is_mentor(user: Any) -> bool:
    return has_role(user, Role.MENTOR)


def head_scope_paths(user: Any) -> list[str]:
    """The unit paths a user heads; each covers that unit and everything below it."""
    return [g.unit.path for g in _grants(user) if g.role == Role.UNIT_HEAD.value and g.unit]


def is_unit_head(user: Any) -> bool:
    return bool(head_scope_paths(user))


def path_in_scopes(path: str, scopes: list[str]) -> bool:
    return any(path.startswith(scope) for scope in scopes)
