"""Reads for the mentoring pages: a fixed number of queries, whatever the number of mentees."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, aliased, joinedload, lazyload, selectinload

from lms.auth.permissions import is_admin
from lms.courses.models import Course, Enrolment, EnrolmentStatus
from lms.mentoring.models import HelpRequest, HelpStatus, Mentorship
from lms.mentoring.needs import BEHIND, Need, need_score, needs_of
from lms.mentoring.nudges import last_nudged
from lms.mentoring.permissions import (
    current_mentees,
    help_requests_to_me_clause,
    pairable_people_clause,
)
from lms.org.models import Role, RoleGrant, Unit, User
from lms.pagination import Page, paginate
from lms.quizzes.models import Attempt, AttemptStatus, Quiz
from lms.text import fold, like_escape


@dataclass(frozen=True)
class CourseLine:
    course_id: int
    title: str
    slug: str
    status: str
    progress_pct: int
    assigned: bool
    due_at: datetime | None
    completed_at: datetime | None
    last_activity_at: datetime | None
    overdue: bool


@dataclass(frozen=True)
class QuizLine:
    quiz_id: int
    title: str
    attempts: int
    failed: int
    best_percent: float | None
    passed: bool
    last_attempt_id: int


@dataclass
class MenteeRow:
    person: User
    since: datetime
    courses: list[CourseLine] = field(default_factory=list)
    quizzes: list[QuizLine] = field(default_factory=list)
    needs: set[Need] = field(default_factory=set)
    waiting_since: datetime | None = None
    last_nudged_at: datetime | None = None

    @property
    def last_activity_at(self) -> datetime | None:
        seen = [c.last_activity_at for c in self.courses if c.last_activity_at]
        return max(seen) if seen else None

    @property
    def score(self) -> int:
        return need_score(self.needs)

    @property
    def is_behind(self) -> bool:
        return bool(self.needs & BEHIND)

    @property
    def assigned_done(self) -> tuple[int, int]:
        assigned = [c for c in self.courses if c.assigned]
        return sum(c.status == EnrolmentStatus.COMPLETED.value for c in assigned), len(assigned)


@dataclass(frozen=True)
class MentorOverview:
    mentees: list[MenteeRow]
    requests: list[HelpRequest]

    @property
    def needing_help(self) -> int:
        return sum(1 for m in self.mentees if m.needs)

    @property
    def behind(self) -> list[MenteeRow]:
        return [m for m in self.mentees if m.is_behind]


def _by_need(row: MenteeRow) -> tuple:
    far_past = datetime.max.replace(tzinfo=row.since.tzinfo)
    return (-row.score, row.waiting_since or far_past, row.person.sort_name, row.person.id)


def mentor_overview(dbs: Session, mentor: User, now: datetime,
                    inactive_days: int) -> MentorOverview:
    """The mentor's mentees, each with courses, quiz results and needs, the ones who need help
    most first; and the open help requests this mentor answers, longest waiting first."""
    mine = current_mentees(mentor.id)
    rows = {person.id: MenteeRow(person, since) for person, since in dbs.execute(
        select(User, Mentorship.started_at)
        .join(Mentorship, Mentorship.mentee_id == User.id)
        .where(Mentorship.mentor_id == mentor.id, Mentorship.ended_at.is_(None))
        .options(joinedload(User.unit)))}
    if rows:
        _add_courses(dbs, rows, mine, now)
        _add_quizzes(dbs, rows, mine)
        for user_id, needs in needs_of(dbs, mine, now, inactive_days).items():
            rows[user_id].needs = needs
        for user_id, at in last_nudged(dbs, mentor.id, rows).items():
            rows[user_id].last_nudged_at = at
    requests = open_requests_for(dbs, mentor)
    for request in requests:
        row = rows.get(request.learner_id)
        if row is not None and request.waiting_since is not None:
            row.waiting_since = min(filter(None, (row.waiting_since, request.waiting_since)))
    return MentorOverview(sorted(rows.values(), key=_by_need), requests)


def _add_courses(dbs: Session, rows: dict[int, MenteeRow], mine, now: datetime) -> None:
    for e, title, slug in dbs.execute(
            select(Enrolment, Course.title, Course.slug).join(Course, Course.id == Enrolment.course_id)
            .where(Enrolment.user_id.in_(mine))
            .order_by(Enrolment.due_at.is_(None), Enrolment.due_at, Course.title)):
        done = e.status == EnrolmentStatus.COMPLETED.value
        rows[e.user_id].courses.append(CourseLine(
            course_id=e.course_id, title=title, slug=slug, status=e.status,
            progress_pct=e.progress_pct, assigned=e.source == "assigned", due_at=e.due_at,
            completed_at=e.completed_at, last_activity_at=e.last_activity_at,
            overdue=not done and e.due_at is not None and e.due_at < now))


def _add_quizzes(dbs: Session, rows: dict[int, MenteeRow], mine) -> None:
    graded = (Attempt.status == AttemptStatus.SUBMITTED.value) & Attempt.passed.is_not(None)
    for user_id, quiz_id, title, attempts, failed, best, passed, last_id in dbs.execute(
            select(Attempt.user_id, Quiz.id, Quiz.title, func.count(),
                   func.count().filter(Attempt.passed.is_(False)), func.max(Attempt.percent),
                   func.count().filter(Attempt.passed.is_(True)), func.max(Attempt.id))
            .join(Quiz, Quiz.id == Attempt.quiz_id)
            .where(Attempt.user_id.in_(mine), graded, Quiz.is_archived.is_(False))
            .group_by(Attempt.user_id, Quiz.id, Quiz.title).order_by(Quiz.title)):
        rows[user_id].quizzes.append(QuizLine(quiz_id, title, attempts, failed, best,
                                              passed > 0, last_id))


def open_requests_for(dbs: Session, mentor: User) -> list[HelpRequest]:
    """Open requests this mentor answers: learners still waiting first, longest wait first."""
    return list(dbs.scalars(
        select(HelpRequest).where(help_requests_to_me_clause(mentor),
                                  HelpRequest.status == HelpStatus.OPEN.value)
        .options(joinedload(HelpRequest.learner).joinedload(User.unit))
        .order_by(HelpRequest.waiting_since.is_(None), HelpRequest.waiting_since,
                  HelpRequest.last_message_at.desc())))


def requests_of_learner(dbs: Session, learner: User, limit: int = 100) -> list[HelpRequest]:
    """A learner's own requests: open ones first, newest activity first."""
    return list(dbs.scalars(
        select(HelpRequest).where(HelpRequest.learner_id == learner.id)
        .options(joinedload(HelpRequest.mentor))
        .order_by(HelpRequest.status != HelpStatus.OPEN.value, HelpRequest.last_message_at.desc())
        .limit(limit)))


