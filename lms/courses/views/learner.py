"""Learner pages: My learning, the catalog, a course, a lesson, course files.

Each view: load or 404 -> authorize -> validate -> call a service -> commit -> respond.
"""
from __future__ import annotations

from datetime import datetime

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from lms.assignments import queries as assignment_queries
from lms.courses import queries, services
from lms.courses.content import render_markdown
from lms.courses.labels import TOPIC_LABELS
from lms.courses.media import kind_of, path_for
from lms.courses.models import TOPICS, Course, Enrolment, LessonKind, MediaFile
from lms.courses.permissions import can_view_course, can_view_learning_of
from lms.courses.views import bp
from lms.db import db, writes
from lms.errors import DomainError
from lms.forms import ActionForm
from lms.i18n import LANGUAGES
from lms.org.models import User


def _me():
    return current_user._get_current_object()


def _course_and_enrolment(slug: str) -> tuple[Course, Enrolment | None]:
    """The course (404 if the viewer may not see it) and the viewer's enrolment, read once."""
    course = db.session.scalar(select(Course).where(Course.slug == slug)) or abort(404)
    enrolment = services.enrolment_for(db.session, current_user.id, course.id)
    if not can_view_course(current_user, course, enrolled=enrolment is not None):
        abort(404)  # an unpublished course does not exist for learners
    return course, enrolment


def _course_or_404(slug: str) -> Course:
    return _course_and_enrolment(slug)[0]


def media_url(media: MediaFile) -> str:
    return url_for("courses.media", media_id=media.id, filename=media.filename, v=media.sha256[:12])


@bp.route("/learning")
@login_required
def my_learning():
    learning = queries.my_learning(db.session, current_user.id)
    # The decision behind each assigned course and its step in a learning path (one query).
    assigned_by = assignment_queries.assigned_by(db.session, current_user.id)
    if assigned_by:
        learning.assigned.sort(key=lambda e: _assigned_order(e, assigned_by.get(e.id)))
    # Labels translated once per page, not once per card.
    words = {"continue": _("Continue"), "start": _("Start"), "review": _("Review")}
    topics = {key: str(label) for key, label in TOPIC_LABELS.items()}
    return render_template("courses/my_learning.html", learning=learning, words=words,
                           topics=topics, assigned_by=assigned_by)


def _assigned_order(enrolment: Enrolment, by: assignment_queries.AssignedBy | None) -> tuple:
    """Soonest due first; a learning path's courses in the path's order."""
    due = enrolment.due_at.replace(tzinfo=None) if enrolment.due_at else datetime.max
    return (due, by.assignment_id if by else 0, (by.step or 0) if by else 0)


@bp.route("/courses")
@login_required
def catalog():
    filters = queries.CatalogFilter(
        q=request.args.get("q", "")[:100],
        topic=request.args.get("topic", "") if request.args.get("topic") in TOPICS else "",
        length=request.args.get("length", "") if request.args.get("length") in queries.LENGTHS else "",
        language=request.args.get("language", "") if request.args.get("language") in LANGUAGES else "")
    page, mine = queries.catalog_page(db.session, current_user, filters,
                                      request.args.get("page", 1, type=int),
                                      current_app.config["PAGE_SIZE"])
    args = {k: v for k, v in vars(filters).items() if v}
    return render_template("courses/catalog.html", page=page, mine=mine, filters=filters, args=args)


@bp.route("/courses/<slug>")
@login_required
def course_page(slug: str):
    course, enrolment = _course_and_enrolment(slug)
    outline = queries.course_outline(db.session, course, current_user.id, enrolment)
    from lms.quizzes.views.learner import course_quizzes  # the quiz module joins the page
    quizzes = course_quizzes(db.session, course.id, current_user.id)
    return render_template("courses/course.html", course=course, outline=outline,
                           quizzes=quizzes, action_form=ActionForm())


@bp.route("/courses/<slug>/enrol", methods=["POST"])
@login_required
def enrol(slug: str):
    course = _course_or_404(slug)
    try:
        services.enrol(db.session, _me(), course)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("courses.course_page", slug=course.slug))
    db.session.commit()
    flash(_("You are enrolled in %(title)s.", title=course.title), "success")
    return redirect(url_for("courses.resume", slug=course.slug))


