"""Issuing, revoking and reissuing certificates.

A certificate is issued in the transaction that completes the course (the receiver of
``course_completed``), exactly once per completion: a live certificate for the same
enrolment and completion date is returned instead of a second one, and a partial unique
index refuses a duplicate whatever races. The register number is taken in the same
transaction (``register.allocate_serial``), so a rolled-back issue leaves no gap.

The values printed on the certificate are kept on its row as printed; the PDF is rendered
once, stored by content and served from storage.
"""
from __future__ import annotations

import logging
import secrets
from calendar import monthrange
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lms.audit.services import record
from lms.certificates import rendering, storage
from lms.certificates.events import certificate_issued, certificate_revoked
from lms.certificates.models import Certificate, CertificateJob, CertificateTemplate, CourseCertificate
from lms.certificates.register import REGISTER_TIMEZONE, allocate_serial, register_year
from lms.courses.models import Course, Enrolment
from lms.db import utcnow
from lms.errors import DomainError
from lms.notify.reminders import notify_certificates_issued
from lms.org.models import Unit, User
from lms.urls import external_url

log = logging.getLogger(__name__)

VALID, EXPIRED, REVOKED, SUPERSEDED = "valid", "expired", "revoked", "superseded"
STATUSES = (VALID, EXPIRED, REVOKED, SUPERSEDED)
MAX_REASON = 1000
CODE_BYTES = 24  # 192 random bits, 32 URL-safe characters

DEFAULT_TEMPLATE_NAME = "Mẫu mặc định"


# ---------------------------------------------------------------- reading

def status_of(certificate: Certificate, now: datetime | None = None) -> str:
    """"valid", "expired", "revoked" or "superseded" (revocation wins over everything)."""
    if certificate.revoked_at is not None:
        return REVOKED
    if certificate.superseded_by_id is not None:
        return SUPERSEDED
    if certificate.expires_at is not None and certificate.expires_at <= (now or utcnow()):
        return EXPIRED
    return VALID


def live_certificate(dbs: Session, enrolment_id: int, completed_at: datetime) -> Certificate | None:
    """The certificate of one completion that is not superseded (at most one exists)."""
    return dbs.scalar(select(Certificate).where(
        Certificate.enrolment_id == enrolment_id, Certificate.completed_at == completed_at,
        Certificate.superseded_by_id.is_(None)))


def by_code(dbs: Session, code: str) -> Certificate | None:
    if not code or len(code) > 64:
        return None
    return dbs.scalar(select(Certificate).where(Certificate.code == code))


def by_serial(dbs: Session, serial: str) -> Certificate | None:
    serial = (serial or "").strip().upper()
    if not serial or len(serial) > 40:
        return None
    return dbs.scalar(select(Certificate).where(Certificate.serial == serial))


def public_facts(dbs: Session, certificate: Certificate) -> dict[str, Any]:
    """The few facts anyone may see about a certificate (the public verification page and
    the API's lookup): its status, name, course, dates, serial and issuer."""
    template = certificate.template or (dbs.get(CertificateTemplate, certificate.template_id)
                                        if certificate.template_id else None)
    return {
        "status": status_of(certificate, utcnow()),
        "full_name": certificate.full_name,
        "course_title": certificate.course_title,
        "course_title_en": certificate.course_title_en,
        "completed_at": certificate.completed_at,
        "issued_at": certificate.issued_at,
        "expires_at": certificate.expires_at,
        "revoked_at": certificate.revoked_at,
        "revoked_reason": certificate.revoked_reason,
        "serial": certificate.serial,
        "issuer": (template.issuer_name if template else "") or "Bộ Ngoại giao",
    }


def verify_url(code: str) -> str:
    """The public verification address printed (and QR-coded) on the certificate, from
    LMS_BASE_URL, inside or outside a request (CLI, background jobs)."""
    return external_url("certificates.verify", code=code)


def pdf_filename(certificate: Certificate) -> str:
    return f"chung-nhan-{certificate.serial}.pdf"


# ---------------------------------------------------------------- templates

