"""Who may see and change units and people.

Each rule is a pair: a predicate for one object and the SQL filter that lists the
objects the same rule allows, so pages, lists and tests can never disagree.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true

from lms.auth.permissions import head_scope_paths, is_admin, path_in_scopes
from lms.org.models import ConcurrentPost, Unit, User


def can_manage_org(user: Any) -> bool:
    """Add, rename, move and deactivate units; edit people; grant roles; import staff."""
    return is_admin(user)


def can_browse_org(user: Any) -> bool:
    """Open the organisation pages at all (admins: everything, unit heads: their subtree)."""
    return is_admin(user) or bool(head_scope_paths(user))


def can_view_unit(user: Any, unit: Unit) -> bool:
    return is_admin(user) or path_in_scopes(unit.path, head_scope_paths(user))


def visible_units_clause(user: Any) -> ColumnElement[bool]:
    if is_admin(user):
        return true()
    scopes = head_scope_paths(user)
    if not scopes:
        return false()
    return or_(*(Unit.path.startswith(scope) for scope in scopes))


def person_in_scopes(person: User, scopes: list[str]) -> bool:
    """The person is placed in, or holds a concurrent post in, one of these subtrees."""
    return path_in_scopes(person.unit.path, scopes) or any(
        path_in_scopes(post.unit.path, scopes) for post in person.posts)


def people_in_scopes_clause(scopes: list[str]) -> ColumnElement[bool]:
    """SQL twin of ``person_in_scopes``."""
    # Unit ids come from the small unit table by path prefix, then filter people by id:
    # joining the people table on a LIKE over paths would scan every row.
    unit_ids = select(Unit.id).where(or_(*(Unit.path.startswith(scope) for scope in scopes)))
    posts = select(ConcurrentPost.user_id).where(
        ConcurrentPost.ended_at.is_(None), ConcurrentPost.unit_id.in_(unit_ids))
    return or_(User.unit_id.in_(unit_ids), User.id.in_(posts))


def can_view_person(user: Any, person: User) -> bool:
    if getattr(user, "id", None) == person.id or is_admin(user):
        return True
    return person_in_scopes(person, head_scope_paths(user))


def visible_people_clause(user: Any) -> ColumnElement[bool]:
    if is_admin(user):
        return true()
    scopes = head_scope_paths(user)
    own = User.id == getattr(user, "id", -1)
    if not scopes:
        return own
    return or_(own, people_in_scopes_clause(scopes))


def can_edit_person(user: Any, person: User) -> bool:
    return is_admin(user)
