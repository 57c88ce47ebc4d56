"""Assigning training by decision, and keeping everyone targeted enrolled.

Enrolment is set-based: one ``INSERT … SELECT`` (and one ``UPDATE``) per course of the
assignment enrols everyone the target covers, whatever their number; the same statements,
narrowed to a few people, enrol newcomers when they join a targeted unit, get a targeted
role or a concurrent post there.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Sequence

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import Select, exists, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from lms.assignments.models import (
    Assignment,
    AssignmentPerson,
    AssignmentStatus,
    LearningPath,
    LearningPathCourse,
    TargetKind,
)
from lms.assignments.permissions import assigns_anywhere, can_target_unit
from lms.audit.services import record
from lms.auth.permissions import head_scope_paths, path_in_scopes
from lms.courses.models import Course, CourseStatus, Enrolment, EnrolmentStatus
from lms.db import UTCDateTime, utcnow
from lms.errors import DomainError
from lms.org.models import ConcurrentPost, Role, RoleGrant, Unit, User
from lms.text import clean

log = logging.getLogger(__name__)

ASSIGNED = "assigned"
DEFAULT_REMINDER_DAYS = "7,1"   # also for enrolments that no assignment governs
MIN_REMINDER_DAY, MAX_REMINDER_DAY, MAX_REMINDERS = 1, 90, 5


@dataclass
class AssignmentData:
    title: str
    decision_number: str
    decision_date: date
    start_at: datetime
    due_at: datetime
    target_kind: str
    course_id: int | None = None
    path_id: int | None = None
    target_unit_id: int | None = None
    target_role: str | None = None
    people_ids: list[int] = field(default_factory=list)
    reminder_days: str = DEFAULT_REMINDER_DAYS


# ---------------------------------------------------------------- reminders

def parse_reminder_days(text: str | None) -> str:
    """The days before the due date on which learners are reminded, as stored: whole days
    from 1 to 90, at most five, largest first, comma-separated ("7,1"); empty means none.
    Raises a DomainError on anything else (spaces, semicolons and repeats are forgiven)."""
    parts = [part.strip() for part in (text or "").replace(";", ",").split(",")]
    parts = [part for part in parts if part]
    days: set[int] = set()
    for part in parts:
        if not (part.isascii() and part.isdigit()) or not MIN_REMINDER_DAY <= int(part) <= MAX_REMINDER_DAY:
            raise DomainError(_("Reminder days are whole numbers of days from %(low)d to "
                                "%(high)d, separated by commas, e.g. 7,1.",
                                low=MIN_REMINDER_DAY, high=MAX_REMINDER_DAY),
                              field="reminder_days")
        days.add(int(part))
    if len(days) > MAX_REMINDERS:
        raise DomainError(_("At most %(num)d reminders per assignment.", num=MAX_REMINDERS),
                          field="reminder_days")
    return ",".join(str(day) for day in sorted(days, reverse=True))


# ---------------------------------------------------------------- who is targeted

def subtree_ids(path: str) -> Select:
    return select(Unit.id).where(Unit.path.startswith(path))


def in_subtree_clause(path: str):
    """People placed in the subtree, or holding a concurrent post there."""
    units = subtree_ids(path)
    posts = select(ConcurrentPost.user_id).where(
        ConcurrentPost.ended_at.is_(None), ConcurrentPost.unit_id.in_(units))
    return or_(User.unit_id.in_(units), User.id.in_(posts))


def targeted_people(assignment: Assignment) -> Select:
    """SQL: the ids of the active people the assignment's target covers now."""
    conditions = [User.is_active.is_(True)]
    kind = TargetKind(assignment.target_kind)
    unit = assignment.target_unit
    if kind is TargetKind.PEOPLE:
        conditions.append(User.id.in_(select(AssignmentPerson.user_id).where(
            AssignmentPerson.assignment_id == assignment.id)))
    else:
        if kind is TargetKind.ROLE:
            conditions.append(User.id.in_(select(RoleGrant.user_id).where(
                RoleGrant.role == assignment.target_role)))
        if unit is not None:
            conditions.append(in_subtree_clause(unit.path))
    return select(User.id).where(*conditions)


