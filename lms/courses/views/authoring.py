"""Trainers' authoring pages (routes are added to the courses blueprint, under /author).

Each view: load or 404 -> authorize -> validate -> call a service -> commit -> respond.
Every page requires `can_author_courses`; the services record the audit events. A refused
form is shown again without a rollback: the services check before they change anything, and
nothing is committed unless the change went through (the session ends with the request).
"""
from __future__ import annotations

import tempfile

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from lms.courses import authoring, packages, queries
from lms.courses.content import render_markdown
from lms.courses.forms import (
    CourseForm,
    LessonForm,
    MediaUploadForm,
    ModuleForm,
    MoveLessonForm,
    PackageUploadForm,
)
from lms.courses.labels import COURSE_STATUS_LABELS, LESSON_KIND_LABELS, TOPIC_LABELS
from lms.courses.media import kind_of
from lms.courses.models import Course, Lesson, MediaFile, Module
from lms.courses.permissions import can_author_courses
from lms.courses.queries import media_of
from lms.courses.views import bp
from lms.db import db
from lms.errors import DomainError
from lms.extensions import csrf
from lms.forms import ActionForm, show_domain_error
from lms.i18n import LANGUAGES

LABELS = {"TOPIC_LABELS": TOPIC_LABELS, "LESSON_KIND_LABELS": LESSON_KIND_LABELS,
          "COURSE_STATUS_LABELS": COURSE_STATUS_LABELS, "LANGUAGES": LANGUAGES}
STATUS_MESSAGES = {
    "published": lambda title: _("The course %(title)s is published.", title=title),
    "draft": lambda title: _("The course %(title)s is back to draft: learners no longer see it "
                             "in the catalog.", title=title),
    "archived": lambda title: _("The course %(title)s is archived.", title=title),
}


def _me():
    return current_user._get_current_object()


def _require_author() -> None:
    if not can_author_courses(current_user):
        abort(403)


def _flash_form_errors(form) -> None:
    for name, errors in form.errors.items():
        label = getattr(form, name).label.text if hasattr(form, name) else ""
        for error in errors:
            flash(f"{label}: {error}" if label else error, "error")


def _editor_url(course_id: int, anchor: str | None = None) -> str:
    return url_for("courses.author_course", course_id=course_id, _anchor=anchor)


def _media_urls(files: list[MediaFile]) -> dict[str, str]:
    return {m.filename: url_for("courses.media", media_id=m.id, filename=m.filename,
                                v=m.sha256[:12]) for m in files}


def _file_rows(files: list[MediaFile]) -> list[dict]:
    return [{"id": m.id, "filename": m.filename, "kind": kind_of(m.content_type),
             "content_type": m.content_type.split(";")[0], "size": m.size} for m in files]


# ---------------------------------------------------------------- courses

@bp.route("/author/courses")
@login_required
def author_courses():
    _require_author()
    rows = queries.authoring_course_rows(db.session)
    return render_template("courses/author/courses.html", rows=rows,
                           package_form=PackageUploadForm(formdata=None),
                           max_package_mb=current_app.config["MAX_PACKAGE_BYTES"] // 2**20,
                           **LABELS)


def _course_data(form: CourseForm) -> authoring.CourseData:
    return authoring.CourseData(
        slug=(form.slug.data or "").strip(), title=form.title.data or "",
        summary=form.summary.data or "", outcomes=form.outcomes.data or "",
        topic=form.topic.data or "", language=form.language.data or "",
        estimated_minutes=form.estimated_minutes.data or 0,
        certificate_enabled=bool(form.certificate_enabled.data),
        validity_months=form.validity_months.data)


@bp.route("/author/courses/new", methods=["GET", "POST"])
@login_required
def author_course_new():
    _require_author()
    form = CourseForm()
    if form.validate_on_submit():
        try:
            course = authoring.create_course(db.session, _me(), _course_data(form))
        except DomainError as exc:
            show_domain_error(form, exc, "title")
        else:
            db.session.commit()
            flash(_("The course %(title)s was created. Add its first module and lessons.",
                    title=course.title), "success")
            return redirect(_editor_url(course.id, "structure"))
    return render_template("courses/author/course_new.html", form=form, **LABELS)


