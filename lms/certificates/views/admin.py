"""Certificate pages for trainers and admins (routes on the certificates blueprint).

- Template designer (``can_design_certificates``): templates under
  ``/author/certificate-templates``, previewed with sample data before saving and refused at
  save time when WeasyPrint cannot render them; a course's template, printed hours and
  English title under ``/author/courses/<id>/certificate``.
- Management (``can_issue_certificates``: admins): certificates per course and
  per person, a certificate's page, reissue after a name correction, bulk issue with its
  progress page and ZIP. Revoking is for admins only (``can_revoke_certificate``).

Each view: load or 404 -> authorize -> validate -> call a service -> commit -> respond. The
services record the audit events.
"""
from __future__ import annotations

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from lms.certificates import admin_queries, designer, jobs, services, storage
from lms.certificates.forms import (
    DESIGN_LABELS,
    JOB_STATUS_LABELS,
    STATUS_LABELS,
    CertificateFilterForm,
    CourseCertificateForm,
    ReissueForm,
    RevokeForm,
    TemplateForm,
)
from lms.certificates.models import Certificate, CertificateJob, CertificateTemplate, CourseCertificate
from lms.certificates.permissions import (
    can_design_certificates,
    can_issue_certificates,
    can_revoke_certificate,
)
from lms.certificates.views import bp
from lms.courses.models import Course
from lms.db import db, utcnow, writes
from lms.errors import DomainError
from lms.forms import ActionForm, show_domain_error
from lms.org.models import Unit, User

LABELS = {"DESIGN_LABELS": DESIGN_LABELS, "CERTIFICATE_STATUS_LABELS": STATUS_LABELS,
          "JOB_STATUS_LABELS": JOB_STATUS_LABELS}


def _me():
    return current_user._get_current_object()


def _require(allowed: bool) -> None:
    if not allowed:
        abort(403)


def _render(name: str, **context):
    return render_template(f"certificates/admin/{name}", **LABELS, **context)


# ---------------------------------------------------------------- template designer

@bp.route("/author/certificate-templates")
@login_required
@writes  # makes the default template on first use
def admin_templates():
    _require(can_design_certificates(current_user))
    services.default_template(db.session)  # the list always shows the default
    db.session.commit()
    templates = db.session.scalars(select(CertificateTemplate).order_by(
        CertificateTemplate.is_default.desc(), CertificateTemplate.name)).all()
    used = dict(db.session.execute(select(CourseCertificate.template_id, func.count())
                                   .group_by(CourseCertificate.template_id)).all())
    return _render("templates.html", templates=templates, used=used)


def _uploaded(form: TemplateForm, kind: str) -> designer.Image | None:
    upload = getattr(form, kind).data
    if not upload or not getattr(upload, "filename", ""):
        return None
    data = upload.read(designer.max_image_bytes() + 1)
    return designer.read_image(upload.filename, data, kind)


def _template_data(form: TemplateForm) -> designer.TemplateData:
    """The form's values (raises DomainError for an unacceptable image)."""
    return designer.TemplateData(
        name=form.name.data or "", design=form.design.data or "",
        bilingual=bool(form.bilingual.data), issuer_name=form.issuer_name.data or "",
        issuer_name_en=form.issuer_name_en.data or "",
        register_prefix=form.register_prefix.data or "", heading=form.heading.data or "",
        heading_en=form.heading_en.data or "", body=form.body.data or "",
        body_en=form.body_en.data or "", signer_name=form.signer_name.data or "",
        signer_title=form.signer_title.data or "",
        signer_title_en=form.signer_title_en.data or "", is_default=bool(form.is_default.data),
        logo=_uploaded(form, "logo"), seal=_uploaded(form, "seal"),
        remove_logo=bool(form.remove_logo.data), remove_seal=bool(form.remove_seal.data))


