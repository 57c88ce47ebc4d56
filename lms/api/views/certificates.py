"""Certificates: lookup and verification by code or serial, and the list of a person's.

The lookup gives the facts the public verification page shows (``public_facts``); the list
per person follows the pages' rule for that person's learning (``can_view_learning_of``).
"""
from __future__ import annotations

from typing import Any

from flask import g, jsonify
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from lms.api import progress
from lms.api.pagination import cursor_page
from lms.api.spec import DATETIME, NULLABLE_DATETIME, PARAMETERS, operation, page_schema, path_parameter
from lms.api.views import bp, forbidden, not_found, page_json, principal, requires_scope
from lms.certificates import services
from lms.certificates.models import Certificate
from lms.certificates.views.public import SERIAL_RE
from lms.courses.models import Course
from lms.courses.permissions import can_view_learning_of
from lms.db import db, iso_utc, utcnow

SCOPE = "certificates:read"
STATUSES = list(services.STATUSES)


def _facts_json(facts: dict[str, Any]) -> dict[str, Any]:
    return {key: iso_utc(value) if key.endswith("_at") else value for key, value in facts.items()}


@bp.get("/certificates/<code>")
@requires_scope(SCOPE)
def certificate_lookup(code: str):
    """Verify a certificate by the code of its QR link, or by its serial (BNG-2026-000123)."""
    typed = code.strip()
    if SERIAL_RE.match(typed.upper()):
        certificate = services.by_serial(db.session, typed)
    else:
        certificate = services.by_code(db.session, typed)
    if certificate is None:
        raise not_found(_("The certificate %(code)s", code=typed[:64]))
    g.api_summary = f"certificate={certificate.serial}"
    return jsonify({**_facts_json(services.public_facts(db.session, certificate)),
                    "verify_url": services.verify_url(certificate.code)})


@bp.get("/people/<employee_code>/certificates")
@requires_scope(SCOPE)
def person_certificates(employee_code: str):
    person = progress.find_person(db.session, employee_code)
    if person is None:
        raise not_found(_("The person %(code)s", code=employee_code))
    if not can_view_learning_of(principal(), person):
        raise forbidden()
    statement = (select(Certificate, Course.slug).join(Course, Course.id == Certificate.course_id)
                 .where(Certificate.user_id == person.id))
    page = cursor_page(db.session, statement, (Certificate.id,), (int,), lambda row: (row[0].id,))
    now = utcnow()
    g.api_summary = f"person={person.employee_code} certificates={len(page.rows)}"
    return page_json([_certificate_json(row[0], row[1], now) for row in page.rows],
                     page.next_cursor)


def _certificate_json(certificate: Certificate, course_slug: str, now) -> dict[str, Any]:
    return {
        "serial": certificate.serial,
        "code": certificate.code,
        "status": services.status_of(certificate, now),
        "full_name": certificate.full_name,
        "course": {"slug": course_slug, "title": certificate.course_title,
                   "title_en": certificate.course_title_en or None},
        "unit_name": certificate.unit_name,
        "hours": certificate.hours,
        "completed_at": iso_utc(certificate.completed_at),
        "issued_at": iso_utc(certificate.issued_at),
        "expires_at": iso_utc(certificate.expires_at),
        "revoked_at": iso_utc(certificate.revoked_at),
        "revoked_reason": certificate.revoked_reason,
        "pdf_sha256": certificate.pdf_sha256,
        "verify_url": services.verify_url(certificate.code),
    }


# ---------------------------------------------------------------- the OpenAPI description

TAG = {"name": "certificates", "description": _l("Verify certificates and list a person's.")}

STATUS = {"type": "string", "enum": STATUSES}
SCHEMAS = {
    "CertificateFacts": {
        "type": "object",
        "description": _l("What the public verification page shows."),
        "required": ["status", "full_name", "course_title", "serial", "issuer", "issued_at",
                     "completed_at", "expires_at", "revoked_at", "revoked_reason", "verify_url"],
        "properties": {
            "status": STATUS,
            "full_name": {"type": "string"},
            "course_title": {"type": "string"},
            "course_title_en": {"type": "string"},
            "completed_at": DATETIME,
            "issued_at": DATETIME,
            "expires_at": NULLABLE_DATETIME,
            "revoked_at": NULLABLE_DATETIME,
            "revoked_reason": {"type": ["string", "null"]},
            "serial": {"type": "string"},
            "issuer": {"type": "string"},
            "verify_url": {"type": "string", "format": "uri"},
        },
    },
    "Certificate": {
        "type": "object",
        "required": ["serial", "code", "status", "full_name", "course", "completed_at",
                     "issued_at", "expires_at", "revoked_at", "verify_url"],
        "properties": {
            "serial": {"type": "string"},
            "code": {"type": "string"},
            "status": STATUS,
            "full_name": {"type": "string"},
            "course": {"type": "object", "required": ["slug", "title"],
                       "properties": {"slug": {"type": "string"}, "title": {"type": "string"},
                                      "title_en": {"type": ["string", "null"]}}},
            "unit_name": {"type": "string"},
            "hours": {"type": "number"},
            "completed_at": DATETIME,
            "issued_at": DATETIME,
            "expires_at": NULLABLE_DATETIME,
            "revoked_at": NULLABLE_DATETIME,
            "revoked_reason": {"type": ["string", "null"]},
            "pdf_sha256": {"type": ["string", "null"]},
            "verify_url": {"type": "string", "format": "uri"},
        },
    },
    "CertificatePage": page_schema("Certificate"),
}

PATHS = {
    "/certificates/{code}": {"get": operation(
        "getCertificate", _l("Verify a certificate"), scope=SCOPE, tag="certificates",
        response={"$ref": "#/components/schemas/CertificateFacts"},
        description=_l("By the code of its QR link or by its serial. status is valid, "
                       "expired, revoked or superseded (replaced by a corrected one)."),
        parameters=[path_parameter("code", _l("Verification code or serial"))])},
    "/people/{employee_code}/certificates": {"get": operation(
        "listPersonCertificates", _l("A person's certificates"), scope=SCOPE,
        tag="certificates", response={"$ref": "#/components/schemas/CertificatePage"},
        description=_l("Every certificate issued to the person, replaced and revoked ones "
                       "included, oldest first."),
        parameters=[path_parameter("employee_code", _l("Employee code")),
                    PARAMETERS["cursor"], PARAMETERS["limit"]])},
}
