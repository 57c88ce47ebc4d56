"""Assignments by decision, learning paths, and the people an assignment lists by name."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.courses.models import Course
from lms.db import Base, UTCDateTime, utcnow
from lms.org.models import Unit


class TargetKind(str, enum.Enum):
    UNIT = "unit"            # a unit and everything below it
    ROLE = "role"            # everyone holding a role (within a unit's subtree when one is set)
    PEOPLE = "people"        # a list of people
    EVERYONE = "everyone"    # every active person (within a unit's subtree when one is set)


class AssignmentStatus(str, enum.Enum):
    ACTIVE = "active"        # newcomers to the target are enrolled automatically
    CLOSED = "closed"        # kept for the record; nobody new is enrolled


class LearningPath(Base):
    """An ordered set of courses assigned together."""

    __tablename__ = "learning_paths"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    steps: Mapped[list[LearningPathCourse]] = relationship(
        order_by="LearningPathCourse.position", cascade="all, delete-orphan", lazy="selectin")


class LearningPathCourse(Base):
    __tablename__ = "learning_path_courses"
    __table_args__ = (UniqueConstraint("path_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    path_id: Mapped[int] = mapped_column(ForeignKey("learning_paths.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Assignment(Base):
    """Training made mandatory by a formal decision (e.g. "1637/QĐ-BNG"), with a deadline.

    Exactly one of ``course_id`` and ``path_id`` is set. Everyone the target covers is
    enrolled when it is created, and newcomers while it is active.
    """

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    decision_number: Mapped[str] = mapped_column(String(80), index=True)
    decision_date: Mapped[date] = mapped_column(Date)
    decision_sha256: Mapped[str | None] = mapped_column(String(64))   # the attached PDF
    decision_filename: Mapped[str | None] = mapped_column(String(255))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"), index=True)
    path_id: Mapped[int | None] = mapped_column(ForeignKey("learning_paths.id"), index=True)
    target_kind: Mapped[str] = mapped_column(String(10))
    target_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    target_role: Mapped[str | None] = mapped_column(String(20))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Days before the due date on which learners are reminded, e.g. "7,1" (empty: none).
    reminder_days: Mapped[str] = mapped_column(String(40), default="7,1", server_default="7,1")
    status: Mapped[str] = mapped_column(String(10), default=AssignmentStatus.ACTIVE.value, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    path: Mapped[LearningPath | None] = relationship(lazy="joined")
    course: Mapped[Course | None] = relationship(lazy="joined")
    target_unit: Mapped[Unit | None] = relationship(lazy="joined")

    @property
    def is_active(self) -> bool:
        return self.status == AssignmentStatus.ACTIVE.value


class AssignmentPerson(Base):
    """A person an assignment of kind "people" names."""

    __tablename__ = "assignment_people"
    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