@bp.route("/author/courses/<int:course_id>", methods=["GET", "POST"])
@login_required
def author_course(course_id: int):
    course = db.session.get(Course, course_id) or abort(404)
    _require_author()
    form = CourseForm(obj=course)
    if form.validate_on_submit():
        try:
            authoring.update_course(db.session, _me(), course, _course_data(form))
        except DomainError as exc:
            show_domain_error(form, exc, "title")
        else:
            db.session.commit()
            flash(_("The course details were saved."), "success")
            return redirect(_editor_url(course.id))
    return _render_editor(course, form)


def _render_editor(course: Course, form: CourseForm, module_form: ModuleForm | None = None):
    modules = queries.course_structure(db.session, course.id)
    files = media_of(db.session, course.id)
    return render_template(
        "courses/author/course.html", course=course, form=form, modules=modules,
        files=_file_rows(files), module_form=module_form or ModuleForm(formdata=None, prefix="module"),
        rename_forms={m.id: ModuleForm(formdata=None, prefix=f"m{m.id}", title=m.title)
                      for m in modules},
        upload_form=MediaUploadForm(formdata=None), action_form=ActionForm(formdata=None),
        max_media_mb=current_app.config["MAX_MEDIA_BYTES"] // 2**20,
        max_video_mb=current_app.config["MAX_VIDEO_BYTES"] // 2**20, **LABELS)


@bp.route("/author/courses/<int:course_id>/status/<any(published, draft, archived):status>",
          methods=["POST"])
@login_required
def author_course_status(course_id: int, status: str):
    course = db.session.get(Course, course_id) or abort(404)
    _require_author()
    try:
        authoring.set_course_status(db.session, _me(), course, status)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(STATUS_MESSAGES[status](course.title), "success")
    return redirect(_editor_url(course.id))


# ---------------------------------------------------------------- modules

@bp.route("/author/courses/<int:course_id>/modules", methods=["POST"])
@login_required
def author_module_new(course_id: int):
    course = db.session.get(Course, course_id) or abort(404)
    _require_author()
    form = ModuleForm(prefix="module")
    if form.validate_on_submit():
        try:
            module = authoring.add_module(db.session, _me(), course, form.title.data)
        except DomainError as exc:
            show_domain_error(form, exc, "title")
        else:
            db.session.commit()
            flash(_("The module %(title)s was added.", title=module.title), "success")
            return redirect(_editor_url(course.id, f"module-{module.id}"))
    return _render_editor(course, CourseForm(obj=course), module_form=form)


@bp.route("/author/modules/<int:module_id>/rename", methods=["POST"])
@login_required
def author_module_rename(module_id: int):
    module = db.session.get(Module, module_id) or abort(404)
    _require_author()
    form = ModuleForm(prefix=f"m{module.id}")
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return redirect(_editor_url(module.course_id, f"module-{module.id}"))
    try:
        authoring.rename_module(db.session, _me(), module, form.title.data)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("The module was renamed to %(title)s.", title=module.title), "success")
    return redirect(_editor_url(module.course_id, f"module-{module.id}"))


@bp.route("/author/modules/<int:module_id>/<any(archive, restore):action>", methods=["POST"])
@login_required
def author_module_archive(module_id: int, action: str):
    module = db.session.get(Module, module_id) or abort(404)
    _require_author()
    authoring.set_module_archived(db.session, _me(), module, action == "archive")
    db.session.commit()
    flash(_("The module %(title)s was archived: learners no longer see it.", title=module.title)
          if action == "archive" else
          _("The module %(title)s was restored.", title=module.title), "success")
    return redirect(_editor_url(module.course_id, f"module-{module.id}"))


@bp.route("/author/modules/<int:module_id>/move/<any(up, down):direction>", methods=["POST"])
@login_required
def author_module_move(module_id: int, direction: str):
    module = db.session.get(Module, module_id) or abort(404)
    _require_author()
    authoring.move_module(db.session, _me(), module, -1 if direction == "up" else 1)
    db.session.commit()
    return redirect(_editor_url(module.course_id, f"module-{module.id}"))


# ---------------------------------------------------------------- lessons