def course_ids_of(dbs: Session, assignment: Assignment) -> list[int]:
    if assignment.course_id:
        return [assignment.course_id]
    return list(dbs.scalars(select(LearningPathCourse.course_id).where(
        LearningPathCourse.path_id == assignment.path_id).order_by(LearningPathCourse.position)))


def _insert(dbs: Session):
    return pg_insert if dbs.get_bind().dialect.name == "postgresql" else sqlite_insert


def enrol_targets(dbs: Session, assignment: Assignment, user_ids: Sequence[int] | None = None,
                  due_at: datetime | None = None, now: datetime | None = None) -> int:
    """Enrol everyone targeted (or only ``user_ids`` among them) in the assignment's courses.

    People already enrolled become "assigned" with the earlier of the two due dates;
    a completed course stays completed. Returns the number of new enrolments.
    """
    now = now or utcnow()
    due_at = due_at or assignment.due_at
    people = targeted_people(assignment)
    if user_ids is not None:
        if not user_ids:
            return 0
        people = people.where(User.id.in_(list(user_ids)))
    created = 0
    for course_id in course_ids_of(dbs, assignment):
        dbs.execute(
            update(Enrolment)
            .where(Enrolment.course_id == course_id, Enrolment.user_id.in_(people),
                   or_(Enrolment.source != ASSIGNED, Enrolment.due_at.is_(None),
                       Enrolment.due_at > due_at))
            .values(source=ASSIGNED, assignment_id=assignment.id, due_at=due_at, updated_at=now)
            .execution_options(synchronize_session=False))
        newcomers = select(
            User.id, User.unit_id, *(_literal(v) for v in (
                course_id, ASSIGNED, assignment.id, due_at, EnrolmentStatus.NOT_STARTED.value, 0,
                now, now))
        ).where(User.id.in_(people), ~exists().where(
            Enrolment.user_id == User.id, Enrolment.course_id == course_id))
        statement = _insert(dbs)(Enrolment).from_select(
            ["user_id", "unit_id", "course_id", "source", "assignment_id", "due_at", "status",
             "progress_pct", "enrolled_at", "updated_at"], newcomers
        ).on_conflict_do_nothing(index_elements=["user_id", "course_id"])
        # preserve_rowcount: without it psycopg 3 reports -1 once the cursor is closed.
        created += max(dbs.execute(statement.execution_options(
            preserve_rowcount=True)).rowcount or 0, 0)
    dbs.flush()
    return created


def _literal(value: Any):
    if isinstance(value, datetime):
        return literal(value, UTCDateTime())
    return literal(value)


# ---------------------------------------------------------------- creating and closing

def _check(dbs: Session, actor: Any, data: AssignmentData) -> AssignmentData:
    data.title = clean(data.title)
    data.decision_number = clean(data.decision_number)
    if not data.title:
        raise DomainError(_("Give the assignment a title."), field="title")
    if not data.decision_number:
        raise DomainError(_("Enter the decision's number, e.g. 1637/QĐ-BNG."), field="decision_number")
    if bool(data.course_id) == bool(data.path_id):
        raise DomainError(_("Choose a course or a learning path."), field="course_id")
    if data.course_id:
        course = dbs.get(Course, data.course_id)
        if course is None or course.status != CourseStatus.PUBLISHED.value:
            raise DomainError(_("Only a published course can be assigned."), field="course_id")
    else:
        path = dbs.get(LearningPath, data.path_id)
        if path is None or not path.steps:
            raise DomainError(_("The learning path has no courses."), field="path_id")
    data.reminder_days = parse_reminder_days(data.reminder_days)
    if data.due_at <= data.start_at:
        raise DomainError(_("The due date must come after the start date."), field="due_at")
    try:
        kind = TargetKind(data.target_kind)
    except ValueError:
        raise DomainError(_("Choose whom the training is for."), field="target_kind") from None
    unit = dbs.get(Unit, data.target_unit_id) if data.target_unit_id else None
    if data.target_unit_id and (unit is None or not unit.is_active):
        raise DomainError(_("Choose an active unit."), field="target_unit_id")
    if kind is TargetKind.UNIT and unit is None:
        raise DomainError(_("Choose the unit the training is for."), field="target_unit_id")
    if kind is TargetKind.ROLE and data.target_role not in {r.value for r in Role}:
        raise DomainError(_("Choose the role the training is for."), field="target_role")
    if kind is TargetKind.PEOPLE:
        data.people_ids = sorted(set(data.people_ids))
        if not data.people_ids:
            raise DomainError(_("Choose at least one person."), field="people_ids")
        _check_people(dbs, actor, data.people_ids)
        unit = None
    elif actor is not None and not can_target_unit(actor, unit):
        raise DomainError(_("You can assign training only within the units you lead."),
                          field="target_unit_id")
    data.target_unit_id = unit.id if unit is not None else None
    if kind is not TargetKind.ROLE:
        data.target_role = None
    return data