def answered_requests_for(dbs: Session, mentor: User, limit: int = 50) -> list[HelpRequest]:
    """Solved requests this mentor took part in or received, newest first."""
    return list(dbs.scalars(
        select(HelpRequest).where(help_requests_to_me_clause(mentor),
                                  HelpRequest.status == HelpStatus.SOLVED.value)
        .options(joinedload(HelpRequest.learner))
        .order_by(HelpRequest.solved_at.desc()).limit(limit)))


def _subtree(unit: Unit):
    return select(Unit.id).where(Unit.path.startswith(unit.path))


# ---------------------------------------------------------------- pairing pages

@dataclass(frozen=True)
class MentorRow:
    mentor: User
    mentees: int   # current mentees, wherever they are


def pairs_page(dbs: Session, viewer: Any, unit: Unit | None, q: str, mentor_id: int | None,
               page: int, per_page: int) -> Page[Mentorship]:
    """Current pairs whose mentee the viewer may pair, grouped by mentor (a COUNT and three
    reads, whatever the number of rows)."""
    mentor = aliased(User)
    query = (
        select(Mentorship)
        .join(User, User.id == Mentorship.mentee_id)
        .join(mentor, mentor.id == Mentorship.mentor_id)
        .where(Mentorship.ended_at.is_(None), pairable_people_clause(viewer))
        .options(selectinload(Mentorship.mentee).options(joinedload(User.unit),
                                                         lazyload(User.grants)),
                 selectinload(Mentorship.mentor).options(joinedload(User.unit),
                                                         lazyload(User.grants)))
        .order_by(mentor.sort_name, mentor.id, User.sort_name, User.id)
    )
    if unit is not None:
        query = query.where(User.unit_id.in_(_subtree(unit)))
    if mentor_id:
        query = query.where(Mentorship.mentor_id == mentor_id)
    for word in fold(q).split():
        pattern = f"%{like_escape(word)}%"
        query = query.where(or_(User.search_text.like(pattern, escape="\\"),
                                mentor.search_text.like(pattern, escape="\\")))
    return paginate(dbs, query, page, per_page)


def _mentors_clause(viewer: Any, unit: Unit | None) -> ColumnElement[bool]:
    holders = select(RoleGrant.user_id).where(RoleGrant.role == Role.MENTOR.value)
    clause = User.id.in_(holders) & User.is_active.is_(True) & pairable_people_clause(viewer)
    if unit is not None:
        subtree = _subtree(unit)
        clause &= or_(User.unit_id.in_(subtree), User.id.in_(holders.where(
            RoleGrant.unit_id.in_(subtree))))
    return clause


def mentors_in_scope(dbs: Session, viewer: Any, unit: Unit | None) -> list[MentorRow]:
    """The active mentors the viewer may pair (placed in ``unit``'s subtree or holding the
    role there, when given), each with their current number of mentees (one query)."""
    load = (select(func.count()).select_from(Mentorship)
            .where(Mentorship.mentor_id == User.id, Mentorship.ended_at.is_(None))
            .correlate(User).scalar_subquery())
    rows = dbs.execute(
        select(User, load).where(_mentors_clause(viewer, unit))
        .options(joinedload(User.unit), lazyload(User.grants))
        .order_by(User.sort_name, User.id)).all()
    return [MentorRow(mentor, count) for mentor, count in rows]


def unpaired_count(dbs: Session, viewer: Any, unit: Unit | None) -> int:
    """Active people the viewer may pair who have no mentor now."""
    paired = select(Mentorship.mentee_id).where(Mentorship.ended_at.is_(None))
    query = select(func.count()).select_from(User).where(
        User.is_active.is_(True), pairable_people_clause(viewer), User.id.not_in(paired))
    if unit is not None:
        query = query.where(User.unit_id.in_(_subtree(unit)))
    return dbs.scalar(query) or 0


def find_pairable(dbs: Session, viewer: Any, key: str) -> User | None:
    """The person with this employee code or e-mail, if the viewer may pair them."""
    key = (key or "").strip().lower()
    if not key:
        return None
    return dbs.scalar(select(User).where(
        or_(func.lower(User.employee_code) == key, func.lower(User.email) == key),
        pairable_people_clause(viewer)))


def outside_scope(dbs: Session, viewer: Any, people_ids: set[int]) -> set[int]:
    """Which of these people the viewer may not pair (none, for an admin)."""
    if not people_ids or is_admin(viewer):
        return set()
    inside = set(dbs.scalars(select(User.id).where(User.id.in_(people_ids),
                                                    pairable_people_clause(viewer))))
    return people_ids - inside