def _lesson_data(form: LessonForm) -> authoring.LessonData:
    return authoring.LessonData(
        title=form.title.data or "", kind=form.kind.data or "", body=form.body.data or "",
        url=form.url.data or "", media_id=form.media_id.data,
        is_required=bool(form.is_required.data),
        complete_on_video_end=bool(form.complete_on_video_end.data),
        estimated_minutes=form.estimated_minutes.data or 0, key=(form.key.data or "").strip())


def _render_lesson(course: Course, module: Module, lesson: Lesson | None, form: LessonForm,
                   files: list[MediaFile], preview=None):
    modules = queries.course_structure(db.session, course.id) if lesson is not None else []
    move_form = None
    if lesson is not None:
        move_form = MoveLessonForm(formdata=None, module_choices=[
            (m.id, m.title) for m in modules if m.id != module.id])
    return render_template(
        "courses/author/lesson.html", course=course, module=module, lesson=lesson, form=form,
        files=_file_rows(files), preview=preview, move_form=move_form,
        action_form=ActionForm(formdata=None), **LABELS)


def _back_from(lesson: Lesson):
    """Back to the lesson page when the button was there, else to the lesson's row."""
    if request.form.get("next") == "lesson":
        return redirect(url_for("courses.author_lesson", lesson_id=lesson.id))
    return redirect(_editor_url(lesson.course_id, f"lesson-{lesson.id}"))


def _media_choices(files: list[MediaFile]) -> list[tuple[int, str]]:
    return [(m.id, m.filename) for m in files]


@bp.route("/author/modules/<int:module_id>/lessons/new", methods=["GET", "POST"])
@login_required
def author_lesson_new(module_id: int):
    module = db.session.get(Module, module_id) or abort(404)
    _require_author()
    course = module.course
    files = media_of(db.session, course.id)
    form = LessonForm(media_choices=_media_choices(files))
    if form.is_submitted() and form.preview.data:
        preview = render_markdown(form.body.data or "", _media_urls(files))
        return _render_lesson(course, module, None, form, files, preview)
    if form.validate_on_submit():
        try:
            lesson = authoring.add_lesson(db.session, _me(), module, _lesson_data(form))
        except DomainError as exc:
            show_domain_error(form, exc, "title")
        else:
            db.session.commit()
            flash(_("The lesson %(title)s was added.", title=lesson.title), "success")
            return redirect(url_for("courses.author_lesson", lesson_id=lesson.id))
    return _render_lesson(course, module, None, form, files)


@bp.route("/author/lessons/<int:lesson_id>", methods=["GET", "POST"])
@login_required
def author_lesson(lesson_id: int):
    lesson = db.session.get(Lesson, lesson_id) or abort(404)
    _require_author()
    module, course = lesson.module, lesson.module.course
    files = media_of(db.session, course.id)
    form = LessonForm(obj=lesson, media_choices=_media_choices(files))
    if form.is_submitted() and form.preview.data:
        preview = render_markdown(form.body.data or "", _media_urls(files))
        return _render_lesson(course, module, lesson, form, files, preview)
    if form.validate_on_submit():
        try:
            authoring.update_lesson(db.session, _me(), lesson, _lesson_data(form))
        except DomainError as exc:
            show_domain_error(form, exc, "title")
        else:
            db.session.commit()
            flash(_("The lesson %(title)s was saved.", title=lesson.title), "success")
            return redirect(url_for("courses.author_lesson", lesson_id=lesson.id))
    return _render_lesson(course, module, lesson, form, files)


@bp.route("/author/lessons/<int:lesson_id>/<any(archive, restore):action>", methods=["POST"])
@login_required
def author_lesson_archive(lesson_id: int, action: str):
    lesson = db.session.get(Lesson, lesson_id) or abort(404)
    _require_author()
    authoring.set_lesson_archived(db.session, _me(), lesson, action == "archive")
    db.session.commit()
    flash(_("The lesson %(title)s was archived: learners no longer see it, their progress is "
            "kept.", title=lesson.title) if action == "archive" else
          _("The lesson %(title)s was restored.", title=lesson.title), "success")
    return _back_from(lesson)


