"""Certificates, their designs, the register numbers and the bulk-issue jobs.

A certificate keeps what was printed on it (name, course title, hours, unit) as values,
so a later rename of the course or the unit never changes an issued certificate; a name
correction is a reissue (the old certificate is superseded, the new one has a new serial
and code).
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import Base, UTCDateTime, utcnow


class Design(str, enum.Enum):
    CLASSIC = "classic"    # serif, double border, seal at the bottom right
    MODERN = "modern"      # sans-serif, coloured band at the left


class JobStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class CertificateTemplate(Base):
    """A design with its wording, signer and images, chosen per course."""

    __tablename__ = "certificate_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    design: Mapped[str] = mapped_column(String(20), default=Design.CLASSIC.value)
    bilingual: Mapped[bool] = mapped_column(Boolean, default=True)   # Vietnamese first, English below
    issuer_name: Mapped[str] = mapped_column(String(255), default="BỘ NGOẠI GIAO")
    issuer_name_en: Mapped[str] = mapped_column(String(255), default="MINISTRY OF FOREIGN AFFAIRS")
    # The issuing body's register (its own numbering per year); empty: LMS_CERTIFICATE_PREFIX.
    register_prefix: Mapped[str] = mapped_column(String(20), default="", server_default="")
    heading: Mapped[str] = mapped_column(String(255), default="GIẤY CHỨNG NHẬN")
    heading_en: Mapped[str] = mapped_column(String(255), default="CERTIFICATE OF COMPLETION")
    body: Mapped[str] = mapped_column(Text, default="")        # wording under the name (vi)
    body_en: Mapped[str] = mapped_column(Text, default="")
    signer_name: Mapped[str] = mapped_column(String(255), default="")
    signer_title: Mapped[str] = mapped_column(String(255), default="")
    signer_title_en: Mapped[str] = mapped_column(String(255), default="")
    # Images are stored content-addressed like course media (lms.courses.media): sha256 + type.
    logo_sha256: Mapped[str | None] = mapped_column(String(64))
    logo_type: Mapped[str | None] = mapped_column(String(100))
    seal_sha256: Mapped[str | None] = mapped_column(String(64))
    seal_type: Mapped[str | None] = mapped_column(String(100))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CourseCertificate(Base):
    """Which template a course's certificates use (none: the default template)."""

    __tablename__ = "course_certificate_templates"

    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("certificate_templates.id"))
    hours: Mapped[float | None] = mapped_column()   # printed hours; default: the course's estimate
    title_en: Mapped[str] = mapped_column(String(255), default="")  # for bilingual certificates


class RegisterCounter(Base):
    """The next register number per issuing prefix and year (``BNG-2026-000123``).

    Allocated under a row lock (``UPDATE … RETURNING``): no gaps, no duplicates, whatever
    the concurrency, because the number is taken in the same transaction as the certificate.
    """

    __tablename__ = "certificate_register_counters"

    prefix: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Certificate(Base):
    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("serial"),
        UniqueConstraint("code"),
        # One live certificate per completion: issuing twice for the same enrolment and
        # completion date is refused by the database, whatever races.
        Index("uq_certificates_one_per_completion", "enrolment_id", "completed_at", unique=True,
              sqlite_where=text("superseded_by_id IS NULL"),
              postgresql_where=text("superseded_by_id IS NULL")),
        Index("ix_certificates_user", "user_id"),
        Index("ix_certificates_course", "course_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(40))          # BNG-2026-000123
    code: Mapped[str] = mapped_column(String(64))            # random, >= 128 bits, URL-safe
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("enrolments.id", ondelete="SET NULL"))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("certificate_templates.id"))
    # As printed:
    full_name: Mapped[str] = mapped_column(String(200))
    course_title: Mapped[str] = mapped_column(String(255))
    course_title_en: Mapped[str] = mapped_column(String(255), default="")
    unit_name: Mapped[str] = mapped_column(String(255), default="")
    hours: Mapped[float] = mapped_column(default=0.0)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    pdf_size: Mapped[int | None] = mapped_column(Integer)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("certificate_jobs.id", ondelete="SET NULL"))

    template: Mapped[CertificateTemplate | None] = relationship()


class CertificateJob(Base):
    """A bulk issue running in the background; its state lives here, so it survives a restart."""

    __tablename__ = "certificate_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.QUEUED.value)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    enrolment_ids: Mapped[list] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    zip_sha256: Mapped[str | None] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
