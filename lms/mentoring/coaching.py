"""Coaching sessions a mentor logs: they count as coaching hours and people reached."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from lms.audit.services import record
from lms.mentoring.models import CoachingAttendee, CoachingSession, Mentorship
from lms.mentoring.services import MentoringError
from lms.org.models import User

MAX_SESSION_MINUTES = 8 * 60


@dataclass(frozen=True)
class SessionData:
    held_on: date
    topic: str
    duration_minutes: int
    attendee_ids: frozenset[int]
    notes: str = ""


def _mentee_ids(dbs: Session, mentor: User, on: date) -> set[int]:
    """The people who are this mentor's mentees, or still were on that day."""
    day_start = datetime.combine(on, time(0, 0), tzinfo=timezone.utc)
    return set(dbs.scalars(select(Mentorship.mentee_id).where(
        Mentorship.mentor_id == mentor.id,
        or_(Mentorship.ended_at.is_(None), Mentorship.ended_at >= day_start))))


def _check(dbs: Session, mentor: User, data: SessionData, today: date) -> None:
    if not data.topic.strip():
        raise MentoringError(_("Give the session a topic."), field="topic")
    if data.held_on > today:
        raise MentoringError(_("Log a session after it has taken place."), field="held_on")
    if not 5 <= data.duration_minutes <= MAX_SESSION_MINUTES:
        raise MentoringError(_("A session lasts from 5 minutes to 8 hours."),
                             field="duration_minutes")
    if not data.attendee_ids:
        raise MentoringError(_("Tick the mentees who took part."), field="attendee_ids")
    if not data.attendee_ids <= _mentee_ids(dbs, mentor, data.held_on):
        raise MentoringError(_("Attendees must be your mentees."), field="attendee_ids")


def log_session(dbs: Session, mentor: User, data: SessionData, today: date) -> CoachingSession:
    """Record a coaching session held by ``mentor`` (``today`` in the mentor's timezone)."""
    _check(dbs, mentor, data, today)
    session = CoachingSession(mentor_id=mentor.id, unit_id=mentor.unit_id, held_on=data.held_on,
                              topic=data.topic.strip()[:255], notes=data.notes.strip(),
                              duration_minutes=data.duration_minutes)
    session.attendees = [CoachingAttendee(user_id=uid) for uid in sorted(data.attendee_ids)]
    dbs.add(session)
    dbs.flush()
    record(dbs, mentor, "coaching.logged", session, label=session.topic,
           minutes=data.duration_minutes, attendees=len(data.attendee_ids))
    return session


def update_session(dbs: Session, mentor: User, session: CoachingSession, data: SessionData,
                   today: date) -> CoachingSession:
    if session.mentor_id != mentor.id:
        raise MentoringError(_("Only the mentor who logged a session can change it."))
    _check(dbs, mentor, data, today)
    session.held_on, session.topic = data.held_on, data.topic.strip()[:255]
    session.duration_minutes, session.notes = data.duration_minutes, data.notes.strip()
    keep = {a.user_id for a in session.attendees} & data.attendee_ids
    session.attendees = [a for a in session.attendees if a.user_id in keep] + [
        CoachingAttendee(user_id=uid) for uid in sorted(data.attendee_ids - keep)]
    dbs.flush()
    return session


def delete_session(dbs: Session, mentor: User, session: CoachingSession) -> None:
    if session.mentor_id != mentor.id:
        raise MentoringError(_("Only the mentor who logged a session can delete it."))
    record(dbs, mentor, "coaching.deleted", session, label=session.topic)
    dbs.delete(session)
    dbs.flush()


@dataclass(frozen=True)
class CoachingTotals:
    sessions: int
    minutes: int
    people: int

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 1)


def totals(dbs: Session, *, mentor_id: int | None = None, unit_ids: Any = None,
           start: date | None = None, end: date | None = None) -> CoachingTotals:
    """Sessions, minutes and distinct people reached, by mentor or by the mentors' units."""
    where: list[ColumnElement[bool]] = []
    if mentor_id is not None:
        where.append(CoachingSession.mentor_id == mentor_id)
    if unit_ids is not None:
        where.append(CoachingSession.unit_id.in_(unit_ids))
    if start is not None:
        where.append(CoachingSession.held_on >= start)
    if end is not None:
        where.append(CoachingSession.held_on <= end)
    sessions, minutes = dbs.execute(select(func.count(), func.coalesce(
        func.sum(CoachingSession.duration_minutes), 0)).where(*where)).one()
    people = dbs.scalar(select(func.count(func.distinct(CoachingAttendee.user_id)))
                        .join(CoachingSession, CoachingSession.id == CoachingAttendee.session_id)
                        .where(*where)) or 0
    return CoachingTotals(sessions or 0, int(minutes or 0), people)