def _preview_response(pdf: bytes, filename: str) -> Response:
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _template_page(form: TemplateForm, template: CertificateTemplate | None,
                   template_error: str | None = None, status: int = 200):
    return _render("template.html", form=form, template=template, template_error=template_error,
                   max_image_kb=designer.max_image_bytes() // 1024), status


def _template_form_view(template: CertificateTemplate | None):
    form = TemplateForm(obj=template)
    if not form.is_submitted():
        return _template_page(form, template)
    if form.preview.data:
        # The preview opens in its own tab (the button's formtarget): the PDF, or the form
        # with what stopped it.
        try:
            pdf = designer.preview_pdf(_template_data(form), template)
        except DomainError as exc:
            return _template_page(form, template, template_error=exc.message, status=422)
        return _preview_response(pdf, "mau-chung-nhan.pdf")
    if not form.validate():
        return _template_page(form, template, status=422)
    try:
        saved = designer.save_template(db.session, _me(), template, _template_data(form))
    except DomainError as exc:
        db.session.rollback()
        if exc.field and hasattr(form, exc.field):
            show_domain_error(form, exc, "name")
            return _template_page(form, template, status=422)
        return _template_page(form, template, template_error=exc.message, status=422)
    db.session.commit()
    flash(_("The certificate template %(name)s was saved.", name=saved.name), "success")
    return redirect(url_for("certificates.admin_template_edit", template_id=saved.id))


@bp.route("/author/certificate-templates/new", methods=["GET", "POST"])
@login_required
def admin_template_new():
    _require(can_design_certificates(current_user))
    return _template_form_view(None)


@bp.route("/author/certificate-templates/<int:template_id>", methods=["GET", "POST"])
@login_required
def admin_template_edit(template_id: int):
    template = db.session.get(CertificateTemplate, template_id) or abort(404)
    _require(can_design_certificates(current_user))
    return _template_form_view(template)


@bp.route("/author/certificate-templates/<int:template_id>/image/<any(logo, seal):kind>")
@login_required
def admin_template_image(template_id: int, kind: str):
    template = db.session.get(CertificateTemplate, template_id) or abort(404)
    _require(can_design_certificates(current_user))
    sha, content_type = getattr(template, f"{kind}_sha256"), getattr(template, f"{kind}_type")
    if not sha or not content_type or not storage.path_for(sha).is_file():
        abort(404)
    return send_file(storage.path_for(sha), mimetype=content_type, etag=sha, conditional=True,
                     max_age=0)


@bp.route("/author/courses/<int:course_id>/certificate", methods=["GET", "POST"])
@login_required
@writes  # makes the default template on first use
def admin_course_settings(course_id: int):
    course = db.session.get(Course, course_id) or abort(404)
    _require(can_design_certificates(current_user))
    link = db.session.get(CourseCertificate, course.id)
    current = services.template_for_course(db.session, course)
    form = CourseCertificateForm(template_choices=designer.template_choices(db.session))
    if not form.is_submitted():
        form.template_id.data = str(current.id)
        form.hours.data = link.hours if link else None
        form.title_en.data = link.title_en if link else ""
    elif form.validate():
        try:
            designer.save_course_certificate(db.session, _me(), course, designer.CourseCertificateData(
                template_id=_int(form.template_id.data), hours=form.hours.data,
                title_en=form.title_en.data or ""))
        except DomainError as exc:
            db.session.rollback()
            current = services.template_for_course(db.session, course)
            show_domain_error(form, exc, "template_id")
        else:
            db.session.commit()
            flash(_("The certificate settings of %(title)s were saved. Certificates issued "
                    "from now on use them; issued ones keep what they print.",
                    title=course.title), "success")
            return redirect(url_for("certificates.admin_course_settings", course_id=course.id))
    db.session.commit()  # the default template, when this page made it
    return _render("course_settings.html", course=course, form=form, template=current,
                   default_hours=services.printed_hours(course, None),
                   can_issue=can_issue_certificates(current_user))


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@bp.route("/author/courses/<int:course_id>/certificate/preview.pdf")
@login_required
@writes  # makes the default template on first use
def admin_course_preview(course_id: int):
    course = db.session.get(Course, course_id) or abort(404)
    _require(can_design_certificates(current_user))
    pdf = designer.course_preview_pdf(db.session, course)
    db.session.commit()  # the default template, if it was just made
    return _preview_response(pdf, f"mau-{course.slug}.pdf")


# ---------------------------------------------------------------- certificates of a course, a person

def _filters() -> CertificateFilterForm:
    form = CertificateFilterForm(formdata=request.args or None)
    form.validate()
    if form.status.data not in STATUS_LABELS:
        form.status.data = ""
    return form


def _list_args(form: CertificateFilterForm) -> dict[str, str]:
    return {k: v for k, v in (("q", form.q.data or ""), ("status", form.status.data or "")) if v}


@bp.route("/admin/certificates")
@login_required
def admin_index():
    _require(can_issue_certificates(current_user))
    form = _filters()
    page = None
    if form.q.data or form.status.data:
        page = admin_queries.certificate_page(
            db.session, current_user, q=form.q.data or "", status=form.status.data or "",
            page=request.args.get("page", 1, type=int),
            per_page=current_app.config["PAGE_SIZE"])
    return _render("index.html", rows=admin_queries.course_rows(db.session), form=form,
                   page=page, args=_list_args(form))


@bp.route("/admin/certificates/courses/<int:course_id>")
@login_required
def admin_course_certificates(course_id: int):
    course = db.session.get(Course, course_id) or abort(404)
    _require(can_issue_certificates(current_user))
    form = _filters()
    page = admin_queries.certificate_page(
        db.session, current_user, course_id=course.id, q=form.q.data or "",
        status=form.status.data or "", page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PAGE_SIZE"])
    return _render("course.html", course=course, form=form, page=page, args=_list_args(form),
                   counts=admin_queries.status_counts(db.session, course.id),
                   missing=len(jobs.eligible_enrolment_ids(db.session, course)))


@bp.route("/admin/certificates/people/<int:user_id>")
@login_required
def admin_person_certificates(user_id: int):
    person = db.session.get(User, user_id) or abort(404)
    _require(can_issue_certificates(current_user))
    page = admin_queries.certificate_page(
        db.session, current_user, user_id=person.id, page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PAGE_SIZE"])
    unit = db.session.get(Unit, person.unit_id)
    return _render("person.html", person=person, unit=unit, page=page)


# ---------------------------------------------------------------- one certificate: revoke, reissue

def _certificate_page(certificate: Certificate, revoke_form: RevokeForm | None = None,
                      status: int = 200):
    person = db.session.get(User, certificate.user_id)
    newer = (db.session.get(Certificate, certificate.superseded_by_id)
             if certificate.superseded_by_id else None)
    older = db.session.scalars(select(Certificate).where(
        Certificate.superseded_by_id == certificate.id)).all()
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(
        [i for i in (certificate.issued_by_id, certificate.revoked_by_id) if i])))}
    return _render(
        "certificate.html", certificate=certificate, person=person, newer=newer, older=older,
        people=people, status=services.status_of(certificate),
        revoke_form=revoke_form or RevokeForm(formdata=None),
        can_revoke=can_revoke_certificate(current_user, certificate),
        can_reissue=certificate.superseded_by_id is None and certificate.revoked_at is None,
    ), status