def default_template(dbs: Session) -> CertificateTemplate:
    """The default template, created on first use (race-safe: its name is unique)."""
    template = dbs.scalar(select(CertificateTemplate).where(CertificateTemplate.is_default.is_(True))
                          .order_by(CertificateTemplate.id).limit(1))
    if template is not None:
        return template
    try:
        with dbs.begin_nested():
            template = CertificateTemplate(
                name=DEFAULT_TEMPLATE_NAME, design="classic", bilingual=True, is_default=True,
                signer_title="Cục trưởng Cục Cơ yếu – Công nghệ thông tin",
                signer_title_en="Director-General, Department of Cryptography and Information "
                                "Technology")
            dbs.add(template)
            dbs.flush()
    except IntegrityError:
        template = dbs.scalar(select(CertificateTemplate).where(
            CertificateTemplate.name == DEFAULT_TEMPLATE_NAME))
        if template is None:
            raise
    return template


def register_prefix(template: CertificateTemplate) -> str:
    """The register a certificate of ``template`` is numbered in: its issuing body's own, or
    the platform's (``LMS_CERTIFICATE_PREFIX``)."""
    return template.register_prefix or current_app.config.get("CERTIFICATE_PREFIX", "BNG")


def template_for_course(dbs: Session, course: Course) -> CertificateTemplate:
    """The course's template, else the default one (created on first use)."""
    link = dbs.get(CourseCertificate, course.id)
    if link is not None:
        template = dbs.get(CertificateTemplate, link.template_id)
        if template is not None:
            return template
    return default_template(dbs)


def _image_uri(sha256: str | None, content_type: str | None) -> str:
    if not sha256 or not content_type or not content_type.startswith("image/"):
        return ""
    data = storage.read_bytes(sha256)
    if data is None:  # stored as course media instead
        from lms.courses.media import path_for as media_path

        path = media_path(sha256)
        data = path.read_bytes() if path.is_file() else None
    if data is None:
        log.warning("certificate image %s is missing from storage", sha256)
        return ""
    return rendering.image_data_uri(content_type, data)


def template_values(template: CertificateTemplate) -> rendering.TemplateValues:
    """A template row as the plain values the renderer takes (images as data: URIs)."""
    return rendering.TemplateValues(
        design=template.design if template.design in rendering.DESIGNS else "classic",
        bilingual=bool(template.bilingual),
        issuer_name=template.issuer_name or "",
        issuer_name_en=template.issuer_name_en or "",
        heading=template.heading or "",
        heading_en=template.heading_en or "",
        body=template.body or "",
        body_en=template.body_en or "",
        signer_name=template.signer_name or "",
        signer_title=template.signer_title or "",
        signer_title_en=template.signer_title_en or "",
        logo_uri=_image_uri(template.logo_sha256, template.logo_type),
        seal_uri=_image_uri(template.seal_sha256, template.seal_type),
    )


# ---------------------------------------------------------------- values and PDFs

