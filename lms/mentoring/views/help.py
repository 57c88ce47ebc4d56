"""Help requests: a learner asks about a lesson or a quiz result, reads the answers in a
thread and marks the question solved; the mentors who answer see the questions waiting
for them.

Each view: load or 404 -> authorize -> validate -> call a service -> commit -> respond.
Somebody else's thread does not exist for a person who may not read it (404), on every
route, so ids cannot be probed.
"""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from lms.auth.permissions import is_mentor
from lms.courses.models import Course, Lesson
from lms.courses.permissions import can_view_course
from lms.db import db, utcnow, writes
from lms.errors import DomainError
from lms.forms import ActionForm, show_domain_error
from lms.mentoring.forms import HelpQuestionForm, HelpReplyForm
from lms.mentoring.help import Escalation, ask_for_help, mark_solved, place_of, reply, who_answers
from lms.mentoring.models import HelpMessage, HelpRecipient, HelpRequest
from lms.mentoring.permissions import can_answer_help_request, can_view_help_request
from lms.mentoring.queries import answered_requests_for, open_requests_for, requests_of_learner
from lms.mentoring.views import _me
from lms.mentoring.views import help_bp as bp
from lms.notify.queries import unread_ids_about
from lms.notify.services import mark_read
from lms.org.models import User
from lms.quizzes.models import Attempt
from lms.quizzes.permissions import can_view_attempt

RECENTLY_SOLVED = 20
# The notifications that link to a thread (see lms/mentoring/notices.py).
THREAD_KINDS = ("help_request", "help_reply", "help_solved", "help_escalated")



def _escalation() -> Escalation:
    return Escalation.from_config(current_app.config)


def _nobody_answers() -> str:
    return _("Nobody in your unit is a mentor yet. Ask your unit head to name one, or "
             "contact the IT team.")


# ---------------------------------------------------------------- my questions

@bp.route("")
@login_required
def my_requests():
    me = _me()
    mine = requests_of_learner(db.session, me)
    mentor, unit_team = who_answers(db.session, me)
    # Mentors, and anyone a question was sent or escalated to (a unit head can be), answer.
    waiting = open_requests_for(db.session, me)
    solved = answered_requests_for(db.session, me, limit=RECENTLY_SOLVED)
    answers = is_mentor(me) or bool(waiting) or bool(solved)
    return render_template("help/index.html", mine=mine, mentor=mentor, unit_team=unit_team,
                           answers=answers, waiting=waiting, solved=solved)


# ---------------------------------------------------------------- asking

def _arg_id(name: str) -> int | None:
    """An id from the query string; present but not a number is a page that does not exist."""
    if name not in request.args:
        return None
    value = request.args.get(name, type=int)
    if value is None:
        abort(404)
    return value


def _place_to_ask() -> tuple[Lesson | None, Attempt | None]:
    """The lesson (of a published course) or the viewer's own submitted attempt asked about;
    neither for a general question."""
    lesson_id, attempt_id = _arg_id("lesson_id"), _arg_id("attempt_id")
    if lesson_id is not None and attempt_id is not None:
        abort(404)
    if lesson_id is not None:
        lesson = db.session.get(Lesson, lesson_id)
        if lesson is None or lesson.is_archived:
            abort(404)
        course = db.session.get(Course, lesson.course_id)
        if course is None or not course.is_published:
            abort(404)  # a draft or archived course has no lessons to ask about
        return lesson, None
    if attempt_id is not None:
        attempt = db.session.get(Attempt, attempt_id)
        if attempt is None or attempt.user_id != current_user.id or attempt.is_open:
            abort(404)  # somebody else's attempt, or one still being answered
        return None, attempt
    return None, None


def _back_to(course: Course | None, lesson: Lesson | None, attempt: Attempt | None) -> str | None:
    if lesson is not None and course is not None:
        return url_for("courses.lesson_page", slug=course.slug, key=lesson.key)
    if attempt is not None:
        return url_for("quizzes.result", attempt_id=attempt.id)
    return None


@bp.route("/ask", methods=["GET", "POST"])
@login_required
def ask():
    me = _me()
    lesson, attempt = _place_to_ask()
    course, place = place_of(db.session, lesson=lesson, attempt=attempt)
    mentor, unit_team = who_answers(db.session, me)
    form = HelpQuestionForm()
    if form.validate_on_submit():
        try:
            asked = ask_for_help(db.session, me, form.body.data, _escalation(), lesson=lesson,
                                 attempt=attempt, now=utcnow())
        except DomainError as exc:
            db.session.rollback()
            if exc.field:
                show_domain_error(form, exc, "body")
            else:
                flash(exc.message, "error")
        else:
            db.session.commit()
            if mentor is not None:
                flash(_("Your question was sent to %(name)s.", name=mentor.full_name), "success")
            else:
                flash(_("Your question was sent to your unit's mentors."), "success")
            return redirect(url_for("help.thread", request_id=asked.id))
    args = {"lesson_id": lesson.id} if lesson else {"attempt_id": attempt.id} if attempt else {}
    return render_template(
        "help/ask.html", form=form, course=course, lesson=lesson, attempt=attempt, place=place,
        back=_back_to(course, lesson, attempt), mentor=mentor, unit_team=unit_team,
        nobody=_nobody_answers() if mentor is None and not unit_team else None,
        action=url_for("help.ask", **args))