@bp.route("/admin/certificates/<int:certificate_id>")
@login_required
def admin_certificate(certificate_id: int):
    certificate = db.session.get(Certificate, certificate_id) or abort(404)
    _require(can_issue_certificates(current_user))
    return _certificate_page(certificate)


@bp.route("/admin/certificates/<int:certificate_id>/revoke", methods=["POST"])
@login_required
def admin_revoke(certificate_id: int):
    certificate = db.session.get(Certificate, certificate_id) or abort(404)
    _require(can_revoke_certificate(current_user, certificate))
    form = RevokeForm()
    if not form.validate():
        return _certificate_page(certificate, form, 422)
    try:
        services.revoke(db.session, certificate, form.reason.data, _me())
    except DomainError as exc:
        db.session.rollback()
        if exc.field != "reason":
            flash(exc.message, "error")
            return redirect(url_for("certificates.admin_certificate",
                                    certificate_id=certificate.id))
        show_domain_error(form, exc, "reason")
        return _certificate_page(certificate, form, 422)
    db.session.commit()
    flash(_("The certificate %(serial)s was revoked. Its verification page now says so.",
            serial=certificate.serial), "success")
    return redirect(url_for("certificates.admin_certificate", certificate_id=certificate.id))


@bp.route("/admin/certificates/<int:certificate_id>/reissue", methods=["GET", "POST"])
@login_required
def admin_reissue(certificate_id: int):
    certificate = db.session.get(Certificate, certificate_id) or abort(404)
    _require(can_issue_certificates(current_user))
    person = db.session.get(User, certificate.user_id)
    form = ReissueForm()
    if form.validate_on_submit():
        try:
            new = services.reissue(db.session, certificate, _me())
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("The certificate %(old)s was replaced by %(new)s, issued to %(name)s.",
                    old=certificate.serial, new=new.serial, name=new.full_name), "success")
            return redirect(url_for("certificates.admin_certificate", certificate_id=new.id))
    return _render("reissue.html", certificate=certificate, person=person, form=form,
                   status=services.status_of(certificate),
                   same_name=person.full_name == certificate.full_name), (
        422 if form.is_submitted() else 200)


