"""Learner pages of a quiz: the quiz, an attempt (page by page or on one page), the
background autosave and integrity signals of quiz.js, the summary, submitting and the result.

Each view: load or 404 -> authorize -> validate -> call a service -> commit -> respond.
An attempt is its owner's: anyone else gets 404 for every page of it except the result,
which trainers and the owner's unit heads may read (:func:`can_view_attempt`).

Form values are display positions (see :func:`lms.quizzes.attempts.to_response`), so
neither the page nor the posted data say anything about the key.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_time
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from werkzeug.datastructures import MultiDict

from lms.courses.models import Course, CourseStatus
from lms.courses.permissions import can_view_course
from lms.courses.services import enrolment_for
from lms.db import db, utcnow, writes
from lms.errors import DomainError
from lms.forms import ActionForm
from lms.org.models import User
from lms.quizzes import attempts as engine
from lms.quizzes.bank import question_count
from lms.quizzes.models import Attempt, AttemptAnswer, Layout, Quiz, QuizGrant, ReviewMode
from lms.quizzes.permissions import can_manage_quizzes, can_view_attempt
from lms.quizzes.presenting import present, reviewed
from lms.quizzes.remediation import who_can_help
from lms.quizzes.spec import QuestionType
from lms.quizzes.views import bp

#: Within this many seconds of the deadline, a submission from the page's countdown counts
#: as "submitted when the time ran out".
TIME_UP_SLACK = timedelta(seconds=5)


def _me():
    return current_user._get_current_object()


# ---------------------------------------------------------------- loading and authorizing

def _quiz_or_404(quiz_id: int) -> tuple[Quiz, Course]:
    """The quiz and its course, 404 when the viewer may not see the course (unpublished
    for learners) or the quiz is archived (for everyone but trainers)."""
    quiz = db.session.get(Quiz, quiz_id) or abort(404)
    course = db.session.get(Course, quiz.course_id)
    enrolled = enrolment_for(db.session, current_user.id, course.id) is not None
    if not can_view_course(current_user, course, enrolled=enrolled):
        abort(404)
    if quiz.is_archived and not can_manage_quizzes(current_user):
        abort(404)
    return quiz, course


def _load_attempt(attempt_id: int) -> Attempt | None:
    return db.session.scalar(
        select(Attempt).where(Attempt.id == attempt_id)
        .options(selectinload(Attempt.answers).selectinload(AttemptAnswer.version)))


def _own_attempt(attempt_id: int) -> Attempt:
    """The viewer's own attempt; anybody else's is 404, whoever asks."""
    attempt = _load_attempt(attempt_id)
    if attempt is None or attempt.user_id != current_user.id:
        abort(404)
    return attempt


def _json_error(message: str, status: int):
    return jsonify(error=message), status


# ---------------------------------------------------------------- the course page's list

@dataclass
class QuizRow:
    """A quiz as the course page lists it, with one learner's standing."""

    quiz: Quiz
    questions: int
    state: engine.QuizState

    @property
    def best_percent(self) -> float | None:
        counted = self.state.counted
        return counted.percent if counted is not None else None


def course_quizzes(dbs: Session, course_id: int, user_id: int) -> list[QuizRow]:
    """The course's live quizzes with the learner's state, in at most four queries."""
    quizzes = list(dbs.scalars(
        select(Quiz).where(Quiz.course_id == course_id, Quiz.is_archived.is_(False))
        .options(selectinload(Quiz.slots)).order_by(Quiz.position, Quiz.id)))
    if not quizzes:
        return []
    ids = [q.id for q in quizzes]
    attempts = list(dbs.scalars(select(Attempt).where(
        Attempt.user_id == user_id, Attempt.quiz_id.in_(ids)).order_by(Attempt.number)))
    grants = list(dbs.scalars(select(QuizGrant).where(
        QuizGrant.user_id == user_id, QuizGrant.quiz_id.in_(ids)).order_by(QuizGrant.id)))
    return [QuizRow(quiz=quiz, questions=question_count(quiz), state=engine.state_from(
        quiz, [a for a in attempts if a.quiz_id == quiz.id],
        [g for g in grants if g.quiz_id == quiz.id])) for quiz in quizzes]


# ---------------------------------------------------------------- the quiz page

@bp.route("/quizzes/<int:quiz_id>")
@login_required
def quiz_page(quiz_id: int):
    quiz, course = _quiz_or_404(quiz_id)
    state = engine.quiz_state(db.session, quiz, current_user.id)
    helpers = who_can_help(db.session, _me()) if state.out_of_attempts and quiz.is_required else []
    return render_template(
        "quizzes/quiz.html", quiz=quiz, course=course, state=state, helpers=helpers,
        questions=question_count(quiz), action_form=ActionForm(),
        takes_progress=course.status == CourseStatus.PUBLISHED.value)


@bp.route("/quizzes/<int:quiz_id>/start", methods=["POST"])
@login_required
def start(quiz_id: int):
    quiz, course = _quiz_or_404(quiz_id)
    back = redirect(url_for("quizzes.quiz_page", quiz_id=quiz.id))
    if course.status != CourseStatus.PUBLISHED.value:
        flash(_("Quizzes can be taken only in published courses."), "info")
        return back
    try:
        attempt = engine.start_attempt(db.session, quiz, _me())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return back
    db.session.commit()
    return redirect(url_for("quizzes.attempt_page", attempt_id=attempt.id))


