"""Courses, modules, lessons, media, enrolments and lesson progress."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import Base, UTCDateTime, utcnow


class CourseStatus(str, enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class LessonKind(str, enum.Enum):
    TEXT = "text"
    VIDEO = "video"
    FILE = "file"
    LINK = "link"


class EnrolmentStatus(str, enum.Enum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


TOPICS = ("security", "documents", "portal", "data", "public_services", "tools", "other")


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    summary: Mapped[str] = mapped_column(Text, default="")
    outcomes: Mapped[str] = mapped_column(Text, default="")  # one outcome per line
    topic: Mapped[str] = mapped_column(String(40), default="other", index=True)
    language: Mapped[str] = mapped_column(String(8), default="vi")
    status: Mapped[str] = mapped_column(String(20), default=CourseStatus.DRAFT.value, index=True)
    estimated_minutes: Mapped[int] = mapped_column(Integer, default=30)
    certificate_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    validity_months: Mapped[int | None] = mapped_column(Integer)
    search_text: Mapped[str] = mapped_column(String(1000), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    modules: Mapped[list[Module]] = relationship(
        back_populates="course", order_by="Module.position", cascade="all, delete-orphan")

    @property
    def outcome_list(self) -> list[str]:
        return [line.strip() for line in self.outcomes.splitlines() if line.strip()]

    @property
    def is_published(self) -> bool:
        return self.status == CourseStatus.PUBLISHED.value


class Module(Base):
    __tablename__ = "course_modules"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(255))
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False)

    course: Mapped[Course] = relationship(back_populates="modules")
    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="module", order_by="Lesson.position", cascade="all, delete-orphan")


class MediaFile(Base):
    """An uploaded file of a course, stored once by content (sha256) outside the package."""

    __tablename__ = "media_files"
    __table_args__ = (UniqueConstraint("course_id", "filename"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Lesson(Base):
    __tablename__ = "lessons"
    __table_args__ = (UniqueConstraint("course_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("course_modules.id", ondelete="CASCADE"),
                                           index=True)
    # Stable name inside the course: course packages match lessons by it across servers.
    key: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(10), default=LessonKind.TEXT.value)
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown, sanitised when rendered
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media_files.id", ondelete="SET NULL"))
    url: Mapped[str] = mapped_column(String(1000), default="")
    is_required: Mapped[bool] = mapped_column(Boolean, default=True)
    complete_on_video_end: Mapped[bool] = mapped_column(Boolean, default=False)
    estimated_minutes: Mapped[int] = mapped_column(Integer, default=5)
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    module: Mapped[Module] = relationship(back_populates="lessons")
    media: Mapped[MediaFile | None] = relationship()


class Enrolment(Base):
    """One person in one course. Denormalised on purpose: reports read this table only."""

    __tablename__ = "enrolments"
    __table_args__ = (
        UniqueConstraint("user_id", "course_id"),
        # Covers every column the unit reports read, so they never touch the table itself.
        Index("ix_enrolments_report", "unit_id", "course_id", "source", "enrolled_at", "started_at",
              "completed_at", "due_at", "assignment_id", "quiz_score", "certified_at", "user_id"),
        # The API's incremental pulls (updated_since, then cursor) and completion statements.
        Index("ix_enrolments_updated", "updated_at", "id"),
        Index("ix_enrolments_completed", "completed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # (user_id, course_id) is unique, which also indexes lookups by user.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    source: Mapped[str] = mapped_column(String(10), default="self")  # self | assigned
    assignment_id: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default=EnrolmentStatus.NOT_STARTED.value)
    progress_pct: Mapped[int] = mapped_column(Integer, default=0)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"))
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Denormalised for the reports: the average counted quiz score (percent) of the course's
    # quizzes taken, and when the current (unrevoked) certificate was issued.
    quiz_score: Mapped[float | None] = mapped_column(Float)
    certified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Recertification: when set, only lessons done and quizzes passed since then count
    # towards this completion (earlier cycles stay in the history).
    cycle_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    course: Mapped[Course] = relationship()

    @property
    def is_completed(self) -> bool:
        return self.status == EnrolmentStatus.COMPLETED.value


class LessonProgress(Base):
    __tablename__ = "lesson_progress"
    __table_args__ = (UniqueConstraint("user_id", "lesson_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Index("ix_lesson_progress_user_course", LessonProgress.user_id, LessonProgress.course_id)