def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later (the month's last day when it has no such day)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, monthrange(year, month)[1]))


def printed_hours(course: Course, link: CourseCertificate | None) -> float:
    """The hours printed: the course's certificate setting, else its estimate rounded to ½ h."""
    if link is not None and link.hours:
        return float(link.hours)
    return max(0.5, round((course.estimated_minutes or 0) / 60 * 2) / 2)


def certificate_values(certificate: Certificate) -> rendering.CertificateValues:
    """What the certificate prints, from its row (dates in the register's calendar)."""
    def local(moment: datetime):
        return moment.astimezone(REGISTER_TIMEZONE).date()

    return rendering.CertificateValues(
        full_name=certificate.full_name,
        course_title=certificate.course_title,
        course_title_en=certificate.course_title_en or "",
        unit_name=certificate.unit_name or "",
        hours=certificate.hours,
        completed_on=local(certificate.completed_at),
        issued_on=local(certificate.issued_at),
        expires_on=local(certificate.expires_at) if certificate.expires_at else None,
        serial=certificate.serial,
        verify_url=verify_url(certificate.code),
    )


def render_and_store(dbs: Session, certificate: Certificate,
                     template: CertificateTemplate | None = None) -> str:
    """Render the certificate's PDF, store it by content and record its sha256 and size."""
    template = template or certificate.template or default_template(dbs)
    pdf = rendering.render_pdf(certificate_values(certificate), template_values(template))
    certificate.pdf_sha256 = storage.store_pdf(pdf)
    certificate.pdf_size = len(pdf)
    dbs.flush()
    return certificate.pdf_sha256


def ensure_pdf(dbs: Session, certificate: Certificate) -> str:
    """The stored PDF's sha256; renders it only when it was never made or its file is gone."""
    if certificate.pdf_sha256 and storage.path_for(certificate.pdf_sha256).is_file():
        return certificate.pdf_sha256
    return render_and_store(dbs, certificate)


# ---------------------------------------------------------------- issuing

class _AlreadyIssued(Exception):
    def __init__(self, certificate: Certificate) -> None:
        super().__init__("already issued")
        self.certificate = certificate


def _new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def issue_for_enrolment(dbs: Session, enrolment: Enrolment, actor: Any = None,
                        job: CertificateJob | None = None, now: datetime | None = None,
                        render: bool = True, notify: bool = True) -> Certificate | None:
    """Issue the certificate of a completed enrolment, once per completion.

    Returns the certificate (the existing one when this completion already has one), or None
    when the course grants no certificate or the enrolment is not completed. The register
    number, the row and the stored PDF are made in the caller's transaction. ``render=False``
    leaves the PDF to ``ensure_pdf`` (e.g. a bulk job rendering in other processes).
    A new certificate's holder is notified in the same transaction (``notify=False``: the
    caller notifies, e.g. a bulk job once per chunk with ``notify_certificates_issued``).
    """
    course = enrolment.course or dbs.get(Course, enrolment.course_id)
    if not course.certificate_enabled or not enrolment.is_completed or enrolment.completed_at is None:
        return None
    existing = live_certificate(dbs, enrolment.id, enrolment.completed_at)
    if existing is not None:
        return existing
    now = now or utcnow()
    template = template_for_course(dbs, course)
    link = dbs.get(CourseCertificate, course.id)
    user = dbs.get(User, enrolment.user_id)
    unit = dbs.get(Unit, user.unit_id)
    prefix = register_prefix(template)
    try:
        with dbs.begin_nested():
            serial = allocate_serial(dbs, prefix, register_year(now))
            # Holding the counter's lock now: a concurrent issue of the same completion
            # that committed meanwhile is visible; give the number back and return it.
            existing = live_certificate(dbs, enrolment.id, enrolment.completed_at)
            if existing is not None:
                raise _AlreadyIssued(existing)
            certificate = Certificate(
                serial=serial, code=_new_code(), user_id=user.id, course_id=course.id,
                enrolment_id=enrolment.id, template_id=template.id,
                full_name=rendering.nfc(user.full_name),
                course_title=rendering.nfc(course.title),
                course_title_en=rendering.nfc(link.title_en) if link and template.bilingual else "",
                unit_name=rendering.nfc(unit.name) if unit else "",
                hours=printed_hours(course, link),
                completed_at=enrolment.completed_at, issued_at=now,
                expires_at=(add_months(enrolment.completed_at, course.validity_months)
                            if course.validity_months else None),
                issued_by_id=getattr(actor, "id", None), job_id=job.id if job else None)
            certificate.template = template
            dbs.add(certificate)
            dbs.flush()
            if render:
                render_and_store(dbs, certificate, template)
    except _AlreadyIssued as already:
        return already.certificate
    except IntegrityError:
        # Another transaction issued this completion first (the unique index said so).
        existing = live_certificate(dbs, enrolment.id, enrolment.completed_at)
        if existing is None:
            raise
        return existing
    mark_certified(dbs, enrolment.id)
    certificate_issued.send(None, session=dbs, certificate=certificate)
    if notify:
        notify_certificates_issued(dbs, [certificate.id], now)
    if actor is not None:
        record(dbs, actor, "certificate.issued", certificate, label=certificate.serial,
               user_id=user.id, course_id=course.id)
    log.info("certificate %s issued to user %s for course %s", certificate.serial, user.id,
             course.id)
    return certificate


def mark_certified(dbs: Session, enrolment_id: int | None) -> None:
    """Keep ``enrolments.certified_at`` (what the reports count) equal to the issue time of
    the enrolment's newest live, unrevoked certificate."""
    if enrolment_id is None:
        return
    newest = (select(func.max(Certificate.issued_at)).where(
        Certificate.enrolment_id == enrolment_id, Certificate.revoked_at.is_(None),
        Certificate.superseded_by_id.is_(None)).scalar_subquery())
    dbs.execute(update(Enrolment).where(Enrolment.id == enrolment_id).values(certified_at=newest)
                .execution_options(synchronize_session="fetch"))


def on_course_completed(sender: Any, session: Session, enrolment: Enrolment, **_kw: Any) -> None:
    """Receiver of ``course_completed``: issue the certificate in the completing transaction.

    A failure to issue never undoes the learner's completion: it is logged, nothing of the
    certificate is kept, and the certificate can be issued later (bulk issue).
    """
    try:
        with session.begin_nested():
            issue_for_enrolment(session, enrolment)
    except Exception:
        log.exception("could not issue the certificate of enrolment %s", enrolment.id)


# ---------------------------------------------------------------- revoking and reissuing

def revoke(dbs: Session, certificate: Certificate, reason: str, actor: Any) -> Certificate:
    """Revoke a certificate (reason required; audit-logged). The PDF stays as it was: the
    verification page and the learner's list say it is revoked."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Please give the reason for revoking the certificate."), field="reason")
    if len(reason) > MAX_REASON:
        raise DomainError(_("The reason is too long (at most %(n)d characters).", n=MAX_REASON),
                          field="reason")
    if certificate.revoked_at is not None:
        raise DomainError(_("This certificate has already been revoked."))
    certificate.revoked_at = utcnow()
    certificate.revoked_reason = reason
    certificate.revoked_by_id = getattr(actor, "id", None)
    dbs.flush()
    mark_certified(dbs, certificate.enrolment_id)
    certificate_revoked.send(None, session=dbs, certificate=certificate)
    record(dbs, actor, "certificate.revoked", certificate, label=certificate.serial, reason=reason)
    log.info("certificate %s revoked by %s", certificate.serial, getattr(actor, "id", None))
    return certificate


def reissue(dbs: Session, certificate: Certificate, actor: Any,
            full_name: str | None = None, now: datetime | None = None) -> Certificate:
    """Replace a certificate after a correction (usually the name): the old one is marked
    superseded, the new one has a new serial, code and PDF and otherwise the same values.

    ``full_name`` defaults to the person's name as it is now registered.
    """
    if certificate.superseded_by_id is not None:
        raise DomainError(_("This certificate has already been replaced by a newer one."))
    if certificate.revoked_at is not None:
        raise DomainError(_("A revoked certificate cannot be reissued."))
    user = dbs.get(User, certificate.user_id)
    name = rendering.nfc(full_name if full_name is not None else user.full_name)
    if not name:
        raise DomainError(_("Please enter the name to print."), field="full_name")
    if len(name) > 200:
        raise DomainError(_("The name is too long (at most %(n)d characters).", n=200),
                          field="full_name")
    now = now or utcnow()
    template = certificate.template or default_template(dbs)
    prefix = register_prefix(template)
    # The old certificate stops being "live" first (pointing at itself for the moment), so the
    # one-live-certificate-per-completion index admits the new one; all in one transaction.
    certificate.superseded_by_id = certificate.id
    dbs.flush()
    new = Certificate(
        serial=allocate_serial(dbs, prefix, register_year(now)), code=_new_code(),
        user_id=certificate.user_id, course_id=certificate.course_id,
        enrolment_id=certificate.enrolment_id, template_id=template.id, full_name=name,
        course_title=certificate.course_title, course_title_en=certificate.course_title_en,
        unit_name=certificate.unit_name, hours=certificate.hours,
        completed_at=certificate.completed_at, issued_at=now, expires_at=certificate.expires_at,
        issued_by_id=getattr(actor, "id", None))
    new.template = template
    dbs.add(new)
    dbs.flush()
    certificate.superseded_by_id = new.id
    dbs.flush()
    render_and_store(dbs, new, template)
    mark_certified(dbs, new.enrolment_id)
    certificate_issued.send(None, session=dbs, certificate=new)
    notify_certificates_issued(dbs, [new.id], now)   # the new PDF and verification code
    record(dbs, actor, "certificate.reissued", new, label=new.serial,
           replaces=certificate.serial, full_name=name, old_full_name=certificate.full_name)
    log.info("certificate %s reissued as %s by %s", certificate.serial, new.serial,
             getattr(actor, "id", None))
    return new


def expires_soon(certificate: Certificate, days: int, now: datetime | None = None) -> bool:
    """Valid today and expiring within ``days`` (for reminders)."""
    now = now or utcnow()
    return (status_of(certificate, now) == VALID and certificate.expires_at is not None
            and certificate.expires_at <= now + timedelta(days=days))