@bp.route("/courses/<slug>/resume")
@login_required
def resume(slug: str):
    """One click back to exactly where the learner left off."""
    course = _course_or_404(slug)
    enrolment = services.enrolment_for(db.session, current_user.id, course.id)
    lesson_id = services.resume_lesson_id(db.session, enrolment) if enrolment else None
    outline = queries.course_outline(db.session, course, None)
    lesson = next((item for item in outline.lessons if item.id == lesson_id), None)
    lesson = lesson or (outline.lessons[0] if outline.lessons else None)
    if lesson is None:
        return redirect(url_for("courses.course_page", slug=course.slug))
    return redirect(url_for("courses.lesson_page", slug=course.slug, key=lesson.key))


@bp.route("/courses/<slug>/lessons/<key>")
@writes
@login_required
def lesson_page(slug: str, key: str):
    course, enrolment = _course_and_enrolment(slug)
    lesson = queries.lesson_by_key(db.session, course, key) or abort(404)
    preview = not course.is_published  # authors looking at a draft are not enrolled by it
    if not preview:
        enrolment = services.open_lesson(db.session, _me(), lesson, enrolment)
    outline = queries.course_outline(db.session, course, current_user.id, enrolment)
    uses_media = lesson.media_id is not None or "media/" in lesson.body
    files = queries.media_of(db.session, course.id) if uses_media else []
    media = {m.filename: media_url(m) for m in files}
    lesson_media = next((m for m in files if m.id == lesson.media_id), None)
    previous, following = outline.neighbours(lesson)
    page = render_template(
        "courses/lesson.html", course=course, lesson=lesson, outline=outline, preview=preview,
        body=render_markdown(lesson.body, media), previous=previous, following=following,
        lesson_media=lesson_media, lesson_media_url=media_url(lesson_media) if lesson_media else "",
        media_kind=kind_of(lesson_media.content_type) if lesson_media else "",
        action_form=ActionForm(), video_kind=LessonKind.VIDEO.value)
    db.session.commit()
    return page


@bp.route("/courses/<slug>/lessons/<key>/complete", methods=["POST"])
@login_required
def complete_lesson(slug: str, key: str):
    course = _course_or_404(slug)
    lesson = queries.lesson_by_key(db.session, course, key) or abort(404)
    if not course.is_published:
        flash(_("Progress is recorded only in published courses."), "info")
        return redirect(url_for("courses.lesson_page", slug=slug, key=key))
    before = services.enrolment_for(db.session, current_user.id, course.id)
    already_completed = before is not None and before.is_completed
    enrolment = services.complete_lesson(db.session, _me(), lesson)
    db.session.commit()
    if enrolment.is_completed and not already_completed:
        flash(_("Congratulations! You have completed %(title)s.", title=course.title), "success")
        return redirect(url_for("courses.course_page", slug=slug))
    following = request.form.get("next", "")
    if following and queries.lesson_by_key(db.session, course, following):
        return redirect(url_for("courses.lesson_page", slug=slug, key=following))
    return redirect(url_for("courses.course_page", slug=slug))


@bp.route("/media/<int:media_id>/<path:filename>")
@login_required
def media(media_id: int, filename: str):
    """Course files, only for signed-in people who may see the course."""
    item = db.session.get(MediaFile, media_id) or abort(404)
    course = db.session.get(Course, item.course_id)
    enrolled = services.enrolment_for(db.session, current_user.id, course.id) is not None
    if filename != item.filename or not can_view_course(current_user, course, enrolled=enrolled):
        abort(404)
    path = path_for(item.sha256)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=item.content_type, conditional=True,
                         as_attachment=kind_of(item.content_type) == "file",
                         download_name=item.filename, max_age=0)
    if request.args.get("v") == item.sha256[:12]:
        response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    else:
        response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.route("/learning/people/<int:person_id>")
@login_required
def person_learning(person_id: int):
    person = db.session.get(User, person_id) or abort(404)
    if not can_view_learning_of(current_user, person):
        abort(403)
    enrolments = queries.enrolments_of(db.session, person.id)
    return render_template("courses/person_learning.html", person=person, enrolments=enrolments)