# ---------------------------------------------------------------- bulk issue

@bp.route("/admin/certificates/courses/<int:course_id>/issue", methods=["GET", "POST"])
@login_required
def admin_bulk_issue(course_id: int):
    course = db.session.get(Course, course_id) or abort(404)
    _require(can_issue_certificates(current_user))
    form = ActionForm()
    if form.validate_on_submit():
        try:
            job = jobs.create_job(db.session, _me(), course)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return redirect(url_for("certificates.admin_bulk_issue", course_id=course.id))
        db.session.commit()
        jobs.start(current_app._get_current_object(), job.id)
        return redirect(url_for("certificates.admin_job", job_id=job.id))
    return _render("bulk.html", course=course, form=ActionForm(formdata=None),
                   missing=len(jobs.eligible_enrolment_ids(db.session, course)),
                   running=jobs.active_job(db.session, course.id),
                   recent=admin_queries.jobs_of(db.session, course.id), now=utcnow(),
                   is_stale=jobs.is_stale)


def _job(job_id: int) -> tuple[CertificateJob, Course]:
    job = db.session.get(CertificateJob, job_id) or abort(404)
    _require(can_issue_certificates(current_user))
    return job, db.session.get(Course, job.course_id)


@bp.route("/admin/certificates/jobs/<int:job_id>")
@login_required
def admin_job(job_id: int):
    job, course = _job(job_id)
    creator = db.session.get(User, job.created_by_id) if job.created_by_id else None
    return _render("job.html", job=job, course=course, creator=creator,
                   progress=jobs.progress(job), form=ActionForm(formdata=None))


@bp.route("/admin/certificates/jobs/<int:job_id>/status.json")
@login_required
def admin_job_status(job_id: int):
    job, _course = _job(job_id)
    state = jobs.progress(job)
    state["label"] = str(JOB_STATUS_LABELS.get(job.status, job.status))
    state["summary"] = _("%(processed)d of %(total)d processed: %(done)d issued, %(failed)d "
                         "could not be issued.", **state)
    response = jsonify(state)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/admin/certificates/jobs/<int:job_id>/resume", methods=["POST"])
@login_required
def admin_job_resume(job_id: int):
    job, _course = _job(job_id)
    form = ActionForm()
    if form.validate_on_submit():
        jobs.retry(db.session, _me(), job)
        db.session.commit()
        jobs.start(current_app._get_current_object(), job.id)
        flash(_("The job was started again; it continues where it stopped."), "success")
    return redirect(url_for("certificates.admin_job", job_id=job.id))


@bp.route("/admin/certificates/jobs/<int:job_id>/certificates.zip")
@login_required
def admin_job_zip(job_id: int):
    job, course = _job(job_id)
    if not job.zip_sha256 or not storage.path_for(job.zip_sha256).is_file():
        abort(404)
    return send_file(storage.path_for(job.zip_sha256), mimetype="application/zip",
                     as_attachment=True, download_name=f"chung-nhan-{course.slug}-{job.id}.zip",
                     etag=job.zip_sha256, conditional=True, max_age=0)
