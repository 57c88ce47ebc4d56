"""Who may see which unit's reports.

Admins and trainers read every unit's reports; a unit head reads their own subtree only —
in pages, exports, charts, drill-downs and the PDF alike, since all of them ask these rules.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, true

from lms.auth.permissions import head_scope_paths, is_admin, is_trainer, path_in_scopes
from lms.org.models import Unit, User
from lms.org.permissions import people_in_scopes_clause, person_in_scopes


def reads_all_reports(user: Any) -> bool:
    return is_admin(user) or is_trainer(user)


def can_open_reports(user: Any) -> bool:
    """See the Reports menu at all."""
    return reads_all_reports(user) or bool(head_scope_paths(user))


def can_view_unit_report(user: Any, unit: Unit) -> bool:
    return reads_all_reports(user) or path_in_scopes(unit.path, head_scope_paths(user))


def visible_report_units_clause(user: Any) -> ColumnElement[bool]:
    if reads_all_reports(user):
        return true()
    scopes = head_scope_paths(user)
    if not scopes:
        return false()
    return or_(*(Unit.path.startswith(scope) for scope in scopes))


def can_view_person_report(user: Any, person: User) -> bool:
    """A person's courses and attempts in a drill-down."""
    return reads_all_reports(user) or person_in_scopes(person, head_scope_paths(user))


def visible_report_people_clause(user: Any) -> ColumnElement[bool]:
    if reads_all_reports(user):
        return true()
    scopes = head_scope_paths(user)
    return people_in_scopes_clause(scopes) if scopes else false()


def can_take_snapshots(user: Any) -> bool:
    """Freeze every unit's figures on demand (month-end snapshots are taken by the scheduler)."""
    return is_admin(user)
