"""Reads for the assignment pages, "My learning" and the learning paths.

Each is one ``select()`` (plus eager loads) with its permission clause; figures are
aggregated in SQL, one grouped query per page whatever the number of rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from lms.assignments.models import (
    Assignment,
    AssignmentPerson,
    LearningPath,
    LearningPathCourse,
)
from lms.assignments.permissions import assigns_anywhere, visible_assignments_clause
from lms.auth.permissions import head_scope_paths
from lms.courses.models import Course, CourseStatus, Enrolment, EnrolmentStatus
from lms.org.models import Unit, User
from lms.pagination import Page, paginate
from lms.text import clean, fold

COMPLETED = EnrolmentStatus.COMPLETED.value
IN_PROGRESS = EnrolmentStatus.IN_PROGRESS.value
NOT_STARTED = EnrolmentStatus.NOT_STARTED.value


# ---------------------------------------------------------------- choices for the forms

def target_unit_options(dbs: Session, viewer: Any) -> list[tuple[int, str]]:
    """(id, indented name) of the active units the viewer may assign training to, in tree
    order: every unit for admins and trainers, a unit head's own subtrees otherwise."""
    query = select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.path)
    if not assigns_anywhere(viewer):
        scopes = head_scope_paths(viewer)
        if not scopes:
            return []
        query = query.where(or_(*(Unit.path.startswith(scope) for scope in scopes)))
    units = dbs.scalars(query).all()
    ids = {u.id for u in units}
    by_parent: dict[int | None, list[Unit]] = {}
    for unit in units:
        by_parent.setdefault(unit.parent_id if unit.parent_id in ids else None, []).append(unit)
    options: list[tuple[int, str]] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for unit in sorted(by_parent.get(parent_id, []), key=lambda u: (u.kind, fold(u.name))):
            options.append((unit.id, f"{'— ' * depth}{unit.name} ({unit.code})"))
            walk(unit.id, depth + 1)

    walk(None, 0)
    return options


def root_unit_id(dbs: Session) -> int | None:
    return dbs.scalar(select(Unit.id).where(Unit.parent_id.is_(None)).order_by(Unit.id).limit(1))


def published_courses(dbs: Session) -> list[tuple[int, str]]:
    return [(row.id, row.title) for row in dbs.execute(
        select(Course.id, Course.title).where(Course.status == CourseStatus.PUBLISHED.value)
        .order_by(Course.title, Course.id))]


def assignable_paths(dbs: Session) -> list[tuple[int, str]]:
    """Learning paths that hold at least one course."""
    has_steps = select(LearningPathCourse.id).where(
        LearningPathCourse.path_id == LearningPath.id).exists()
    return [(row.id, row.title) for row in dbs.execute(
        select(LearningPath.id, LearningPath.title).where(has_steps).order_by(LearningPath.title))]


@dataclass
class PeopleLookup:
    ids: list[int]
    unknown: list[str]
    left: list[str]


def find_people(dbs: Session, entries: Iterable[str]) -> PeopleLookup:
    """Match employee codes or e-mail addresses (case-insensitive) to people, in one query."""
    wanted = list(dict.fromkeys(clean(e) for e in entries if clean(e)))
    if not wanted:
        return PeopleLookup([], [], [])
    keys = {w.lower() for w in wanted}
    rows = dbs.execute(select(User.id, User.employee_code, User.email, User.is_active).where(
        or_(func.lower(User.employee_code).in_(keys), func.lower(User.email).in_(keys)))).all()
    by_key: dict[str, Any] = {}
    for row in rows:
        by_key[row.employee_code.lower()] = row
        by_key[row.email.lower()] = row
    ids: list[int] = []
    unknown: list[str] = []
    left: list[str] = []
    for entry in wanted:
        row = by_key.get(entry.lower())
        if row is None:
            unknown.append(entry)
        elif not row.is_active:
            left.append(entry)
        elif row.id not in ids:
            ids.append(row.id)
    return PeopleLookup(ids, unknown, left)