# ---------------------------------------------------------------- the attempt

def _pages(quiz: Quiz, attempt: Attempt) -> int:
    return len(attempt.answers) if quiz.layout == Layout.PER_PAGE.value else 1


def _page_of(quiz: Quiz, position: int) -> int:
    return position if quiz.layout == Layout.PER_PAGE.value else 1


def _page_arg(value: Any, pages: int) -> int:
    try:
        page = int(value)
    except (TypeError, ValueError):
        page = 1
    return max(1, min(pages, page))


def _closed_redirect(attempt: Attempt):
    """Where a page of an attempt that no longer takes answers goes (grading it if its
    time ran out while nobody was looking)."""
    if attempt.is_open:
        engine.finalise_if_expired(db.session, attempt, utcnow())
    if not attempt.is_open:
        db.session.commit()
        return redirect(url_for("quizzes.result", attempt_id=attempt.id))
    return None


def _timer(attempt: Attempt) -> dict[str, Any]:
    left = engine.seconds_left(attempt)
    return {"seconds_left": left,
            "minutes_left": None if left is None else (left + 59) // 60,
            "deadline_iso": attempt.deadline_at.isoformat() if attempt.deadline_at else ""}


@bp.route("/attempts/<int:attempt_id>")
@writes
@login_required
def attempt_page(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    closed = _closed_redirect(attempt)
    if closed is not None:
        return closed
    quiz = attempt.quiz
    course = db.session.get(Course, quiz.course_id)
    pages = _pages(quiz, attempt)
    page = _page_arg(request.args.get("page"), pages)
    on_page = attempt.answers if pages == 1 else [attempt.answers[page - 1]]
    questions = [present(answer) for answer in on_page]
    nav = [{"position": a.position, "answered": a.response is not None,
            "page": _page_of(quiz, a.position), "current": a in on_page}
           for a in attempt.answers]
    html = render_template(
        "quizzes/attempt.html", quiz=quiz, course=course, attempt=attempt, questions=questions,
        nav=nav, page=page, pages=pages, one_page=pages == 1 and len(attempt.answers) > 1,
        action_form=ActionForm(), **_timer(attempt))
    engine.mark_shown(db.session, attempt, [a.position for a in on_page], utcnow())
    db.session.commit()
    return html


def form_answers(attempt: Attempt, form: MultiDict) -> dict[int, Any]:
    """The raw answers of the questions a posted attempt page showed, in the shapes
    :func:`save_answers` takes. Fields are ``q<position>`` (repeated for multiple choice),
    ``q<position>-<left index>`` (matching) and ``q<position>-<display position>`` = the
    rank chosen (ordering); the hidden ``shown`` fields name the positions on the page,
    so that unticking every box clears an answer."""
    by_position = {a.position: a for a in attempt.answers}
    raw: dict[int, Any] = {}
    for item in form.getlist("shown"):
        answer = by_position.get(int(item)) if _is_number(item) else None
        if answer is None:
            continue
        name = f"q{answer.position}"
        kind = answer.version.spec.get("type")
        if kind == QuestionType.MULTIPLE.value:
            raw[answer.position] = form.getlist(name)
        elif kind == QuestionType.MATCHING.value:
            raw[answer.position] = {key[len(name) + 1:]: value for key, value in form.items()
                                    if key.startswith(name + "-") and value != ""}
        elif kind == QuestionType.ORDERING.value:
            order = _ranked(form, name, len(answer.display))
            if order is None or (answer.response is None and order == sorted(order)):
                continue  # untouched: the shuffled order is not an answer
            raw[answer.position] = order
        else:
            raw[answer.position] = form.get(name)
    return raw


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 6


def _ranked(form: MultiDict, name: str, size: int) -> list[int] | None:
    """Display positions sorted by the rank chosen for each (ties keep display order)."""
    ranks = []
    for shown in range(size):
        value = form.get(f"{name}-{shown}", "")
        if not _is_number(value):
            return None
        ranks.append((int(value), shown))
    return [shown for _rank, shown in sorted(ranks)]


@bp.route("/attempts/<int:attempt_id>/save", methods=["POST"])
@login_required
def save_page(attempt_id: int):
    """The page's form without JavaScript: save what the page showed, then go on."""
    attempt = _own_attempt(attempt_id)
    quiz = attempt.quiz
    try:
        engine.save_answers(db.session, attempt, form_answers(attempt, request.form), utcnow())
    except engine.AttemptClosed as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("quizzes.result", attempt_id=attempt.id))
    db.session.commit()
    pages = _pages(quiz, attempt)
    page = _page_arg(request.form.get("page"), pages)
    go = request.form.get("go", "save")
    if go == "summary":
        return redirect(url_for("quizzes.summary", attempt_id=attempt.id))
    if go == "next":
        page += 1
    elif go == "prev":
        page -= 1
    elif _is_number(go):
        page = int(go)
    else:
        flash(_("Your answers are saved."), "success")
    page = max(1, min(pages, page))
    return redirect(url_for("quizzes.attempt_page", attempt_id=attempt.id,
                            page=page if pages > 1 else None))


