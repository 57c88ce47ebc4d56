"""Reads for the learning pages: each page runs a fixed number of queries."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, contains_eager, defer, selectinload

from lms.courses.models import Course, Enrolment, EnrolmentStatus, Lesson, LessonProgress, MediaFile, Module
from lms.courses.permissions import visible_courses_clause
from lms.courses.services import done_lessons_clause
from lms.pagination import Page, paginate
from lms.text import fold, like_escape

LENGTHS = {"short": (0, 30), "medium": (31, 90), "long": (91, 100_000)}


@dataclass
class MyLearning:
    assigned: list[Enrolment] = field(default_factory=list)
    in_progress: list[Enrolment] = field(default_factory=list)
    completed: list[Enrolment] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.assigned or self.in_progress or self.completed)


def my_learning(dbs: Session, user_id: int) -> MyLearning:
    """Assigned courses first (soonest due first), then the rest in progress, then completed."""
    enrolments = dbs.scalars(
        select(Enrolment).join(Course, Course.id == Enrolment.course_id)
        .where(Enrolment.user_id == user_id, Course.status != "draft")
        .options(contains_eager(Enrolment.course).load_only(
            Course.id, Course.slug, Course.title, Course.topic, Course.status, Course.estimated_minutes))
        .order_by(Enrolment.last_activity_at.desc().nulls_last(), Enrolment.enrolled_at.desc())
    ).all()
    result = MyLearning()
    far_future = datetime.max.replace(tzinfo=None)
    for enrolment in enrolments:
        if enrolment.status == EnrolmentStatus.COMPLETED.value:
            result.completed.append(enrolment)
        elif enrolment.source == "assigned" or enrolment.due_at is not None:
            result.assigned.append(enrolment)
        else:
            result.in_progress.append(enrolment)
    result.assigned.sort(key=lambda e: e.due_at.replace(tzinfo=None) if e.due_at else far_future)
    result.completed.sort(key=lambda e: e.completed_at, reverse=True)
    return result


@dataclass
class CatalogFilter:
    q: str = ""
    topic: str = ""
    length: str = ""
    language: str = ""


def catalog_page(dbs: Session, viewer: Any, filters: CatalogFilter, page: int,
                 per_page: int) -> tuple[Page[Course], dict[int, Enrolment]]:
    query = select(Course).where(visible_courses_clause(viewer)).order_by(Course.title, Course.id)
    for word in fold(filters.q).split():
        query = query.where(Course.search_text.like(f"%{like_escape(word)}%", escape="\\"))
    if filters.topic:
        query = query.where(Course.topic == filters.topic)
    if filters.length in LENGTHS:
        low, high = LENGTHS[filters.length]
        query = query.where(Course.estimated_minutes.between(low, high))
    if filters.language:
        query = query.where(Course.language == filters.language)
    result = paginate(dbs, query, page, per_page)
    ids = [c.id for c in result.items]
    mine = {e.course_id: e for e in dbs.scalars(select(Enrolment).where(
        Enrolment.user_id == viewer.id, Enrolment.course_id.in_(ids)))} if ids else {}
    return result, mine


@dataclass
class Outline:
    """A course's modules and lessons (archived ones left out), with one learner's progress."""

    course: Course
    modules: list[Module]
    lessons_by_module: dict[int, list[Lesson]]
    done: set[int]
    enrolment: Enrolment | None

    @property
    def lessons(self) -> list[Lesson]:
        return [lesson for m in self.modules for lesson in self.lessons_by_module[m.id]]

    def neighbours(self, lesson: Lesson) -> tuple[Lesson | None, Lesson | None]:
        order = self.lessons
        index = next(i for i, item in enumerate(order) if item.id == lesson.id)
        return (order[index - 1] if index > 0 else None,
                order[index + 1] if index + 1 < len(order) else None)

    @property
    def total_minutes(self) -> int:
        return sum(lesson.estimated_minutes for lesson in self.lessons)


_UNSET: Any = object()


def course_outline(dbs: Session, course: Course, user_id: int | None,
                   enrolment: Enrolment | None = _UNSET) -> Outline:
    """Three queries: modules with their lessons, the learner's done lessons, the enrolment."""
    rows = dbs.execute(
        select(Module, Lesson)
        .outerjoin(Lesson, and_(Lesson.module_id == Module.id, Lesson.is_archived.is_(False)))
        .where(Module.course_id == course.id, Module.is_archived.is_(False))
        .options(defer(Lesson.body))
        .order_by(Module.position, Module.id, Lesson.position, Lesson.id)).all()
    modules: list[Module] = []
    lessons_by_module: dict[int, list[Lesson]] = {}
    for module, lesson in rows:
        if module.id not in lessons_by_module:
            modules.append(module)
            lessons_by_module[module.id] = []
        if lesson is not None:
            lessons_by_module[module.id].append(lesson)
    done: set[int] = set()
    known = enrolment
    enrolment = None
    if user_id is not None:
        enrolment = known if known is not _UNSET else dbs.scalar(select(Enrolment).where(
            Enrolment.user_id == user_id, Enrolment.course_id == course.id))
        since = enrolment.cycle_started_at if enrolment is not None else None
        done = set(dbs.scalars(select(LessonProgress.lesson_id).where(
            done_lessons_clause(user_id, course.id, since))))
    return Outline(course=course, modules=list(modules), lessons_by_module=lessons_by_module,
                   done=done, enrolment=enrolment)


def media_of(dbs: Session, course_id: int) -> list[MediaFile]:
    return list(dbs.scalars(select(MediaFile).where(MediaFile.course_id == course_id)
                            .order_by(MediaFile.filename)))


def lesson_by_key(dbs: Session, course: Course, key: str) -> Lesson | None:
    return dbs.scalar(select(Lesson).where(Lesson.course_id == course.id, Lesson.key == key,
                                           Lesson.is_archived.is_(False)))


def enrolments_of(dbs: Session, user_id: int) -> list[Enrolment]:
    return list(dbs.scalars(select(Enrolment).where(Enrolment.user_id == user_id)
                            .options(selectinload(Enrolment.course))
                            .order_by(Enrolment.enrolled_at.desc())))


def authoring_course_rows(dbs: Session) -> list[tuple[Course, int]]:
    """Every course with its number of lessons in use, most recently changed first."""
    counted = func.count(Lesson.id)
    return list(dbs.execute(
        select(Course, counted)
        .outerjoin(Lesson, and_(Lesson.course_id == Course.id, Lesson.is_archived.is_(False)))
        .group_by(Course.id).order_by(Course.updated_at.desc(), Course.id.desc())).all())


def course_structure(dbs: Session, course_id: int) -> list[Module]:
    """All modules of a course with all their lessons, archived ones included (authoring)."""
    return list(dbs.scalars(
        select(Module).where(Module.course_id == course_id)
        .options(selectinload(Module.lessons)).order_by(Module.position, Module.id)))
