"""The learner's certificates: the list ("My certificates") and the PDF download.

Each view: load or 404 -> authorize -> validate -> call a service -> commit -> respond.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import aliased

from lms.certificates import recertification, services, storage
from lms.certificates.models import Certificate
from lms.certificates.permissions import can_view_certificate
from lms.certificates.views import bp
from lms.courses.models import Course, Enrolment
from lms.db import db, utcnow, writes
from lms.errors import DomainError
from lms.forms import ActionForm

PDF_MAX_AGE = 24 * 3600  # the file never changes (a correction is a new certificate)


@bp.route("/certificates")
@login_required
def my_certificates():
    newer = aliased(Certificate)
    rows = db.session.execute(
        select(Certificate, newer.serial)
        .outerjoin(newer, newer.id == Certificate.superseded_by_id)
        .where(Certificate.user_id == current_user.id)
        .order_by(Certificate.issued_at.desc(), Certificate.id.desc())).all()
    now = utcnow()
    enrolments = {e.id: e for e in db.session.scalars(select(Enrolment).where(
        Enrolment.user_id == current_user.id))}
    certificates = [{
        "id": c.id, "serial": c.serial, "code": c.code, "course_title": c.course_title,
        "completed_at": c.completed_at, "issued_at": c.issued_at, "expires_at": c.expires_at,
        "revoked_at": c.revoked_at, "revoked_reason": c.revoked_reason,
        "replaced_by": replaced_by, "status": services.status_of(c, now),
        "renewable": recertification.can_renew(c, enrolments.get(c.enrolment_id), now),
    } for c, replaced_by in rows]
    return render_template("certificates/my_certificates.html", certificates=certificates,
                           action_form=ActionForm())


@bp.route("/certificates/<int:certificate_id>/renew", methods=["POST"])
@login_required
def renew(certificate_id: int):
    """Take the course again for a new certificate (from a month before the expiry)."""
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None or certificate.user_id != current_user.id:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        recertification.renew(db.session, certificate, current_user._get_current_object())
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("certificates.my_certificates"))
    db.session.commit()
    course = db.session.get(Course, certificate.course_id)
    flash(_("You are taking %(title)s again: finish it to receive a new certificate.",
            title=course.title), "success")
    return redirect(url_for("courses.course_page", slug=course.slug))


@bp.route("/certificates/<int:certificate_id>.pdf")
@writes  # renders and records the PDF in the rare case it was never made or was lost
@login_required
def download(certificate_id: int):
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None or not can_view_certificate(current_user, certificate):
        abort(404)  # someone else's certificate does not exist for this viewer
    made = certificate.pdf_sha256
    sha = services.ensure_pdf(db.session, certificate)
    if sha != made:
        db.session.commit()
    response = send_file(storage.path_for(sha), mimetype="application/pdf", as_attachment=True,
                         download_name=services.pdf_filename(certificate), etag=sha,
                         conditional=True, max_age=PDF_MAX_AGE)
    response.cache_control.private = True
    response.cache_control.public = False
    return response