@bp.route("/attempts/<int:attempt_id>/answer", methods=["POST"])
@login_required
def save_answer(attempt_id: int):
    """quiz.js saves each answer as it is given: ``{"position": n, "value": …}``."""
    attempt = _load_attempt(attempt_id)
    if attempt is None or attempt.user_id != current_user.id:
        return _json_error(_("Page not found"), 404)
    data = request.get_json(silent=True)
    position = data.get("position") if isinstance(data, dict) else None
    if not isinstance(position, int) or isinstance(position, bool) \
            or position not in {a.position for a in attempt.answers}:
        return _json_error(_("The answer could not be read. Reload the page."), 400)
    now = utcnow()
    try:
        engine.save_answers(db.session, attempt, {position: data.get("value")}, now)
    except engine.AttemptClosed as exc:
        db.session.rollback()
        return jsonify(error=exc.message,
                       result_url=url_for("quizzes.result", attempt_id=attempt.id)), 409
    db.session.commit()
    return jsonify(saved=True, saved_at=now.isoformat(), saved_at_text=format_time(now, "short"))


@bp.route("/attempts/<int:attempt_id>/signal", methods=["POST"])
@login_required
def signal(attempt_id: int):
    """quiz.js reports a lost focus or a paste (a flag for the trainer, never a penalty)."""
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != current_user.id:
        return _json_error(_("Page not found"), 404)
    data = request.get_json(silent=True)
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in ("blur", "paste"):
        return _json_error(_("Unknown signal."), 400)
    position = data.get("position")
    position = position if isinstance(position, int) and not isinstance(position, bool) else None
    engine.record_signal(db.session, attempt, kind, position)
    db.session.commit()
    return jsonify(recorded=True)


@bp.route("/attempts/<int:attempt_id>/summary")
@writes
@login_required
def summary(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    closed = _closed_redirect(attempt)
    if closed is not None:
        return closed
    quiz = attempt.quiz
    course = db.session.get(Course, quiz.course_id)
    one_page = _pages(quiz, attempt) == 1
    items = [{"position": a.position, "answered": a.response is not None,
              "url": url_for("quizzes.attempt_page", attempt_id=attempt.id,
                             page=None if one_page else a.position,
                             _anchor=f"q{a.position}" if one_page else None)}
             for a in attempt.answers]
    unanswered = sum(1 for item in items if not item["answered"])
    return render_template("quizzes/summary.html", quiz=quiz, course=course, attempt=attempt,
                           items=items, unanswered=unanswered, action_form=ActionForm(),
                           **_timer(attempt))


@bp.route("/attempts/<int:attempt_id>/submit", methods=["POST"])
@login_required
def submit(attempt_id: int):
    """Grade the attempt. Twice (double click, two tabs, a retry) grades once."""
    attempt = _own_attempt(attempt_id)
    quiz = attempt.quiz
    course = db.session.get(Course, quiz.course_id)
    enrolment = enrolment_for(db.session, attempt.user_id, course.id)
    completed_before = enrolment is not None and enrolment.is_completed
    now = utcnow()
    if not engine.finalise_if_expired(db.session, attempt, now):
        time_up = (request.form.get("time_up") == "1" and attempt.deadline_at is not None
                   and now >= attempt.deadline_at - TIME_UP_SLACK)
        engine.submit_attempt(db.session, attempt, now, auto=time_up)
    db.session.commit()
    enrolment = enrolment or enrolment_for(db.session, attempt.user_id, course.id)
    if enrolment is not None and enrolment.is_completed and not completed_before:
        flash(_("Congratulations! You have completed %(title)s.", title=course.title), "success")
    return redirect(url_for("quizzes.result", attempt_id=attempt.id))


# ---------------------------------------------------------------- the result

@bp.route("/attempts/<int:attempt_id>/result")
@writes
@login_required
def result(attempt_id: int):
    attempt = _load_attempt(attempt_id) or abort(404)
    owner = db.session.get(User, attempt.user_id)
    if not can_view_attempt(current_user, attempt, owner):
        abort(404)
    mine = attempt.user_id == current_user.id
    if attempt.is_open and engine.finalise_if_expired(db.session, attempt, utcnow()):
        db.session.commit()
    if attempt.is_open and mine:
        return redirect(url_for("quizzes.attempt_page", attempt_id=attempt.id))
    quiz = attempt.quiz
    course = db.session.get(Course, quiz.course_id)
    review = quiz.review
    questions = [] if attempt.is_open or review == ReviewMode.SCORE.value else [
        reviewed(answer, review) for answer in attempt.answers]
    enrolment = enrolment_for(db.session, owner.id, course.id)
    return render_template(
        "quizzes/result.html", quiz=quiz, course=course, attempt=attempt, owner=owner,
        mine=mine, questions=questions, review=review, enrolment=enrolment,
        course_visible=can_view_course(current_user, course, enrolled=mine and enrolment is not None))