def people_listed(dbs: Session, assignment_id: int) -> list[str]:
    """"Name (code)" of the people a "people" assignment lists, in roster order."""
    return [f"{name} ({code})" for name, code in dbs.execute(
        select(User.full_name, User.employee_code)
        .join(AssignmentPerson, AssignmentPerson.user_id == User.id)
        .where(AssignmentPerson.assignment_id == assignment_id)
        .order_by(User.sort_name, User.id))]


# ---------------------------------------------------------------- the list and the detail

@dataclass
class Progress:
    """Enrolments an assignment governs (people who left not counted)."""

    enrolled: int = 0
    completed: int = 0
    in_progress: int = 0
    not_started: int = 0
    overdue: int = 0

    @property
    def completion_pct(self) -> float:
        return round(100.0 * self.completed / self.enrolled, 1) if self.enrolled else 0.0


def _progress_columns(now: datetime) -> list[Any]:
    return [
        func.count(Enrolment.id),
        func.count(case((Enrolment.status == COMPLETED, 1))),
        func.count(case((Enrolment.status == IN_PROGRESS, 1))),
        func.count(case((Enrolment.status == NOT_STARTED, 1))),
        func.count(case(((Enrolment.status != COMPLETED) & (Enrolment.due_at < now), 1))),
    ]


def _active_people() -> Any:
    return Enrolment.user_id.in_(select(User.id).where(User.is_active.is_(True)))


@dataclass
class AssignmentRow:
    assignment: Assignment
    progress: Progress
    people: int            # how many people a "people" assignment lists


def assignment_page(dbs: Session, viewer: Any, page: int, per_page: int,
                    now: datetime) -> Page[AssignmentRow]:
    """The assignments the viewer may see, newest first, each with its progress.

    Three queries whatever the page holds: the count, the page, and one GROUP BY over the
    enrolments of the page's assignments (plus one for the people lists).
    """
    query = (select(Assignment).where(visible_assignments_clause(viewer))
             .order_by(Assignment.created_at.desc(), Assignment.id.desc()))
    result = paginate(dbs, query, page, per_page)
    ids = [a.id for a in result.items]
    progress: dict[int, Progress] = {}
    people: dict[int, int] = {}
    if ids:
        for row in dbs.execute(
                select(Enrolment.assignment_id, *_progress_columns(now))
                .where(Enrolment.assignment_id.in_(ids), _active_people())
                .group_by(Enrolment.assignment_id)):
            progress[row[0]] = Progress(*row[1:])
        people = dict(dbs.execute(
            select(AssignmentPerson.assignment_id, func.count())
            .where(AssignmentPerson.assignment_id.in_(ids))
            .group_by(AssignmentPerson.assignment_id)).all())
    rows = [AssignmentRow(a, progress.get(a.id, Progress()), people.get(a.id, 0))
            for a in result.items]
    return Page(items=rows, page=result.page, per_page=result.per_page, total=result.total)


@dataclass
class CourseProgress:
    course_id: int
    title: str
    slug: str
    status: str
    progress: Progress


@dataclass
class AssignmentDetail:
    courses: list[CourseProgress]
    total: Progress
    people: int


def assignment_detail(dbs: Session, assignment: Assignment, now: datetime) -> AssignmentDetail:
    """Progress per course (a path's in its order) and over all of them, in one GROUP BY."""
    if assignment.course_id:
        courses = dbs.execute(select(Course.id, Course.title, Course.slug, Course.status)
                              .where(Course.id == assignment.course_id)).all()
    else:
        courses = dbs.execute(
            select(Course.id, Course.title, Course.slug, Course.status)
            .join(LearningPathCourse, LearningPathCourse.course_id == Course.id)
            .where(LearningPathCourse.path_id == assignment.path_id)
            .order_by(LearningPathCourse.position)).all()
    counts = {row[0]: Progress(*row[1:]) for row in dbs.execute(
        select(Enrolment.course_id, *_progress_columns(now))
        .where(Enrolment.assignment_id == assignment.id, _active_people())
        .group_by(Enrolment.course_id))}
    listed = dbs.scalar(select(func.count()).select_from(AssignmentPerson).where(
        AssignmentPerson.assignment_id == assignment.id)) or 0
    rows = [CourseProgress(c.id, c.title, c.slug, c.status, counts.pop(c.id, Progress()))
            for c in courses]
    # Courses since removed from the path still show what the assignment enrolled in them.
    if counts:
        extra = {c.id: c for c in dbs.execute(select(
            Course.id, Course.title, Course.slug, Course.status).where(Course.id.in_(list(counts))))}
        rows += [CourseProgress(i, extra[i].title, extra[i].slug, extra[i].status, p)
                 for i, p in counts.items()]
    total = Progress()
    for row in rows:
        for name in ("enrolled", "completed", "in_progress", "not_started", "overdue"):
            setattr(total, name, getattr(total, name) + getattr(row.progress, name))
    return AssignmentDetail(rows, total, listed)


