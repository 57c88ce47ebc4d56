"""Who may do what with quizzes. Each rule pairs an object check with, where lists need
it, the SQL filter for the same people."""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import object_session

from lms.auth.permissions import head_scope_paths, is_admin, is_trainer, path_in_scopes
from lms.courses.permissions import can_author_courses, visible_learners_clause
from lms.mentoring.permissions import is_mentor_of
from lms.org.models import User
from lms.quizzes.models import Attempt


def can_manage_quizzes(user: Any) -> bool:
    """Question banks, quiz settings, every attempt, regrading and statistics."""
    return can_author_courses(user)


def can_view_attempt(viewer: Any, attempt: Attempt, owner: User) -> bool:
    """The learner themselves, trainers and admins, unit heads above the learner, and the
    learner's current mentor."""
    if getattr(viewer, "id", None) == attempt.user_id or can_manage_quizzes(viewer):
        return True
    if path_in_scopes(owner.unit.path, head_scope_paths(viewer)):
        return True
    session = object_session(owner)
    return session is not None and is_mentor_of(session, viewer, owner)


def visible_attempt_owners_clause(viewer: Any) -> ColumnElement[bool]:
    """SQL twin of :func:`can_view_attempt` over ``User`` rows."""
    return visible_learners_clause(viewer)


def can_remediate(viewer: Any, person: User) -> bool:
    """Grant extra attempts, reset a quiz or extend the time for a person: trainers, admins,
    and the person's unit heads; never for themselves (a reason recorded by the person it
    favours is no check at all)."""
    if getattr(viewer, "id", None) == person.id:
        return False
    if is_admin(viewer) or is_trainer(viewer):
        return True
    return path_in_scopes(person.unit.path, head_scope_paths(viewer))