# ---------------------------------------------------------------- the thread

def _request_or_404(request_id: int, with_messages: bool = False) -> HelpRequest:
    query = select(HelpRequest).where(HelpRequest.id == request_id).options(
        joinedload(HelpRequest.learner).joinedload(User.unit), joinedload(HelpRequest.mentor))
    if with_messages:
        query = query.options(selectinload(HelpRequest.messages).joinedload(HelpMessage.author))
    help_request = db.session.scalar(query)
    if help_request is None or not can_view_help_request(db.session, current_user, help_request):
        abort(404)
    return help_request


def _place_link(help_request: HelpRequest) -> str | None:
    """Where the question was asked, if the viewer may open it."""
    me = current_user
    if help_request.lesson_id is not None and help_request.course_id is not None:
        lesson = db.session.get(Lesson, help_request.lesson_id)
        course = db.session.get(Course, help_request.course_id)
        asked_by_me = me.id == help_request.learner_id
        if lesson is None or course is None or lesson.is_archived:
            return None
        if not can_view_course(me, course, enrolled=asked_by_me):
            return None
        return url_for("courses.lesson_page", slug=course.slug, key=lesson.key)
    if help_request.attempt_id is not None:
        attempt = db.session.get(Attempt, help_request.attempt_id)
        if attempt is None or not can_view_attempt(me, attempt, help_request.learner):
            return None
        return url_for("quizzes.result", attempt_id=attempt.id)
    return None


def _recipients(help_request: HelpRequest) -> dict[str, list[User]]:
    """The mentors the question was sent to besides the learner's own: "unit" and "escalated"."""
    found: dict[str, list[User]] = {"unit": [], "escalated": []}
    for person, reason in db.session.execute(
            select(User, HelpRecipient.reason)
            .join(HelpRecipient, HelpRecipient.user_id == User.id)
            .where(HelpRecipient.request_id == help_request.id)
            .order_by(User.sort_name, User.id)):
        found.setdefault(reason, []).append(person)
    return found


def _render_thread(help_request: HelpRequest, form: HelpReplyForm | None = None) -> str:
    me = _me()
    can_write = help_request.is_open and can_answer_help_request(db.session, me, help_request)
    if can_write and form is None:
        form = HelpReplyForm(formdata=None)
    return render_template(
        "help/thread.html", help_request=help_request, messages=help_request.messages,
        learner=help_request.learner, mine=me.id == help_request.learner_id,
        form=form if can_write else None, place_link=_place_link(help_request),
        recipients=_recipients(help_request), action_form=ActionForm(),
        working_days=current_app.config.get("HELP_ESCALATION_WORKING_DAYS", 2))


@bp.route("/<int:request_id>")
@writes
@login_required
def thread(request_id: int):
    help_request = _request_or_404(request_id, with_messages=True)
    # Reading the thread reads the notifications about it, however the person came here.
    seen = unread_ids_about(db.session, current_user.id, THREAD_KINDS, "request_id",
                            help_request.id)
    if seen:
        mark_read(db.session, current_user.id, seen)
    page = _render_thread(help_request)
    db.session.commit()
    return page


@bp.route("/<int:request_id>/reply", methods=["POST"], endpoint="reply")
@login_required
def reply_to(request_id: int):
    help_request = _request_or_404(request_id, with_messages=True)
    me = _me()
    if not can_answer_help_request(db.session, me, help_request):
        abort(403)  # an admin reads the thread but does not write in it
    form = HelpReplyForm()
    if help_request.is_open and not form.validate_on_submit():
        return _render_thread(help_request, form)
    try:  # a solved question is refused by the service, with its own words
        reply(db.session, me, help_request, form.body.data or "", _escalation(), now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("help.thread", request_id=request_id))
    db.session.commit()
    flash(_("Your reply was sent."), "success")
    return redirect(url_for("help.thread", request_id=request_id, _anchor="latest"))


@bp.route("/<int:request_id>/solve", methods=["POST"])
@login_required
def solve(request_id: int):
    help_request = _request_or_404(request_id)
    me = _me()
    if me.id != help_request.learner_id:
        abort(403)  # only the colleague who asked closes the question
    try:
        mark_solved(db.session, me, help_request, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("help.thread", request_id=request_id))
    db.session.commit()
    flash(_("Marked as solved. Thank you for letting your mentor know."), "success")
    return redirect(url_for("help.thread", request_id=request_id))