def _check_people(dbs: Session, actor: Any, people_ids: list[int]) -> None:
    people = dbs.scalars(select(User).where(User.id.in_(people_ids))).all()
    if len(people) != len(people_ids) or any(not p.is_active for p in people):
        raise DomainError(_("Some of the chosen people do not exist or have left."), field="people_ids")
    if actor is None or assigns_anywhere(actor):   # None: the system (CLI, seeds)
        return
    scopes = head_scope_paths(actor)
    outside = [p.full_name for p in people if not path_in_scopes(p.unit.path, scopes)
               and not any(path_in_scopes(post.unit.path, scopes) for post in p.posts)]
    if outside:
        raise DomainError(_("%(names)s work outside the units you lead.", names=", ".join(outside)),
                          field="people_ids")


def create_assignment(dbs: Session, actor: Any, data: AssignmentData,
                      decision_pdf: bytes | None = None, decision_filename: str | None = None,
                      now: datetime | None = None) -> Assignment:
    """Record the decision's assignment and enrol everyone it targets."""
    data = _check(dbs, actor, data)
    sha = store_decision(decision_pdf) if decision_pdf else None
    assignment = Assignment(
        title=data.title, decision_number=data.decision_number, decision_date=data.decision_date,
        decision_sha256=sha, decision_filename=(clean(decision_filename or "") or None) if sha else None,
        course_id=data.course_id, path_id=data.path_id, target_kind=data.target_kind,
        target_unit_id=data.target_unit_id, target_role=data.target_role,
        start_at=data.start_at, due_at=data.due_at, reminder_days=data.reminder_days,
        created_by_id=getattr(actor, "id", None),
        status=AssignmentStatus.ACTIVE.value)
    dbs.add(assignment)
    dbs.flush()
    for user_id in data.people_ids if data.target_kind == TargetKind.PEOPLE.value else []:
        dbs.add(AssignmentPerson(assignment_id=assignment.id, user_id=user_id))
    dbs.flush()
    dbs.refresh(assignment)
    enrolled = enrol_targets(dbs, assignment, now=now)
    record(dbs, actor, "assignment.created", assignment, label=assignment.title,
           decision=assignment.decision_number, enrolled=enrolled)
    log.info("assignment %s (%s) enrolled %s people", assignment.id, assignment.decision_number,
             enrolled)
    return assignment


def close_assignment(dbs: Session, actor: Any, assignment: Assignment,
                     now: datetime | None = None) -> None:
    """Stop enrolling newcomers; everyone enrolled keeps the training and its due date."""
    if not assignment.is_active:
        return
    assignment.status = AssignmentStatus.CLOSED.value
    assignment.closed_at = now or utcnow()
    record(dbs, actor, "assignment.closed", assignment, label=assignment.title)
    dbs.flush()


PDF_MAGIC = b"%PDF-"


