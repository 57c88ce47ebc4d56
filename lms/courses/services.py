"""Learning: enrolling, opening and finishing lessons, and completing courses.

Completion is recorded by a conditional UPDATE (… WHERE status <> 'completed'), so two
requests finishing the last lesson at once complete the course, and fire the event,
exactly once.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from flask_babel import gettext as _
from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from lms.courses.completion import Progress, evaluate
from lms.courses.events import course_completed
from lms.courses.models import Course, Enrolment, EnrolmentStatus, Lesson, LessonProgress, Module
from lms.db import utcnow
from lms.errors import DomainError
from lms.org.models import User

log = logging.getLogger(__name__)

#: Other domains add requirements here (the quiz issue: required quizzes passed).
#: Each is called as f(session, user_id, course_id, since) -> list[bool], one bool per
#: requirement; ``since`` (or None) is the start of the enrolment's current cycle.
ExtraRequirement = Callable[[Session, int, int, datetime | None], list[bool]]
extra_requirements: list[ExtraRequirement] = []


def required_lesson_ids(dbs: Session, course_id: int) -> list[int]:
    return list(dbs.scalars(
        select(Lesson.id).join(Module, Module.id == Lesson.module_id).where(
            Lesson.course_id == course_id, Lesson.is_required.is_(True),
            Lesson.is_archived.is_(False), Module.is_archived.is_(False))))


def enrol(dbs: Session, user: User, course: Course, *, source: str = "self",
          due_at: datetime | None = None, assignment_id: int | None = None) -> Enrolment:
    """Enrol a person (idempotent: an existing enrolment is returned, an assignment
    may add a due date to it)."""
    enrolment = dbs.scalar(select(Enrolment).where(
        Enrolment.user_id == user.id, Enrolment.course_id == course.id))
    if enrolment is not None:
        if source == "assigned" and enrolment.source != "assigned":
            enrolment.source, enrolment.assignment_id = source, assignment_id
        if due_at is not None and (enrolment.due_at is None or due_at < enrolment.due_at):
            enrolment.due_at = due_at
        dbs.flush()
        return enrolment
    if source == "self" and not course.is_published:
        raise DomainError(_("This course is not open for enrolment."))
    enrolment = Enrolment(user_id=user.id, course_id=course.id, unit_id=user.unit_id,
                          source=source, due_at=due_at, assignment_id=assignment_id,
                          status=EnrolmentStatus.NOT_STARTED.value, progress_pct=0)
    dbs.add(enrolment)
    dbs.flush()
    return enrolment


def enrolment_for(dbs: Session, user_id: int, course_id: int) -> Enrolment | None:
    return dbs.scalar(select(Enrolment).where(
        Enrolment.user_id == user_id, Enrolment.course_id == course_id))


def open_lesson(dbs: Session, user: User, lesson: Lesson, enrolment: Enrolment | None = None) -> Enrolment:
    """A learner opens a lesson: they are enrolled if they were not, and it becomes the
    place "Resume" brings them back to."""
    course = dbs.get(Course, lesson.course_id)
    enrolment = enrolment or enrolment_for(dbs, user.id, course.id) or enrol(dbs, user, course)
    now = utcnow()
    enrolment.last_lesson_id = lesson.id
    enrolment.last_activity_at = now
    if enrolment.status == EnrolmentStatus.NOT_STARTED.value:
        enrolment.status = EnrolmentStatus.IN_PROGRESS.value
        enrolment.started_at = now
    dbs.flush()
    return enrolment


def complete_lesson(dbs: Session, user: User, lesson: Lesson) -> Enrolment:
    """Mark a lesson done (once, however often it is sent) and update the course."""
    enrolment = open_lesson(dbs, user, lesson)
    insert = pg_insert if dbs.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(LessonProgress).values(
        user_id=user.id, lesson_id=lesson.id, course_id=lesson.course_id, completed_at=utcnow())
    if enrolment.cycle_started_at is None:
        statement = statement.on_conflict_do_nothing(index_elements=["user_id", "lesson_id"])
    else:  # a lesson done in an earlier cycle counts again once it is done in this one
        statement = statement.on_conflict_do_update(
            index_elements=["user_id", "lesson_id"],
            set_={"completed_at": statement.excluded.completed_at},
            where=LessonProgress.completed_at < enrolment.cycle_started_at)
    dbs.execute(statement)
    refresh_enrolment(dbs, enrolment)
    return enrolment


def done_lessons_clause(user_id: int, course_id: int, since: datetime | None):
    """SQL: the lessons of the course this person has done (in the current cycle)."""
    clause = and_(LessonProgress.user_id == user_id, LessonProgress.course_id == course_id)
    return clause if since is None else and_(clause, LessonProgress.completed_at >= since)


def progress_of(dbs: Session, user_id: int, course_id: int, since: datetime | None = None) -> Progress:
    required = required_lesson_ids(dbs, course_id)
    done = dbs.scalars(select(LessonProgress.lesson_id).where(
        done_lessons_clause(user_id, course_id, since)))
    extras = [ok for requirement in extra_requirements
              for ok in requirement(dbs, user_id, course_id, since)]
    return evaluate(required, done, extras)


def refresh_enrolment(dbs: Session, enrolment: Enrolment, at: datetime | None = None) -> Progress:
    """Recompute progress; completes the enrolment when the rule holds (never undoes it).

    ``at`` is the completion time to record (default now; imports of past records pass theirs).
    """
    if enrolment.is_completed:
        return Progress(done=1, total=1, complete=True)
    progress = progress_of(dbs, enrolment.user_id, enrolment.course_id, enrolment.cycle_started_at)
    enrolment.progress_pct = progress.percent
    dbs.flush()
    if progress.complete:
        mark_completed(dbs, enrolment, at)
    return progress


def mark_completed(dbs: Session, enrolment: Enrolment, at: datetime | None = None) -> bool:
    """Record completion once; returns True only for the call that recorded it."""
    at = at or utcnow()
    result = dbs.execute(
        update(Enrolment)
        .where(Enrolment.id == enrolment.id, Enrolment.status != EnrolmentStatus.COMPLETED.value)
        .values(status=EnrolmentStatus.COMPLETED.value, completed_at=at, progress_pct=100,
                started_at=func.coalesce(Enrolment.started_at, at))
        .execution_options(synchronize_session=False))
    dbs.refresh(enrolment)
    if result.rowcount != 1:
        return False
    log.info("user %s completed course %s", enrolment.user_id, enrolment.course_id)
    course_completed.send(None, session=dbs, enrolment=enrolment)
    return True


def recompute_course(dbs: Session, course: Course) -> int:
    """After the course's structure changed: refresh every open enrolment's progress.

    Completed enrolments stay completed. Returns how many enrolments completed now.
    A handful of queries per open enrolment: run from authoring actions, not page views.
    """
    open_enrolments = dbs.scalars(select(Enrolment).where(and_(
        Enrolment.course_id == course.id,
        Enrolment.status != EnrolmentStatus.COMPLETED.value))).all()
    newly = 0
    for enrolment in open_enrolments:
        before = enrolment.status
        refresh_enrolment(dbs, enrolment)
        newly += int(before != enrolment.status and enrolment.is_completed)
    return newly


def resume_lesson_id(dbs: Session, enrolment: Enrolment) -> int | None:
    """Where "Resume" goes: the last lesson opened, else the first lesson not yet done."""
    if enrolment.last_lesson_id:
        lesson = dbs.get(Lesson, enrolment.last_lesson_id)
        if lesson is not None and not lesson.is_archived:
            return lesson.id
    done = select(LessonProgress.lesson_id).where(
        done_lessons_clause(enrolment.user_id, enrolment.course_id, enrolment.cycle_started_at))
    return dbs.scalar(
        select(Lesson.id).join(Module, Module.id == Lesson.module_id)
        .where(Lesson.course_id == enrolment.course_id, Lesson.is_archived.is_(False),
               Module.is_archived.is_(False), Lesson.id.not_in(done))
        .order_by(Module.position, Lesson.position).limit(1))


def start_new_cycle(dbs: Session, enrolment: Enrolment, at: datetime | None = None) -> None:
    """Recertification: the person takes the course again. Earlier lessons, attempts and
    certificates stay in the history; only what is done from now on counts, and the next
    completion is recorded (and certified) as a new one."""
    at = at or utcnow()
    enrolment.cycle_started_at = at
    enrolment.status = EnrolmentStatus.IN_PROGRESS.value
    enrolment.progress_pct = 0
    enrolment.completed_at = None
    enrolment.last_lesson_id = None
    enrolment.last_activity_at = at
    dbs.flush()