@bp.route("/author/lessons/<int:lesson_id>/move/<any(up, down):direction>", methods=["POST"])
@login_required
def author_lesson_move(lesson_id: int, direction: str):
    lesson = db.session.get(Lesson, lesson_id) or abort(404)
    _require_author()
    authoring.move_lesson(db.session, _me(), lesson, -1 if direction == "up" else 1)
    db.session.commit()
    return _back_from(lesson)


@bp.route("/author/lessons/<int:lesson_id>/module", methods=["POST"])
@login_required
def author_lesson_to_module(lesson_id: int):
    lesson = db.session.get(Lesson, lesson_id) or abort(404)
    _require_author()
    form = MoveLessonForm()
    target = db.session.get(Module, form.module_id.data) if form.module_id.data else None
    if not form.validate_on_submit() or target is None:
        flash(_("Choose a module of this course."), "error")
        return redirect(url_for("courses.author_lesson", lesson_id=lesson.id))
    try:
        authoring.move_lesson_to_module(db.session, _me(), lesson, target)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("courses.author_lesson", lesson_id=lesson.id))
    db.session.commit()
    flash(_("The lesson was moved to the module %(title)s.", title=target.title), "success")
    return redirect(_editor_url(lesson.course_id, f"lesson-{lesson.id}"))


# ---------------------------------------------------------------- files and packages

@bp.route("/author/courses/<int:course_id>/media", methods=["POST"])
@csrf.exempt  # checked below, once the larger size limit of this view is in place
@login_required
def author_media_upload(course_id: int):
    course = db.session.get(Course, course_id) or abort(404)
    _require_author()
    # Videos may be larger than the site-wide request limit, on this page only; the body is
    # read (and the CSRF token checked) only after the limit is raised.
    request.max_content_length = current_app.config["MAX_VIDEO_BYTES"] + 2**20
    csrf.protect()
    form = MediaUploadForm()
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return redirect(_editor_url(course.id, "files"))
    upload = form.file.data
    try:
        media = authoring.add_media(db.session, _me(), course, upload.stream,
                                    upload.filename or "")
    except DomainError as exc:
        db.session.rollback()
        flash(_("%(file)s was not uploaded: %(reason)s", file=upload.filename or "",
                reason=exc.message), "error")
    else:
        db.session.commit()
        flash(_("%(file)s was uploaded. Use it in a lesson as media/%(file)s.",
                file=media.filename), "success")
    return redirect(_editor_url(course.id, "files"))


@bp.route("/author/courses/<int:course_id>/package")
@login_required
def author_course_export(course_id: int):
    course = db.session.get(Course, course_id) or abort(404)
    _require_author()
    # Spooled to disk, not memory: a package carries the course's videos.
    target = tempfile.TemporaryFile()
    try:
        packages.write_package(db.session, course, target)
    except DomainError as exc:
        target.close()
        flash(exc.message, "error")
        return redirect(_editor_url(course.id))
    target.seek(0)
    return send_file(target, mimetype="application/zip", as_attachment=True,
                     download_name=f"{course.slug}.zip", max_age=0)


@bp.route("/author/courses/import", methods=["POST"])
@csrf.exempt  # checked below, once the package size limit is in place
@login_required
def author_course_import():
    _require_author()
    max_bytes = current_app.config["MAX_PACKAGE_BYTES"]
    request.max_content_length = max_bytes + 2**20
    csrf.protect()
    form = PackageUploadForm()
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return redirect(url_for("courses.author_courses"))
    # The package's files are read from this copy while importing: it lives until then.
    with tempfile.NamedTemporaryFile(suffix=".zip") as copy:
        form.package.data.save(copy)
        copy.flush()
        try:
            content = packages.read_package(copy.name, max_bytes)
            result = packages.import_package(db.session, _me(), content)
        except DomainError as exc:
            db.session.rollback()
            flash(_("The package was not imported: %(reason)s", reason=exc.message), "error")
            return redirect(url_for("courses.author_courses"))
    db.session.commit()
    flash(_("The course %(title)s was imported.", title=result.course.title) if result.created
          else _("The course %(title)s was updated from the package.",
                 title=result.course.title), "success")
    if result.has_quiz_changes:
        flash(result.quiz_summary(), "info")
    return redirect(_editor_url(result.course.id))
