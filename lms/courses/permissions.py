"""Who may see and change courses, and whose learning a person may look at."""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, true
from sqlalchemy.orm import object_session

from lms.auth.permissions import head_scope_paths, is_admin, is_trainer
from lms.courses.models import Course, CourseStatus
from lms.mentoring.permissions import is_mentor_of, mentees_clause
from lms.org.models import User
from lms.org.permissions import people_in_scopes_clause, person_in_scopes


def can_author_courses(user: Any) -> bool:
    """Create and edit courses, upload their files, publish them, move packages."""
    return is_admin(user) or is_trainer(user)


def can_view_course(user: Any, course: Course, enrolled: bool = False) -> bool:
    """Published courses are open to everyone signed in; drafts only to authors; an
    archived course stays readable for the people enrolled in it."""
    if course.status == CourseStatus.PUBLISHED.value or can_author_courses(user):
        return True
    return enrolled and course.status == CourseStatus.ARCHIVED.value


def visible_courses_clause(user: Any) -> ColumnElement[bool]:
    """The catalog: published courses (authors see every course in authoring pages)."""
    return Course.status == CourseStatus.PUBLISHED.value


def can_view_learning_of(viewer: Any, person: User) -> bool:
    """A person's courses and progress: themselves, admins, trainers, unit heads above them,
    and their current mentor."""
    if getattr(viewer, "id", None) == person.id or is_admin(viewer) or is_trainer(viewer):
        return True
    if person_in_scopes(person, head_scope_paths(viewer)):
        return True
    session = object_session(person)
    return session is not None and is_mentor_of(session, viewer, person)


def visible_learners_clause(viewer: Any) -> ColumnElement[bool]:
    if is_admin(viewer) or is_trainer(viewer):
        return true()
    own = or_(User.id == getattr(viewer, "id", -1), mentees_clause(viewer))
    scopes = head_scope_paths(viewer)
    if not scopes:
        return own
    return or_(own, people_in_scopes_clause(scopes))
