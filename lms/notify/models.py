"""In-app notifications, e-mail preferences, the e-mail outbox and the scheduler's job runs."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import Base, UTCDateTime, utcnow
from lms.org.models import User


class Notification(Base):
    """One message to one person. Its text is made from ``kind`` and ``params`` when shown,
    in the reader's language; ``body`` holds words a person wrote themselves. A job's
    notification carries a ``key`` (unique), so running the job again adds nothing."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at", "id"),
                      # a job queues the e-mails of the rows it just made (kind, created_at)
                      Index("ix_notifications_kind_created", "kind", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])


class EmailMode(str, enum.Enum):
    IMMEDIATE = "immediate"
    DIGEST = "digest"      # gathered into one e-mail a day
    OFF = "off"


class NotificationPreference(Base):
    """How a person wants e-mail for one category of notifications (no row: the default)."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[str] = mapped_column(String(30), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10))


class OutboxStatus(str, enum.Enum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"      # gave up after the last retry (an admin can retry it)


class OutboxEmail(Base):
    """An e-mail to send. ``key`` is unique: whatever enqueues it twice, it exists once.
    The words are made when it is sent, in the recipient's language, from ``kind`` and
    ``params`` (so a job can enqueue fifty thousand with one INSERT … SELECT)."""

    __tablename__ = "outbox_emails"
    __table_args__ = (Index("ix_outbox_emails_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=OutboxStatus.PENDING.value)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    to_address: Mapped[str] = mapped_column(String(254), default="")   # as sent
    subject: Mapped[str] = mapped_column(String(300), default="")       # as sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class JobRunStatus(str, enum.Enum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobRun(Base):
    """One run of a scheduled job for one period ("2026-11-24", "2026-W48", …). The
    (job, period) pair is unique: the first process to insert it does the work."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "period"),
                      Index("ix_job_runs_job_started", "job", "started_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(80))
    period: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(10), default=JobRunStatus.RUNNING.value)
    owner: Mapped[str] = mapped_column(String(120), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")


# APScheduler's job store (the schedule of `lms scheduler`), with the very columns
# APScheduler 3 defines, so that the table is made by a migration like every other.
apscheduler_jobs = Table(
    "apscheduler_jobs", Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