def has_governed_enrolment(dbs: Session, user_id: int, assignment_id: int) -> bool:
    return dbs.scalar(select(Enrolment.id).where(
        Enrolment.user_id == user_id, Enrolment.assignment_id == assignment_id).limit(1)) is not None


# ---------------------------------------------------------------- "My learning"

@dataclass(frozen=True)
class AssignedBy:
    """Why an enrolment is mandatory: its decision, and its place in a learning path."""

    assignment_id: int
    title: str
    decision_number: str
    decision_date: date
    has_decision_pdf: bool
    path_title: str | None
    step: int | None          # 1-based position in the path
    steps: int | None


def assigned_by(dbs: Session, user_id: int) -> dict[int, AssignedBy]:
    """For each of a person's enrolments governed by an assignment (keyed by enrolment id):
    the decision and the learning-path step. One query, whatever the number of enrolments."""
    step_count = (select(func.count(LearningPathCourse.id))
                  .where(LearningPathCourse.path_id == Assignment.path_id)
                  .correlate(Assignment).scalar_subquery())
    rows = dbs.execute(
        select(Enrolment.id, Assignment.id, Assignment.title, Assignment.decision_number,
               Assignment.decision_date, Assignment.decision_sha256, LearningPath.title,
               LearningPathCourse.position, step_count)
        .join(Assignment, Assignment.id == Enrolment.assignment_id)
        .outerjoin(LearningPath, LearningPath.id == Assignment.path_id)
        .outerjoin(LearningPathCourse, (LearningPathCourse.path_id == Assignment.path_id)
                   & (LearningPathCourse.course_id == Enrolment.course_id))
        .where(Enrolment.user_id == user_id))
    result: dict[int, AssignedBy] = {}
    for (enrolment_id, assignment_id, title, number, decided, sha, path_title, position,
         steps) in rows:
        in_path = path_title is not None and position is not None
        result[enrolment_id] = AssignedBy(
            assignment_id, title, number, decided, bool(sha), path_title,
            position + 1 if in_path else None, steps if in_path else None)   # positions are 0..n-1
    return result


# ---------------------------------------------------------------- learning paths

@dataclass
class PathRow:
    path: LearningPath
    courses: list[str]
    assignments: int


def path_rows(dbs: Session) -> list[PathRow]:
    """Every learning path with its course titles in order and how often it was assigned."""
    paths = dbs.scalars(select(LearningPath).order_by(LearningPath.title)).all()
    titles = dict(dbs.execute(select(Course.id, Course.title).where(Course.id.in_(
        select(LearningPathCourse.course_id)))).all())
    used = dict(dbs.execute(select(Assignment.path_id, func.count()).where(
        Assignment.path_id.is_not(None)).group_by(Assignment.path_id)).all())
    return [PathRow(p, [titles.get(s.course_id, "?") for s in p.steps], used.get(p.id, 0))
            for p in paths]


def path_course_choices(dbs: Session, path: LearningPath | None) -> list[tuple[int, str, str]]:
    """(id, title, status) of the published courses, plus any course the path still holds."""
    held: Sequence[int] = [s.course_id for s in path.steps] if path else []
    condition = Course.status == CourseStatus.PUBLISHED.value
    if held:
        condition = or_(condition, Course.id.in_(held))
    return [(row.id, row.title, row.status) for row in dbs.execute(
        select(Course.id, Course.title, Course.status).where(condition)
        .order_by(Course.title, Course.id))]
