"""The recognition table: what each mentor of a unit's subtree did in a period, for the
movement's emulation; and the mentoring figures of a unit report.

A mentor "of" a subtree is someone who holds the mentor role on a unit in it, or who is
placed in it and holds the role or has current mentees, or who logged coaching sessions
counted in it during the period. Coaching counts where it was logged (the session's unit);
help requests count for the mentors they were addressed to.

Every measure is one grouped statement over all the listed mentors, so the table costs the
same few statements for two mentors or two thousand.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select, union
from sqlalchemy.orm import Session, joinedload

from lms.courses.models import Enrolment, EnrolmentStatus
from lms.mentoring.models import (
    CoachingAttendee,
    CoachingSession,
    HelpMessage,
    HelpRecipient,
    HelpRequest,
    HelpStatus,
    Mentorship,
)
from lms.org.models import Role, RoleGrant, Unit, User

ASSIGNED = "assigned"


@dataclass(frozen=True)
class Period:
    """Calendar days from ``start`` to ``end`` (both included), in ``timezone``."""

    start: date
    end: date
    timezone: str = "Asia/Ho_Chi_Minh"

    @classmethod
    def this_year(cls, today: date, timezone: str) -> Period:
        """From 1 January to ``today``."""
        return cls(date(today.year, 1, 1), today, timezone)

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[start of the first day, start of the day after the last) as UTC moments."""
        zone = ZoneInfo(self.timezone)
        first = datetime.combine(self.start, time.min, zone)
        after = datetime.combine(self.end + timedelta(days=1), time.min, zone)
        return first.astimezone(timezone.utc), after.astimezone(timezone.utc)


@dataclass
class MentorFigures:
    mentees: int = 0           # current mentees
    completed: int = 0         # of them, who completed all their assigned training
    open_requests: int = 0     # open help requests addressed to the mentor
    solved: int = 0            # help requests solved in the period that the mentor answered
    sessions: int = 0          # coaching sessions in the period
    minutes: int = 0
    people: int = 0            # distinct people who attended those sessions

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 1)


@dataclass(frozen=True)
class MentorLine:
    person: User               # with ``unit`` loaded
    figures: MentorFigures


@dataclass(frozen=True)
class Recognition:
    unit: Unit
    period: Period
    lines: list[MentorLine]
    # Sums where a thing belongs to one mentor; distinct counts where it may be shared
    # (a request sent to several mentors, a colleague coached by two).
    total: MentorFigures = field(default_factory=MentorFigures)


# ---------------------------------------------------------------- who is listed

def _subtree(unit: Unit):
    return select(Unit.id).where(Unit.path.startswith(unit.path))


def _sessions_in(unit: Unit, period: Period) -> list[ColumnElement[bool]]:
    return [CoachingSession.unit_id.in_(_subtree(unit)),
            CoachingSession.held_on >= period.start, CoachingSession.held_on <= period.end]


def mentors_clause(unit: Unit, period: Period) -> ColumnElement[bool]:
    """SQL filter over ``User`` rows: the mentors of ``unit``'s subtree for ``period``."""
    units = _subtree(unit)
    holds_role = select(RoleGrant.user_id).where(RoleGrant.role == Role.MENTOR.value)
    role_here = select(RoleGrant.user_id).where(RoleGrant.role == Role.MENTOR.value,
                                                RoleGrant.unit_id.in_(units))
    with_mentees = select(Mentorship.mentor_id).where(Mentorship.ended_at.is_(None))
    coached = select(CoachingSession.mentor_id).where(*_sessions_in(unit, period))
    return or_(
        and_(User.is_active.is_(True), User.id.in_(role_here)),
        and_(User.unit_id.in_(units), or_(and_(User.is_active.is_(True), User.id.in_(holds_role)),
                                          User.id.in_(with_mentees))),
        User.id.in_(coached))


# ---------------------------------------------------------------- the table

def recognition_table(dbs: Session, unit: Unit, period: Period) -> Recognition:
    """One line per mentor of the subtree, the most coaching hours first (then the most
    mentees who completed their training), and the total."""
    mentors = list(dbs.scalars(select(User).where(mentors_clause(unit, period))
                               .options(joinedload(User.unit))
                               .order_by(User.sort_name, User.id)))
    figures = {m.id: MentorFigures() for m in mentors}
    total = MentorFigures()
    if mentors:
        ids = list(figures)
        _add_mentees(dbs, ids, figures)
        total.open_requests = _add_open_requests(dbs, ids, figures)
        total.solved = _add_solved(dbs, ids, period, figures)
        _add_coaching(dbs, ids, unit, period, figures)
        total.people = _distinct_people(dbs, ids, unit, period)
        for f in figures.values():
            total.mentees += f.mentees
            total.completed += f.completed
            total.sessions += f.sessions
            total.minutes += f.minutes
    lines = [MentorLine(m, figures[m.id]) for m in mentors]
    lines.sort(key=lambda line: (-line.figures.minutes, -line.figures.completed))  # stable
    return Recognition(unit, period, lines, total)


def _completed_everything():
    """People who have assigned training and completed all of it."""
    return (select(Enrolment.user_id).where(Enrolment.source == ASSIGNED)
            .group_by(Enrolment.user_id)
            .having(func.count().filter(
                Enrolment.status != EnrolmentStatus.COMPLETED.value) == 0))


