"""Question banks, quizzes, attempts and the remediation grants.

A question's content lives in immutable :class:`QuestionVersion` rows (the spec as JSON):
editing a question adds a version, and every attempt answer points at the version the
learner saw, so past scores never move unless a trainer regrades on purpose.
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import Base, UTCDateTime, utcnow


class Grading(str, enum.Enum):
    HIGHEST = "highest"
    LAST = "last"


class ReviewMode(str, enum.Enum):
    SCORE = "score"          # the score only
    ANSWERS = "answers"      # the score and which answers were right
    FEEDBACK = "feedback"    # everything: right answers and feedback


class Layout(str, enum.Enum):
    PER_PAGE = "per_page"
    ONE_PAGE = "one_page"


class AttemptStatus(str, enum.Enum):
    OPEN = "open"
    SUBMITTED = "submitted"


class GrantKind(str, enum.Enum):
    EXTRA_ATTEMPTS = "extra_attempts"
    RESET = "reset"
    EXTRA_TIME = "extra_time"


class QuestionCategory(Base):
    __tablename__ = "question_categories"
    __table_args__ = (UniqueConstraint("course_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))


class Question(Base):
    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("course_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    category_id: Mapped[int] = mapped_column(
        ForeignKey("question_categories.id", ondelete="CASCADE"), index=True)
    # Stable name inside the course: packages and GIFT imports match questions by it.
    name: Mapped[str] = mapped_column(String(120))
    type: Mapped[str] = mapped_column(String(20))
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    category: Mapped[QuestionCategory] = relationship()


class QuestionVersion(Base):
    """One immutable state of a question; ``spec`` is :func:`lms.quizzes.specio.spec_to_dict`."""

    __tablename__ = "question_versions"
    __table_args__ = (UniqueConstraint("question_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict] = mapped_column(JSON)
    points: Mapped[float] = mapped_column(Float)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    question: Mapped[Question] = relationship()


class Quiz(Base):
    __tablename__ = "quizzes"
    __table_args__ = (UniqueConstraint("course_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    pass_mark: Mapped[int] = mapped_column(Integer, default=80)             # percent
    attempts_allowed: Mapped[int] = mapped_column(Integer, default=0)       # 0 = unlimited
    time_limit_minutes: Mapped[int | None] = mapped_column(Integer)
    shuffle_questions: Mapped[bool] = mapped_column(Boolean, default=True)
    shuffle_choices: Mapped[bool] = mapped_column(Boolean, default=True)
    grading: Mapped[str] = mapped_column(String(10), default=Grading.HIGHEST.value)
    review: Mapped[str] = mapped_column(String(10), default=ReviewMode.FEEDBACK.value)
    layout: Mapped[str] = mapped_column(String(10), default=Layout.PER_PAGE.value)
    is_required: Mapped[bool] = mapped_column(Boolean, default=True)
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    slots: Mapped[list[QuizSlot]] = relationship(
        back_populates="quiz", order_by="QuizSlot.position", cascade="all, delete-orphan")


class QuizSlot(Base):
    """Either one fixed question, or "draw ``draw_count`` random questions from a category"."""

    __tablename__ = "quiz_slots"

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("question_categories.id", ondelete="CASCADE"))
    draw_count: Mapped[int] = mapped_column(Integer, default=1)

    quiz: Mapped[Quiz] = relationship(back_populates="slots")
    question: Mapped[Question | None] = relationship()
    category: Mapped[QuestionCategory | None] = relationship()


class Attempt(Base):
    __tablename__ = "quiz_attempts"
    __table_args__ = (
        UniqueConstraint("quiz_id", "user_id", "number"),
        # At most one open attempt per person and quiz, whatever races: a second start resumes it.
        Index("uq_quiz_attempts_one_open", "quiz_id", "user_id", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
        Index("ix_quiz_attempts_user_quiz", "user_id", "quiz_id"),
        Index("ix_quiz_attempts_submitted", "submitted_at"),  # the API's statements by period
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default=AttemptStatus.OPEN.value)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Scores are filled in when the attempt is graded; percent is 0..100.
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)
    percent: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    auto_submitted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Integrity signals, shown to trainers as flags and never used as penalties.
    focus_lost_count: Mapped[int] = mapped_column(Integer, default=0)
    paste_count: Mapped[int] = mapped_column(Integer, default=0)

    quiz: Mapped[Quiz] = relationship()
    answers: Mapped[list[AttemptAnswer]] = relationship(
        back_populates="attempt", order_by="AttemptAnswer.position", cascade="all, delete-orphan")

    @property
    def is_open(self) -> bool:
        return self.status == AttemptStatus.OPEN.value


class AttemptAnswer(Base):
    """A drawn question of an attempt: the version shown, the order its choices were shown
    in, and the learner's response (saved as it is given, graded at submission)."""

    __tablename__ = "attempt_answers"
    __table_args__ = (
        UniqueConstraint("attempt_id", "position"),
        Index("ix_attempt_answers_question", "question_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("quiz_attempts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("question_versions.id"))
    # The display order: choice indices (choice questions), item indices (ordering) or
    # right-hand texts (matching), as shown to this learner.
    display: Mapped[list] = mapped_column(JSON, default=list)
    response: Mapped[object | None] = mapped_column(JSON)
    # A canonical text of the response ("1,3", "true", "ha noi"): choice distributions GROUP BY it.
    response_key: Mapped[str | None] = mapped_column(String(200))
    shown_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pasted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float, default=1.0)
    fraction: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str | None] = mapped_column(String(12))

    attempt: Mapped[Attempt] = relationship(back_populates="answers")
    question: Mapped[Question] = relationship()
    version: Mapped[QuestionVersion] = relationship()


class QuizGrant(Base):
    """Remediation and accommodations, each with the reason and who granted it."""

    __tablename__ = "quiz_grants"
    __table_args__ = (Index("ix_quiz_grants_quiz_user", "quiz_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))
    # extra_attempts: how many; extra_time: minutes; reset: the attempt number it follows.
    amount: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