def store_decision(data: bytes) -> str:
    from lms.certificates.storage import store_bytes
    limit = current_app.config["MAX_DECISION_BYTES"] if has_app_context() else 10 * 1024 * 1024
    if not data.startswith(PDF_MAGIC):
        raise DomainError(_("The decision must be a PDF file."), field="decision_file")
    if len(data) > limit:
        raise DomainError(_("The decision's PDF is larger than %(mb)s MB.", mb=limit // (1024 * 1024)),
                          field="decision_file")
    return store_bytes(data, area="decisions")


# ---------------------------------------------------------------- newcomers and moves

def newcomer_due_at(assignment: Assignment, now: datetime) -> datetime:
    """People who join after the start get the assignment's due date, or at least
    ``NEWCOMER_DAYS`` from now when it is near or past."""
    days = current_app.config["NEWCOMER_DAYS"] if has_app_context() else 30
    return max(assignment.due_at, now + timedelta(days=days))


def sync_people(dbs: Session, user_ids: Sequence[int], now: datetime | None = None) -> int:
    """Enrol these people in every active assignment that targets them now."""
    if not user_ids:
        return 0
    now = now or utcnow()
    created = 0
    for assignment in dbs.scalars(select(Assignment).where(
            Assignment.status == AssignmentStatus.ACTIVE.value)):
        created += enrol_targets(dbs, assignment, user_ids, newcomer_due_at(assignment, now), now)
    return created


def follow_people(dbs: Session, user_ids: Sequence[int]) -> None:
    """Moving someone moves their records: every enrolment counts in their current unit
    (earlier figures stay frozen in the snapshots)."""
    if not user_ids:
        return
    dbs.execute(
        update(Enrolment)
        .where(Enrolment.user_id.in_(list(user_ids)))
        .values(unit_id=select(User.unit_id).where(User.id == Enrolment.user_id).scalar_subquery())
        .execution_options(synchronize_session=False))


def on_people_placed(sender: Any, session: Session, user_ids: Sequence[int], **_kw: Any) -> None:
    """Receiver of ``people_placed``: move their records, then enrol them where targeted."""
    follow_people(session, user_ids)
    sync_people(session, user_ids)


# ---------------------------------------------------------------- learning paths

def save_learning_path(dbs: Session, actor: Any, title: str, description: str,
                       course_ids: Sequence[int], path: LearningPath | None = None) -> LearningPath:
    """Create or edit an ordered set of courses (duplicates dropped, order kept).

    People an active assignment of the path already enrolled are enrolled in a course
    added to it (with a newcomer's due date)."""
    title = clean(title)
    if not title:
        raise DomainError(_("Give the learning path a title."), field="title")
    ordered = list(dict.fromkeys(int(c) for c in course_ids))
    if not ordered:
        raise DomainError(_("Choose the path's courses in order."), field="course_ids")
    found = set(dbs.scalars(select(Course.id).where(
        Course.id.in_(ordered), Course.status == CourseStatus.PUBLISHED.value)))
    if found != set(ordered):
        raise DomainError(_("A learning path can hold only published courses."), field="course_ids")
    clash = dbs.scalar(select(LearningPath.id).where(
        LearningPath.title == title, LearningPath.id != (path.id if path else -1)))
    if clash:
        raise DomainError(_("Another learning path has this title."), field="title")
    if path is None:
        path = LearningPath(title=title, created_by_id=getattr(actor, "id", None))
        dbs.add(path)
    path.title, path.description = title, (description or "").strip()
    path.steps.clear()
    dbs.flush()
    for position, course_id in enumerate(ordered):
        path.steps.append(LearningPathCourse(course_id=course_id, position=position))
    dbs.flush()
    record(dbs, actor, "learning_path.saved", path, label=path.title, courses=ordered)
    now = utcnow()
    for assignment in dbs.scalars(select(Assignment).where(
            Assignment.path_id == path.id, Assignment.status == AssignmentStatus.ACTIVE.value)):
        enrol_targets(dbs, assignment, due_at=newcomer_due_at(assignment, now), now=now)
    return path


def assignments_of(dbs: Session, user_id: int) -> list[Assignment]:
    """The assignments that govern a person's enrolments (for "My learning")."""
    ids = select(Enrolment.assignment_id).where(
        Enrolment.user_id == user_id, Enrolment.assignment_id.is_not(None))
    return list(dbs.scalars(select(Assignment).where(Assignment.id.in_(ids))
                            .order_by(Assignment.due_at)))


def enrolled_count(dbs: Session, assignment: Assignment) -> int:
    return dbs.scalar(select(func.count(Enrolment.id)).where(
        Enrolment.assignment_id == assignment.id)) or 0