def _add_mentees(dbs: Session, ids: list[int], figures: dict[int, MentorFigures]) -> None:
    done = Mentorship.mentee_id.in_(_completed_everything())
    for mentor_id, mentees, completed in dbs.execute(
            select(Mentorship.mentor_id, func.count(), func.count().filter(done))
            .where(Mentorship.mentor_id.in_(ids), Mentorship.ended_at.is_(None))
            .group_by(Mentorship.mentor_id)):
        figures[mentor_id].mentees = mentees
        figures[mentor_id].completed = completed


def _add_open_requests(dbs: Session, ids: list[int], figures: dict[int, MentorFigures]) -> int:
    """Open requests per mentor (their mentee's, or sent or escalated to them); returns how
    many distinct requests that is."""
    is_open = HelpRequest.status == HelpStatus.OPEN.value
    addressed = union(
        select(HelpRequest.mentor_id.label("user_id"), HelpRequest.id.label("request_id"))
        .where(is_open, HelpRequest.mentor_id.in_(ids)),
        select(HelpRecipient.user_id, HelpRecipient.request_id)
        .join(HelpRequest, HelpRequest.id == HelpRecipient.request_id)
        .where(is_open, HelpRecipient.user_id.in_(ids)))
    requests: set[int] = set()
    for user_id, request_id in dbs.execute(addressed):
        figures[user_id].open_requests += 1
        requests.add(request_id)
    return len(requests)


def _add_solved(dbs: Session, ids: list[int], period: Period,
                figures: dict[int, MentorFigures]) -> int:
    """Requests solved in the period in whose thread the mentor wrote; returns how many
    distinct requests that is."""
    first, after = period.utc_bounds()
    requests: set[int] = set()
    for author_id, request_id in dbs.execute(
            select(HelpMessage.author_id, HelpMessage.request_id).distinct()
            .join(HelpRequest, HelpRequest.id == HelpMessage.request_id)
            .where(HelpMessage.author_id.in_(ids), HelpMessage.author_id != HelpRequest.learner_id,
                   HelpRequest.status == HelpStatus.SOLVED.value,
                   HelpRequest.solved_at >= first, HelpRequest.solved_at < after)):
        figures[author_id].solved += 1
        requests.add(request_id)
    return len(requests)


def _add_coaching(dbs: Session, ids: list[int], unit: Unit, period: Period,
                  figures: dict[int, MentorFigures]) -> None:
    where = [CoachingSession.mentor_id.in_(ids), *_sessions_in(unit, period)]
    for mentor_id, sessions, minutes in dbs.execute(
            select(CoachingSession.mentor_id, func.count(),
                   func.coalesce(func.sum(CoachingSession.duration_minutes), 0))
            .where(*where).group_by(CoachingSession.mentor_id)):
        figures[mentor_id].sessions = sessions
        figures[mentor_id].minutes = int(minutes)
    for mentor_id, people in dbs.execute(
            select(CoachingSession.mentor_id, func.count(func.distinct(CoachingAttendee.user_id)))
            .join(CoachingAttendee, CoachingAttendee.session_id == CoachingSession.id)
            .where(*where).group_by(CoachingSession.mentor_id)):
        figures[mentor_id].people = people


def _distinct_people(dbs: Session, ids: list[int], unit: Unit, period: Period) -> int:
    return dbs.scalar(
        select(func.count(func.distinct(CoachingAttendee.user_id)))
        .join(CoachingSession, CoachingSession.id == CoachingAttendee.session_id)
        .where(CoachingSession.mentor_id.in_(ids), *_sessions_in(unit, period))) or 0


# ---------------------------------------------------------------- a unit report's panel

@dataclass(frozen=True)
class MentoringSummary:
    """The mentoring figures of a unit's subtree for a period."""

    period: Period
    sessions: int
    minutes: int
    people: int
    mentors: int
    active_mentors: int        # held a session or wrote an answer in a help thread
    open_requests: int         # open help requests of the subtree's people

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 1)


def unit_summary(dbs: Session, unit: Unit, period: Period) -> MentoringSummary:
    """Coaching, mentors and open help requests of ``unit``'s subtree (four statements)."""
    from lms.mentoring.coaching import totals

    coaching = totals(dbs, unit_ids=_subtree(unit), start=period.start, end=period.end)
    first, after = period.utc_bounds()
    coached = select(CoachingSession.mentor_id).where(*_sessions_in(unit, period))
    answered = (select(HelpMessage.author_id)
                .join(HelpRequest, HelpRequest.id == HelpMessage.request_id)
                .where(HelpMessage.created_at >= first, HelpMessage.created_at < after,
                       HelpMessage.author_id != HelpRequest.learner_id))
    mentors, active = dbs.execute(
        select(func.count(), func.count().filter(or_(User.id.in_(coached), User.id.in_(answered))))
        .select_from(User).where(mentors_clause(unit, period))).one()
    open_requests = dbs.scalar(
        select(func.count()).select_from(HelpRequest)
        .where(HelpRequest.status == HelpStatus.OPEN.value,
               HelpRequest.unit_id.in_(_subtree(unit)))) or 0
    return MentoringSummary(period, coaching.sessions, coaching.minutes, coaching.people,
                            mentors or 0, active or 0, open_requests)


def as_dict(figures: MentorFigures) -> dict[str, Any]:
    """The figures of a line by name (for exports and templates)."""
    return {"mentees": figures.mentees, "completed": figures.completed,
            "open_requests": figures.open_requests, "solved": figures.solved,
            "sessions": figures.sessions, "hours": figures.hours, "people": figures.people}
