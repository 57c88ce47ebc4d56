"""Who mentors whom, the help colleagues ask for, and the coaching mentors give."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import Base, UTCDateTime, utcnow
from lms.org.models import User


class Mentorship(Base):
    """A mentee has one current mentor (``ended_at`` null); ended pairs stay as history."""

    __tablename__ = "mentorships"
    __table_args__ = (
        Index("uq_mentorships_one_current", "mentee_id", unique=True,
              sqlite_where=text("ended_at IS NULL"), postgresql_where=text("ended_at IS NULL")),
        Index("ix_mentorships_mentor", "mentor_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    mentee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    mentor: Mapped[User] = relationship(foreign_keys=[mentor_id])
    mentee: Mapped[User] = relationship(foreign_keys=[mentee_id])


class HelpStatus(str, enum.Enum):
    OPEN = "open"
    SOLVED = "solved"


class HelpRequest(Base):
    """A learner's question about a place in a course, answered in a thread.

    It goes to the learner's mentor (``mentor_id``) or, with none, to the mentors of the
    learner's unit; while the learner waits longer than the escalation delay, it is also
    shown to the unit's other mentors (``escalated_at``).
    """

    __tablename__ = "help_requests"
    __table_args__ = (
        Index("ix_help_requests_mentor_status", "mentor_id", "status"),
        Index("ix_help_requests_unit_status", "unit_id", "status"),
        Index("ix_help_requests_learner", "learner_id", "status"),
        Index("ix_help_requests_escalate", "status", "escalate_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    mentor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="SET NULL"))
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"))
    attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("quiz_attempts.id", ondelete="SET NULL"))
    # Where the question was asked, as it was titled then ("Course — Lesson").
    place: Mapped[str] = mapped_column(String(520), default="")
    status: Mapped[str] = mapped_column(String(10), default=HelpStatus.OPEN.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set while the learner's last message has no mentor reply after it.
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    solved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    learner: Mapped[User] = relationship(foreign_keys=[learner_id])
    mentor: Mapped[User | None] = relationship(foreign_keys=[mentor_id])
    messages: Mapped[list[HelpMessage]] = relationship(
        back_populates="request", order_by="HelpMessage.id", cascade="all, delete-orphan")

    @property
    def is_open(self) -> bool:
        return self.status == HelpStatus.OPEN.value


class HelpRecipient(Base):
    """Besides the learner's own mentor, a mentor the request was sent to: the unit's mentors
    when the learner has none, and the other mentors once it is escalated."""

    __tablename__ = "help_recipients"

    request_id: Mapped[int] = mapped_column(
        ForeignKey("help_requests.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    reason: Mapped[str] = mapped_column(String(10))  # unit | escalated
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HelpMessage(Base):
    __tablename__ = "help_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("help_requests.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[HelpRequest] = relationship(back_populates="messages")
    author: Mapped[User] = relationship()


class CoachingSession(Base):
    """An in-person coaching session a mentor gave; it counts as coaching hours and people
    reached in the reports of the mentor's unit."""

    __tablename__ = "coaching_sessions"
    __table_args__ = (Index("ix_coaching_sessions_mentor_day", "mentor_id", "held_on"),
                      Index("ix_coaching_sessions_unit_day", "unit_id", "held_on"))

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    held_on: Mapped[date] = mapped_column(Date)
    topic: Mapped[str] = mapped_column(String(255))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    mentor: Mapped[User] = relationship()
    attendees: Mapped[list[CoachingAttendee]] = relationship(
        cascade="all, delete-orphan", order_by="CoachingAttendee.user_id")


class CoachingAttendee(Base):
    __tablename__ = "coaching_attendees"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("coaching_sessions.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)

    user: Mapped[User] = relationship()
