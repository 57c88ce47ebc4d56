"""Reads for the certificate administration pages: a fixed number of statements each,
whatever the number of certificates (counts aggregated in SQL, lists paginated)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from lms.certificates import services
from lms.certificates.models import Certificate, CertificateJob
from lms.certificates.permissions import visible_certificates_clause
from lms.courses.models import Course, Enrolment, EnrolmentStatus
from lms.db import utcnow
from lms.org.models import User
from lms.pagination import Page
from lms.text import fold, like_escape


@dataclass(frozen=True)
class CourseRow:
    course: Course
    live: int
    revoked: int
    missing: int   # completed enrolments whose completion has no certificate


def course_rows(dbs: Session) -> list[CourseRow]:
    """Courses that grant certificates or have some, with their counts (three statements)."""
    counts = {row.course_id: row for row in dbs.execute(
        select(Certificate.course_id,
               func.count().filter(Certificate.superseded_by_id.is_(None)).label("live"),
               func.count().filter(Certificate.revoked_at.is_not(None)).label("revoked"))
        .group_by(Certificate.course_id))}
    live = select(Certificate.id).where(
        Certificate.enrolment_id == Enrolment.id, Certificate.completed_at == Enrolment.completed_at,
        Certificate.superseded_by_id.is_(None)).exists()
    missing = dict(dbs.execute(
        select(Enrolment.course_id, func.count())
        .where(Enrolment.status == EnrolmentStatus.COMPLETED.value,
               Enrolment.completed_at.is_not(None), ~live)
        .group_by(Enrolment.course_id)).all())
    courses = dbs.scalars(select(Course).where(or_(
        Course.certificate_enabled.is_(True), Course.id.in_(list(counts) or [-1])))
        .order_by(Course.language.desc(), Course.title)).all()
    return [CourseRow(course=c, live=getattr(counts.get(c.id), "live", 0),
                      revoked=getattr(counts.get(c.id), "revoked", 0),
                      missing=missing.get(c.id, 0)) for c in courses]


def status_clause(status: str, now: datetime) -> Any:
    not_revoked = Certificate.revoked_at.is_(None)
    current = and_(not_revoked, Certificate.superseded_by_id.is_(None))
    return {
        services.REVOKED: Certificate.revoked_at.is_not(None),
        services.SUPERSEDED: and_(not_revoked, Certificate.superseded_by_id.is_not(None)),
        services.EXPIRED: and_(current, Certificate.expires_at.is_not(None),
                               Certificate.expires_at <= now),
        services.VALID: and_(current, or_(Certificate.expires_at.is_(None),
                                          Certificate.expires_at > now)),
    }.get(status)


@dataclass(frozen=True)
class CertificateRow:
    certificate: Certificate
    employee_code: str
    registered_name: str
    replaced_by: str | None
    status: str


def certificate_page(dbs: Session, viewer: Any, *, course_id: int | None = None,
                     user_id: int | None = None, q: str = "", status: str = "", page: int = 1,
                     per_page: int = 50) -> Page[CertificateRow]:
    """Certificates (of a course, of a person, or all), newest first, searched by name,
    employee code or serial, filtered by status: one COUNT and one page query."""
    now = utcnow()
    newer = aliased(Certificate)
    query = (select(Certificate, User.employee_code, User.full_name, newer.serial)
             .join(User, User.id == Certificate.user_id)
             .outerjoin(newer, newer.id == Certificate.superseded_by_id)
             .where(visible_certificates_clause(viewer))
             .order_by(Certificate.issued_at.desc(), Certificate.id.desc()))
    if course_id is not None:
        query = query.where(Certificate.course_id == course_id)
    if user_id is not None:
        query = query.where(Certificate.user_id == user_id)
    for word in (q or "").split()[:8]:
        folded = like_escape(fold(word))
        query = query.where(or_(
            User.search_text.like(f"%{folded}%", escape="\\"),
            Certificate.serial.like(f"%{like_escape(word.upper())}%", escape="\\")))
    clause = status_clause(status, now)
    if clause is not None:
        query = query.where(clause)
    total = dbs.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    last = max(1, -(-total // per_page))
    page = min(max(1, page), last)
    rows = dbs.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    items = [CertificateRow(certificate=c, employee_code=code, registered_name=name,
                            replaced_by=replaced, status=services.status_of(c, now))
             for c, code, name, replaced in rows]
    return Page(items=items, page=page, per_page=per_page, total=total)


def status_counts(dbs: Session, course_id: int) -> dict[str, int]:
    """How many certificates of the course are in each status (one statement)."""
    now = utcnow()
    status = case(
        (Certificate.revoked_at.is_not(None), services.REVOKED),
        (Certificate.superseded_by_id.is_not(None), services.SUPERSEDED),
        (and_(Certificate.expires_at.is_not(None), Certificate.expires_at <= now),
         services.EXPIRED),
        else_=services.VALID)
    counts = dict(dbs.execute(select(status, func.count()).where(
        Certificate.course_id == course_id).group_by(status)).all())
    return {s: counts.get(s, 0) for s in services.STATUSES}


def jobs_of(dbs: Session, course_id: int, limit: int = 10) -> list[CertificateJob]:
    return list(dbs.scalars(select(CertificateJob).where(CertificateJob.course_id == course_id)
                            .order_by(CertificateJob.id.desc()).limit(limit)))


