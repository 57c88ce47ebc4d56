"""Reads behind the progress feeds: enrolments the caller may see, as plain JSON values.

Visibility is the pages' rule for a person's learning (``visible_learners_clause``, the SQL
twin of ``can_view_learning_of``): a feed lists the enrolments of exactly the people whose
learning page the same caller could open.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from lms.courses.models import Course, Enrolment
from lms.courses.permissions import visible_learners_clause
from lms.db import iso_utc
from lms.org.models import Unit, User
from lms.org.permissions import people_in_scopes_clause
from lms.reports.figures import Figures

PersonUnit = aliased(Unit)


def enrolment_feed(viewer: Any, *, person_id: int | None = None, unit: Unit | None = None,
                   course_id: int | None = None,
                   updated_since: datetime | None = None) -> Select:
    """Enrolments visible to ``viewer``, narrowed as asked; the key is (updated_at, id)."""
    statement = (
        select(Enrolment, User.employee_code, User.full_name, User.email, User.is_active,
               PersonUnit.code, Course.slug, Course.title)
        .join(User, User.id == Enrolment.user_id)
        .join(PersonUnit, PersonUnit.id == User.unit_id)
        .join(Course, Course.id == Enrolment.course_id)
        .where(visible_learners_clause(viewer))
    )
    if person_id is not None:
        statement = statement.where(Enrolment.user_id == person_id)
    if unit is not None:
        statement = statement.where(people_in_scopes_clause([unit.path]))
    if course_id is not None:
        statement = statement.where(Enrolment.course_id == course_id)
    if updated_since is not None:
        statement = statement.where(Enrolment.updated_at >= updated_since)
    return statement


FEED_KEY = (Enrolment.updated_at, Enrolment.id)
FEED_KEY_KINDS = (datetime, int)


def feed_key(row: Any) -> tuple[datetime, int]:
    return row[0].updated_at, row[0].id


def enrolment_json(row: Any, now: datetime) -> dict[str, Any]:
    enrolment: Enrolment = row[0]
    code, name, email, active, unit_code, slug, title = row[1:]
    completed = enrolment.completed_at is not None
    return {
        "id": enrolment.id,
        "person": {"employee_code": code, "full_name": name, "email": email,
                   "unit_code": unit_code, "active": bool(active)},
        "course": {"slug": slug, "title": title},
        "source": enrolment.source,
        "assignment_id": enrolment.assignment_id,
        "status": enrolment.status,
        "progress_pct": enrolment.progress_pct,
        "enrolled_at": iso_utc(enrolment.enrolled_at),
        "started_at": iso_utc(enrolment.started_at),
        "completed_at": iso_utc(enrolment.completed_at),
        "due_at": iso_utc(enrolment.due_at),
        "overdue": bool(enrolment.due_at and not completed and enrolment.due_at < now),
        "quiz_score": enrolment.quiz_score,
        "certified_at": iso_utc(enrolment.certified_at),
        "updated_at": iso_utc(enrolment.updated_at),
    }


def figures_json(figures: Figures) -> dict[str, Any]:
    """The counts of one dashboard line, named as in the unit head's dashboard."""
    return {
        "headcount": figures.headcount,
        "assigned": figures.assigned,
        "started": figures.started,
        "in_progress": figures.in_progress,
        "not_started": figures.not_started,
        "completed": figures.completed,
        "completion_pct": figures.completion_pct,
        "on_track": figures.on_track,
        "overdue": figures.overdue,
        "average_score": figures.average_score,
        "certificates": figures.certificates,
    }


def unit_json(unit: Any) -> dict[str, Any]:
    return {"code": unit.code, "name": unit.name, "name_en": unit.name_en or None,
            "kind": unit.kind}


def find_person(dbs: Session, employee_code: str) -> User | None:
    return dbs.scalar(select(User).where(User.employee_code == employee_code.strip().upper()))


def find_unit(dbs: Session, code: str) -> Unit | None:
    return dbs.scalar(select(Unit).where(Unit.code == code.strip().upper()))


def find_course(dbs: Session, slug: str) -> Course | None:
    return dbs.scalar(select(Course).where(Course.slug == slug.strip()))
