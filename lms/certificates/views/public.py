"""Public verification, without signing in: by the code in the QR link, or by the serial.

Shows whether the certificate is valid, expired, revoked or replaced, with the name, course,
completion date, serial and issuer: nothing more personal. Rate-limited per client address
(LMS_VERIFY_RATE_LIMIT), and codes are 192 random bits, so certificates cannot be enumerated.
"""
from __future__ import annotations

import re

from flask import current_app, render_template, request
from sqlalchemy.orm import Session

from lms.certificates import services
from lms.certificates.models import Certificate
from lms.certificates.views import bp
from lms.db import db
from lms.extensions import limiter

SERIAL_RE = re.compile(r"^[A-Z0-9]{1,20}-\d{4}-\d{6,}$")
VERIFY_SCOPE = "certificate-verify"


def verify_rate_limit() -> str:
    return current_app.config.get("VERIFY_RATE_LIMIT") or "30 per minute"


def _result(dbs: Session, certificate: Certificate | None) -> dict | None:
    return services.public_facts(dbs, certificate) if certificate is not None else None


def _page(result: dict | None, asked: str, serial: str = ""):
    template = "certificates/verify.html" if asked else "certificates/verify_form.html"
    response = current_app.make_response((render_template(
        template, result=result, asked=asked, serial=serial),
        200 if result is not None or not asked else 404))
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.route("/verify")
@limiter.shared_limit(verify_rate_limit, scope=VERIFY_SCOPE)
def verify_form():
    typed = (request.args.get("serial") or "").strip()[:100]
    if not typed:
        return _page(None, "")
    serial = typed.upper()
    if SERIAL_RE.match(serial):
        certificate = services.by_serial(db.session, serial)
    else:  # the code from the QR link, pasted
        certificate = services.by_code(db.session, typed.rsplit("/", 1)[-1])
    return _page(_result(db.session, certificate), "serial", typed)


@bp.route("/verify/<code>")
@limiter.shared_limit(verify_rate_limit, scope=VERIFY_SCOPE)
def verify(code: str):
    return _page(_result(db.session, services.by_code(db.session, code)), "code")
