"""Who may assign training, and which assignments they see.

Admins and trainers assign anywhere; a unit head assigns within their own subtree only.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true

from lms.assignments.models import Assignment
from lms.auth.permissions import head_scope_paths, is_admin, is_trainer, path_in_scopes
from lms.org.models import Unit


def assigns_anywhere(user: Any) -> bool:
    return is_admin(user) or is_trainer(user)


def can_create_assignments(user: Any) -> bool:
    """Open the "assign training" form at all."""
    return assigns_anywhere(user) or bool(head_scope_paths(user))


def can_target_unit(user: Any, unit: Unit | None) -> bool:
    """Target this unit's subtree (``None``: the whole ministry)."""
    if assigns_anywhere(user):
        return True
    return unit is not None and path_in_scopes(unit.path, head_scope_paths(user))


def can_view_assignment(user: Any, assignment: Assignment) -> bool:
    if assigns_anywhere(user) or assignment.created_by_id == getattr(user, "id", None):
        return True
    unit = assignment.target_unit
    return unit is not None and path_in_scopes(unit.path, head_scope_paths(user))


def can_manage_assignment(user: Any, assignment: Assignment) -> bool:
    """Close an assignment (stop enrolling newcomers)."""
    return can_view_assignment(user, assignment) and can_create_assignments(user)


def visible_assignments_clause(user: Any) -> ColumnElement[bool]:
    if assigns_anywhere(user):
        return true()
    scopes = head_scope_paths(user)
    if not scopes:
        return false()
    units = select(Unit.id).where(or_(*(Unit.path.startswith(s) for s in scopes)))
    return or_(Assignment.target_unit_id.in_(units),
               Assignment.created_by_id == getattr(user, "id", -1))
