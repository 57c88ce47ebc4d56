"""Trainers' quiz pages (routes on the quizzes blueprint, under /author): the question bank
of a course, GIFT import and export, quiz settings and slots, every attempt, regrading and
item statistics; and the remediation page of one person's quiz (trainers, admins and the
person's unit heads).

Each view: load or 404 -> authorize (403) -> validate -> call a service -> commit -> respond.
The services record the audit events. A refused form is shown again; anything a failed
service call may have flushed is rolled back first.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nh3
from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import and_, func, select
from sqlalchemy.orm import load_only, selectinload

from lms.courses.models import Course
from lms.db import db, utcnow
from lms.errors import DomainError
from lms.forms import ActionForm, show_domain_error
from lms.org.models import User
from lms.pagination import Page, paginate
from lms.quizzes import attempts as engine
from lms.quizzes import bank, remediation, statistics
from lms.quizzes.bank import GiftImportError
from lms.quizzes.forms import (
    ANSWER_STATE_LABELS,
    ATTEMPT_FILTERS,
    GRADING_LABELS,
    GRANT_KIND_LABELS,
    LAYOUT_LABELS,
    QUESTION_TYPE_HINTS,
    QUESTION_TYPE_LABELS,
    REVIEW_LABELS,
    AttemptFilterForm,
    BankFilterForm,
    DrawSlotForm,
    ExtraAttemptsForm,
    ExtraTimeForm,
    FixedSlotForm,
    GiftImportForm,
    NewQuestionForm,
    QuestionForm,
    QuizForm,
    ResetForm,
    question_form_data,
)
from lms.quizzes.models import (
    Attempt,
    AttemptAnswer,
    AttemptStatus,
    GrantKind,
    Question,
    QuestionCategory,
    QuestionVersion,
    Quiz,
    QuizSlot,
)
from lms.quizzes.permissions import can_manage_quizzes, can_remediate
from lms.quizzes.presenting import describe_right_answer, render_text, response_text
from lms.quizzes.spec import QuestionSpec, QuestionType
from lms.quizzes.specio import spec_from_dict
from lms.quizzes.views import bp
from lms.text import fold, like_escape

LABELS = {"QUESTION_TYPE_LABELS": QUESTION_TYPE_LABELS, "QUESTION_TYPE_HINTS": QUESTION_TYPE_HINTS,
          "GRADING_LABELS": GRADING_LABELS, "REVIEW_LABELS": REVIEW_LABELS,
          "LAYOUT_LABELS": LAYOUT_LABELS, "GRANT_KIND_LABELS": GRANT_KIND_LABELS,
          "ANSWER_STATE_LABELS": ANSWER_STATE_LABELS, "ATTEMPT_FILTERS": ATTEMPT_FILTERS}
EXCERPT = 160


def _me():
    return current_user._get_current_object()


def _require_manager() -> None:
    if not can_manage_quizzes(current_user):
        abort(403)


def _course(course_id: int) -> Course:
    course = db.session.get(Course, course_id) or abort(404)
    _require_manager()
    return course


def _page_size() -> int:
    return current_app.config["PAGE_SIZE"]


def _flash_form_errors(form) -> None:
    for name, errors in form.errors.items():
        field = getattr(form, name, None)
        label = field.label.text if field is not None else ""
        for error in errors:
            flash(f"{label}: {error}" if label else str(error), "error")


def _render(template: str, **context: Any) -> str:
    return render_template(f"quizzes/author/{template}", **LABELS, **context)


def _plain(text: str, fmt: str = "plain") -> str:
    """Question text without markup, on one line (for lists and searching)."""
    if fmt in ("html", "moodle"):
        text = html.unescape(nh3.clean(text, tags=set()))
    return " ".join(text.split())


def _excerpt(text: str, length: int = EXCERPT) -> str:
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0, int(seconds))
    if seconds < 3600:
        return _("%(m)d min %(s)02d s", m=seconds // 60, s=seconds % 60)
    return _("%(h)d h %(m)02d min", h=seconds // 3600, m=seconds % 3600 // 60)


# ---------------------------------------------------------------- the question bank

@dataclass
class BankRow:
    id: int
    name: str
    type: str
    category: str
    stem: str
    points: float
    version: int
    archived: bool


def _bank_rows(course_id: int, category_id: int | None, archived: bool, q: str) -> list[BankRow]:
    """The bank's questions with their current version, filtered; searched accent-insensitively
    in Python (the text lives inside the version's JSON). One query."""
    query = (select(Question, QuestionVersion.spec, QuestionCategory.name)
             .join(QuestionVersion, and_(QuestionVersion.question_id == Question.id,
                                         QuestionVersion.number == Question.current_version))
             .join(QuestionCategory, QuestionCategory.id == Question.category_id)
             .where(Question.course_id == course_id)
             .order_by(QuestionCategory.name, Question.name))
    if category_id:
        query = query.where(Question.category_id == category_id)
    if not archived:
        query = query.where(Question.is_archived.is_(False))
    words = fold(q).split()
    rows = []
    for question, spec, category in db.session.execute(query):
        stem = _plain(spec.get("stem", ""), spec.get("stem_format", "plain"))
        if words and not all(word in fold(f"{question.name} {stem}") for word in words):
            continue
        rows.append(BankRow(id=question.id, name=question.name, type=question.type,
                            category=category, stem=_excerpt(stem),
                            points=float(spec.get("points", 1)), version=question.current_version,
                            archived=question.is_archived))
    return rows


def _slice(items: list, page: int, per_page: int) -> Page:
    total = len(items)
    last = max(1, -(-total // per_page))
    page = min(max(1, page), last)
    return Page(items=items[(page - 1) * per_page: page * per_page], page=page,
                per_page=per_page, total=total)


@bp.route("/author/courses/<int:course_id>/questions")
@login_required
def author_bank(course_id: int):
    course = _course(course_id)
    categories = bank.categories_of(db.session, course.id)
    form = BankFilterForm(formdata=request.args or None,
                          category_choices=[(c.id, c.name) for c, _n in categories])
    form.validate()
    rows = _bank_rows(course.id, form.category.data, bool(form.archived.data), form.q.data or "")
    page = _slice(rows, request.args.get("page", 1, type=int), _page_size())
    args = {k: v for k, v in request.args.items() if k != "page"}
    return _render("bank.html", course=course, categories=categories, form=form, page=page,
                   args=args, new_form=NewQuestionForm(formdata=None),
                   action_form=ActionForm(formdata=None), current_category=form.category.data)


# ---------------------------------------------------------------- one question

def _category_choices(course_id: int) -> list[tuple[int, str]]:
    return [(c.id, c.name) for c, _n in bank.categories_of(db.session, course_id)]


def _preview(spec: QuestionSpec) -> dict[str, Any]:
    """The question as a trainer checks it: the text, every part, the right answer marked."""
    return {
        "type": QuestionType(spec.type).value, "stem": render_text(spec.stem, spec.stem_format),
        "points": spec.points, "general_feedback": spec.general_feedback,
        "choices": [{"text": c.text, "percent": round(c.fraction * 100, 2), "right": c.fraction > 0,
                     "feedback": c.feedback} for c in spec.choices],
        "numeric": [{"value": a.value, "tolerance": a.tolerance, "any": a.tolerance == float("inf"),
                     "percent": round(a.fraction * 100, 2), "right": a.fraction > 0,
                     "feedback": a.feedback} for a in spec.numeric],
        "pairs": [{"left": p.left, "right": p.right} for p in spec.pairs],
        "order": list(spec.order), "correct": spec.correct,
        "feedback_true": spec.feedback_true, "feedback_false": spec.feedback_false,
        "case_sensitive": spec.case_sensitive, "accent_insensitive": spec.accent_insensitive,
        "right_answer": describe_right_answer(spec),
    }


def _render_question(course: Course, kind: str, form: QuestionForm, question: Question | None = None,
                     preview: dict | None = None, problem: str | None = None,
                     stem_format: str = "plain"):
    return _render("question.html", course=course, kind=kind, form=form, question=question,
                   preview=preview, problem=problem, stem_format=stem_format,
                   action_form=ActionForm(formdata=None))


def _submitted_spec(form: QuestionForm, kind: str, stem_format: str = "plain",
                    keep: QuestionSpec | None = None, name: str | None = None) -> QuestionSpec:
    data = form.spec_data(kind, stem_format)
    if name is not None:
        data["name"] = name
    if keep is not None and kind == QuestionType.NUMERIC.value:
        # GIFT's "any other number" answers have no row in the form: keep them.
        data["numeric"] += [{"any": True, "fraction": a.fraction, "feedback": a.feedback}
                            for a in keep.numeric if a.tolerance == float("inf")]
    return bank.spec_from_form(data)


@bp.route("/author/courses/<int:course_id>/questions/new", methods=["GET", "POST"])
@login_required
def author_question_new(course_id: int):
    course = _course(course_id)
    kind = request.args.get("type", "")
    if kind not in QUESTION_TYPE_LABELS:
        return _render("question_type.html", course=course, new_form=NewQuestionForm(formdata=None))
    category_choices = _category_choices(course.id)
    wanted = request.args.get("category", type=int)
    if wanted not in {cid for cid, _name in category_choices}:
        wanted = category_choices[0][0] if category_choices else None
    form = QuestionForm(category_choices=category_choices,
                        data=None if request.method == "POST" else {"category_id": wanted})
    preview, problem = None, None
    if form.validate_on_submit():
        try:
            spec = _submitted_spec(form, kind)
            if request.form.get("preview"):
                preview = _preview(spec)
            else:
                question = bank.save_question(db.session, course, spec, _me())
        except DomainError as exc:
            db.session.rollback()
            problem = exc.message
        else:
            if preview is None:
                db.session.commit()
                flash(_("The question %(name)s was added to the bank.", name=question.name),
                      "success")
                return redirect(url_for("quizzes.author_question", question_id=question.id))
    return _render_question(course, kind, form, preview=preview, problem=problem)


@bp.route("/author/questions/<int:question_id>", methods=["GET", "POST"])
@login_required
def author_question(question_id: int):
    question = db.session.get(Question, question_id) or abort(404)
    _require_manager()
    course = db.session.get(Course, question.course_id)
    current = bank.spec_of(bank.current_version(db.session, question))
    category_choices = _category_choices(course.id)
    if request.method == "POST":
        form = QuestionForm(category_choices=category_choices)
    else:
        form = QuestionForm(category_choices=category_choices,
                            data=question_form_data(current, question.category_id))
        form.add_spare_rows()
    preview, problem = _preview(current), None
    if form.validate_on_submit():
        before = question.current_version
        try:
            spec = _submitted_spec(form, question.type, current.stem_format, keep=current,
                                   name=question.name)
            if request.form.get("preview"):
                preview = _preview(spec)
            else:
                bank.save_question(db.session, course, spec, _me(), question=question)
        except DomainError as exc:
            db.session.rollback()
            preview, problem = None, exc.message
        else:
            if not request.form.get("preview"):
                db.session.commit()
                if question.current_version != before:
                    flash(_("The question was saved as version %(n)d. Past attempts keep the "
                            "version they answered.", n=question.current_version), "success")
                else:
                    flash(_("Nothing changed: the question stays at version %(n)d.",
                            n=question.current_version), "info")
                return redirect(url_for("quizzes.author_question", question_id=question.id))
    return _render_question(course, question.type, form, question=question, preview=preview,
                            problem=problem, stem_format=current.stem_format)


@bp.route("/author/questions/<int:question_id>/<any(archive, restore):action>", methods=["POST"])
@login_required
def author_question_archive(question_id: int, action: str):
    question = db.session.get(Question, question_id) or abort(404)
    _require_manager()
    bank.set_archived(db.session, question, action == "archive", _me())
    db.session.commit()
    flash(_("The question %(name)s was archived: new attempts no longer draw it; past attempts "
            "keep it.", name=question.name) if action == "archive"
          else _("The question %(name)s was restored.", name=question.name), "success")
    if request.form.get("next") == "question":
        return redirect(url_for("quizzes.author_question", question_id=question.id))
    return redirect(url_for("quizzes.author_bank", course_id=question.course_id,
                            archived="y" if action == "restore" else None))


# ---------------------------------------------------------------- GIFT

@bp.route("/author/courses/<int:course_id>/questions/import", methods=["GET", "POST"])
@login_required
def author_gift_import(course_id: int):
    course = _course(course_id)
    form = GiftImportForm()
    problems = []
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read() if upload is not None and getattr(upload, "filename", "") else b""
        text = form.text.data or ""
        if not data and not text.strip():
            form.file.errors = [_("Choose a GIFT file or paste GIFT text.")]
        else:
            try:
                report = bank.import_gift(db.session, course, data or text, _me(),
                                          default_category=(form.category.data or "").strip())
            except GiftImportError as exc:
                db.session.rollback()
                problems = exc.problems
            except DomainError as exc:
                db.session.rollback()
                show_domain_error(form, exc, "file")
            else:
                db.session.commit()
                flash(_("GIFT import: %(created)d question(s) added, %(updated)d updated, "
                        "%(unchanged)d unchanged.", created=report.created,
                        updated=report.updated, unchanged=report.unchanged), "success")
                for problem in report.problems:
                    flash(_("line %(line)d: %(message)s", line=problem.line,
                            message=problem.message) if problem.line else problem.message,
                          "warning")
                return redirect(url_for("quizzes.author_bank", course_id=course.id))
    return _render("gift_import.html", course=course, form=form, problems=problems)


@bp.route("/author/courses/<int:course_id>/questions/export.gift")
@login_required
def author_gift_export(course_id: int):
    course = _course(course_id)
    text = bank.export_gift(db.session, course)
    return Response(text.encode("utf-8"), mimetype="text/plain", headers={
        "Content-Disposition": f'attachment; filename="{course.slug}.gift.txt"',
        "Cache-Control": "no-store"})


# ---------------------------------------------------------------- quizzes

def _quiz_data(form: QuizForm) -> bank.QuizData:
    return bank.QuizData(
        title=form.title.data or "", key=(form.key.data or "").strip().lower(),
        description=form.description.data or "", pass_mark=form.pass_mark.data,
        attempts_allowed=form.attempts_allowed.data,
        time_limit_minutes=form.time_limit_minutes.data,
        shuffle_questions=bool(form.shuffle_questions.data),
        shuffle_choices=bool(form.shuffle_choices.data), grading=form.grading.data or "",
        review=form.review.data or "", layout=form.layout.data or "",
        is_required=bool(form.is_required.data))


@bp.route("/author/courses/<int:course_id>/quizzes")
@login_required
def author_quizzes(course_id: int):
    course = _course(course_id)
    quizzes = db.session.scalars(select(Quiz).where(Quiz.course_id == course.id)
                                 .options(selectinload(Quiz.slots))
                                 .order_by(Quiz.is_archived, Quiz.position, Quiz.id)).all()
    counts = dict(db.session.execute(
        select(Attempt.quiz_id, func.count(Attempt.id))
        .where(Attempt.quiz_id.in_([q.id for q in quizzes])).group_by(Attempt.quiz_id)).all()
    ) if quizzes else {}
    rows = [{"quiz": q, "questions": bank.question_count(q), "attempts": counts.get(q.id, 0)}
            for q in quizzes]
    return _render("quizzes.html", course=course, rows=rows, action_form=ActionForm(formdata=None))


@bp.route("/author/courses/<int:course_id>/quizzes/new", methods=["GET", "POST"])
@login_required
def author_quiz_new(course_id: int):
    course = _course(course_id)
    form = QuizForm()
    if form.validate_on_submit():
        try:
            quiz = bank.save_quiz(db.session, course, _quiz_data(form), _me())
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "title")
        else:
            db.session.commit()
            flash(_("The quiz %(title)s was created. Now add its questions.", title=quiz.title),
                  "success")
            return redirect(url_for("quizzes.author_quiz", quiz_id=quiz.id, _anchor="questions"))
    return _render("quiz_new.html", course=course, form=form)


def _load_quiz(quiz_id: int) -> Quiz:
    quiz = db.session.scalar(select(Quiz).where(Quiz.id == quiz_id).options(
        selectinload(Quiz.slots).selectinload(QuizSlot.question),
        selectinload(Quiz.slots).selectinload(QuizSlot.category))) or abort(404)
    _require_manager()
    return quiz


def _render_quiz(quiz: Quiz, form: QuizForm, draw_form: DrawSlotForm | None = None,
                 fixed_form: FixedSlotForm | None = None):
    course = db.session.get(Course, quiz.course_id)
    categories = bank.categories_of(db.session, course.id)
    live = {c.id: n for c, n in categories}
    questions = db.session.execute(
        select(Question.id, Question.name, Question.type)
        .where(Question.course_id == course.id, Question.is_archived.is_(False))
        .order_by(Question.name)).all()
    category_choices = [(c.id, f"{c.name} ({n})") for c, n in categories]
    question_choices = [(q.id, f"{q.name} – {QUESTION_TYPE_LABELS.get(q.type, q.type)}")
                        for q in questions]
    draw_form = draw_form or DrawSlotForm(formdata=None, prefix="draw",
                                          category_choices=category_choices)
    fixed_form = fixed_form or FixedSlotForm(formdata=None, prefix="fixed",
                                             question_choices=question_choices)
    attempts = engine.attempts_count(db.session, quiz.id)
    return _render("quiz.html", course=course, quiz=quiz, form=form, live=live,
                   draw_form=draw_form, fixed_form=fixed_form, attempts=attempts,
                   question_count=bank.question_count(quiz),
                   problems=bank.quiz_problems(db.session, quiz),
                   action_form=ActionForm(formdata=None))


@bp.route("/author/quizzes/<int:quiz_id>", methods=["GET", "POST"])
@login_required
def author_quiz(quiz_id: int):
    quiz = _load_quiz(quiz_id)
    form = QuizForm(obj=quiz)
    if form.validate_on_submit():
        course = db.session.get(Course, quiz.course_id)
        try:
            bank.save_quiz(db.session, course, _quiz_data(form), _me(), quiz=quiz)
        except DomainError as exc:
            db.session.rollback()
            quiz = _load_quiz(quiz_id)
            show_domain_error(form, exc, "title")
        else:
            db.session.commit()
            flash(_("The quiz settings were saved."), "success")
            return redirect(url_for("quizzes.author_quiz", quiz_id=quiz.id))
    return _render_quiz(quiz, form)


@bp.route("/author/quizzes/<int:quiz_id>/<any(archive, restore):action>", methods=["POST"])
@login_required
def author_quiz_archive(quiz_id: int, action: str):
    quiz = db.session.get(Quiz, quiz_id) or abort(404)
    _require_manager()
    bank.set_quiz_archived(db.session, quiz, action == "archive", _me())
    db.session.commit()
    flash(_("The quiz %(title)s was archived: learners no longer see it; attempts are kept.",
            title=quiz.title) if action == "archive"
          else _("The quiz %(title)s was restored.", title=quiz.title), "success")
    return redirect(url_for("quizzes.author_quiz", quiz_id=quiz.id))


@bp.route("/author/quizzes/<int:quiz_id>/slots/<any(draw, fixed):kind>", methods=["POST"])
@login_required
def author_slot_add(quiz_id: int, kind: str):
    quiz = db.session.get(Quiz, quiz_id) or abort(404)
    _require_manager()
    form = DrawSlotForm(prefix="draw") if kind == "draw" else FixedSlotForm(prefix="fixed")
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return redirect(url_for("quizzes.author_quiz", quiz_id=quiz.id, _anchor="questions"))
    try:
        if kind == "draw":
            category = (db.session.get(QuestionCategory, form.category_id.data)
                        if form.category_id.data else None)
            if category is None:
                raise DomainError(_("Choose a category to draw from."))
            bank.add_slot(db.session, quiz, category=category, draw_count=form.draw_count.data)
        else:
            question = (db.session.get(Question, form.question_id.data)
                        if form.question_id.data else None)
            if question is None:
                raise DomainError(_("Choose a question."))
            bank.add_slot(db.session, quiz, question=question)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("The questions were added to the quiz."), "success")
    return redirect(url_for("quizzes.author_quiz", quiz_id=quiz.id, _anchor="questions"))


@bp.route("/author/slots/<int:slot_id>/remove", methods=["POST"])
@login_required
def author_slot_remove(slot_id: int):
    slot = db.session.get(QuizSlot, slot_id) or abort(404)
    _require_manager()
    quiz_id = slot.quiz_id
    bank.remove_slot(db.session, slot)
    db.session.commit()
    flash(_("The questions were removed from the quiz; past attempts keep theirs."), "success")
    return redirect(url_for("quizzes.author_quiz", quiz_id=quiz_id, _anchor="questions"))


@bp.route("/author/slots/<int:slot_id>/move/<any(up, down):direction>", methods=["POST"])
@login_required
def author_slot_move(slot_id: int, direction: str):
    slot = db.session.get(QuizSlot, slot_id) or abort(404)
    _require_manager()
    bank.move_slot(db.session, slot, -1 if direction == "up" else 1)
    db.session.commit()
    return redirect(url_for("quizzes.author_quiz", quiz_id=slot.quiz_id, _anchor=f"slot-{slot.id}"))


# ---------------------------------------------------------------- attempts

@dataclass
class AttemptRow:
    id: int
    person: User
    number: int
    started_at: datetime
    submitted_at: datetime | None
    auto_submitted: bool
    duration: str
    percent: float | None
    passed: bool | None
    is_open: bool
    focus_lost: int
    pastes: int
    fast: int


def _attempt_rows(attempts: list[Attempt]) -> list[AttemptRow]:
    """Rows for a page of attempts: two more queries (people, answer timings) per page."""
    if not attempts:
        return []
    ids = [a.id for a in attempts]
    people = {u.id: u for u in db.session.scalars(
        select(User).where(User.id.in_({a.user_id for a in attempts}))
        .options(selectinload(User.unit)))}
    answers: dict[int, list[AttemptAnswer]] = {}
    for answer in db.session.scalars(select(AttemptAnswer).where(AttemptAnswer.attempt_id.in_(ids))
                                     .options(load_only(AttemptAnswer.attempt_id, AttemptAnswer.position,
                                                        AttemptAnswer.shown_at,
                                                        AttemptAnswer.answered_at))):
        answers.setdefault(answer.attempt_id, []).append(answer)
    fast = {attempt_id: len(engine.fast_answer_ids(given)) for attempt_id, given in answers.items()}
    now = utcnow()
    return [AttemptRow(
        id=a.id, person=people[a.user_id], number=a.number, started_at=a.started_at,
        submitted_at=a.submitted_at, auto_submitted=a.auto_submitted,
        duration=_duration(((a.submitted_at or now) - a.started_at).total_seconds()),
        percent=a.percent, passed=a.passed, is_open=a.is_open, focus_lost=a.focus_lost_count,
        pastes=a.paste_count, fast=fast.get(a.id, 0)) for a in attempts]


@bp.route("/author/quizzes/<int:quiz_id>/attempts")
@login_required
def author_attempts(quiz_id: int):
    quiz = db.session.get(Quiz, quiz_id) or abort(404)
    _require_manager()
    course = db.session.get(Course, quiz.course_id)
    form = AttemptFilterForm(formdata=request.args or None)
    form.validate()
    query = (select(Attempt).join(User, User.id == Attempt.user_id)
             .where(Attempt.quiz_id == quiz.id)
             .order_by(Attempt.started_at.desc(), Attempt.id.desc()))
    status = form.status.data or ""
    submitted = Attempt.status == AttemptStatus.SUBMITTED.value
    if status == "passed":
        query = query.where(submitted, Attempt.passed.is_(True))
    elif status == "failed":
        query = query.where(submitted, Attempt.passed.is_not(True))
    elif status == "open":
        query = query.where(Attempt.status == AttemptStatus.OPEN.value)
    for word in fold(form.q.data or "").split():
        query = query.where(User.search_text.like(f"%{like_escape(word)}%", escape="\\"))
    page = paginate(db.session, query, request.args.get("page", 1, type=int), _page_size())
    page = Page(items=_attempt_rows(list(page.items)), page=page.page, per_page=page.per_page,
                total=page.total)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return _render("attempts.html", course=course, quiz=quiz, form=form, page=page, args=args,
                   fast_seconds=engine.FAST_ANSWER_SECONDS, action_form=ActionForm(formdata=None))


@bp.route("/author/attempts/<int:attempt_id>")
@login_required
def author_attempt(attempt_id: int):
    attempt = db.session.scalar(select(Attempt).where(Attempt.id == attempt_id).options(
        selectinload(Attempt.answers).selectinload(AttemptAnswer.version),
        selectinload(Attempt.answers).selectinload(AttemptAnswer.question))) or abort(404)
    _require_manager()
    quiz = db.session.get(Quiz, attempt.quiz_id)
    course = db.session.get(Course, quiz.course_id)
    person = db.session.scalar(select(User).where(User.id == attempt.user_id)
                               .options(selectinload(User.unit)))
    items = []
    fast = engine.fast_answer_ids(attempt.answers)
    for answer in attempt.answers:
        spec = spec_from_dict(answer.version.spec)
        items.append({
            "position": answer.position, "question": answer.question,
            "version": answer.version.number, "type": spec.type.value,
            "stem": render_text(spec.stem, spec.stem_format),
            "response": response_text(spec, answer.response),
            "right_answer": describe_right_answer(spec),
            "score": answer.score, "max_score": answer.max_score, "state": answer.state,
            "pasted": answer.pasted_at is not None, "fast": answer.id in fast,
            "shown_at": answer.shown_at, "answered_at": answer.answered_at,
            "saved_at": answer.saved_at, "pasted_at": answer.pasted_at,
        })
    duration = _duration(((attempt.submitted_at or utcnow()) - attempt.started_at).total_seconds())
    return _render("attempt.html", course=course, quiz=quiz, attempt=attempt, person=person,
                   items=items, duration=duration, fast_seconds=engine.FAST_ANSWER_SECONDS)


@bp.route("/author/quizzes/<int:quiz_id>/regrade", methods=["POST"])
@login_required
def author_regrade(quiz_id: int):
    quiz = db.session.get(Quiz, quiz_id) or abort(404)
    _require_manager()
    report = engine.regrade_quiz(db.session, quiz, _me())
    db.session.commit()
    flash(_("Regraded with the current questions: %(answers)d answer(s) changed in "
            "%(attempts)d attempt(s); %(passed)d attempt(s) now pass.",
            answers=report.answers_changed, attempts=report.attempts_changed,
            passed=report.newly_passed), "success")
    if report.skipped_incompatible:
        flash(ngettext("%(num)d answer kept its old version: its question changed shape "
                       "(another type or another number of choices).",
                       "%(num)d answers kept their old version: their question changed shape "
                       "(another type or another number of choices).",
                       report.skipped_incompatible), "warning")
    return redirect(url_for("quizzes.author_attempts", quiz_id=quiz.id))


# ---------------------------------------------------------------- statistics

@bp.route("/author/quizzes/<int:quiz_id>/statistics")
@login_required
def author_statistics(quiz_id: int):
    quiz = db.session.get(Quiz, quiz_id) or abort(404)
    _require_manager()
    course = db.session.get(Course, quiz.course_id)
    attempts, items = statistics.item_statistics(db.session, quiz.id)
    rows = []
    for item in items:
        rows.append({
            "item": item, "stem": _excerpt(_plain(item.stem), 200),
            "facility": None if item.facility is None else round(item.facility * 100),
            "discrimination": None if item.discrimination is None else f"{item.discrimination:.2f}",
            "choices": [{"label": c.label, "count": c.count, "right": c.right,
                         "percent": round(100 * c.count / item.responses) if item.responses else 0}
                        for c in item.choices],
        })
    return _render("statistics.html", course=course, quiz=quiz, attempts=attempts, rows=rows,
                   min_responses=statistics.MIN_RESPONSES,
                   low_discrimination=statistics.LOW_DISCRIMINATION,
                   extreme=statistics.EXTREME_FACILITY)


# ---------------------------------------------------------------- remediation

GRANT_FORMS = {
    GrantKind.EXTRA_ATTEMPTS.value: (ExtraAttemptsForm, "attempts"),
    GrantKind.RESET.value: (ResetForm, "reset"),
    GrantKind.EXTRA_TIME.value: (ExtraTimeForm, "time"),
}


def _remediation_target(quiz_id: int, user_id: int) -> tuple[Quiz, User]:
    quiz = db.session.get(Quiz, quiz_id) or abort(404)
    person = db.session.get(User, user_id) or abort(404)
    if not can_remediate(current_user, person):
        abort(403)
    return quiz, person


def _render_remediation(quiz: Quiz, person: User, forms: dict[str, Any] | None = None):
    forms = dict(forms or {})
    for kind, (form_class, prefix) in GRANT_FORMS.items():
        forms.setdefault(kind, form_class(formdata=None, prefix=prefix))
    state = engine.quiz_state(db.session, quiz, person.id)
    grants = remediation.grants_for(db.session, quiz.id, person.id)
    granters = {u.id: u for u in db.session.scalars(select(User).where(
        User.id.in_({g.granted_by_id for g in grants if g.granted_by_id})))} if grants else {}
    course = db.session.get(Course, quiz.course_id)
    attempts = [{"attempt": a,
                 "duration": _duration(((a.submitted_at or utcnow()) - a.started_at).total_seconds())}
                for a in reversed(state.attempts)]
    return render_template(
        "quizzes/author/remediation.html", quiz=quiz, course=course, person=person, state=state,
        attempts=attempts, grants=[(g, granters.get(g.granted_by_id)) for g in grants],
        forms=forms, can_manage=can_manage_quizzes(current_user), **LABELS)


@bp.route("/quizzes/<int:quiz_id>/people/<int:user_id>/remediation")
@login_required
def remediation_page(quiz_id: int, user_id: int):
    quiz, person = _remediation_target(quiz_id, user_id)
    return _render_remediation(quiz, person)


@bp.route("/quizzes/<int:quiz_id>/people/<int:user_id>/remediation/"
          "<any(extra_attempts, reset, extra_time):kind>", methods=["POST"])
@login_required
def remediation_grant(quiz_id: int, user_id: int, kind: str):
    quiz, person = _remediation_target(quiz_id, user_id)
    form_class, prefix = GRANT_FORMS[kind]
    form = form_class(prefix=prefix)
    if form.validate_on_submit():
        amount = form.amount.data if hasattr(form, "amount") else 0
        try:
            remediation.grant(db.session, quiz, person, kind, form.reason.data or "", _me(),
                              amount=amount or 0)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "reason")
        else:
            db.session.commit()
            messages = {
                GrantKind.EXTRA_ATTEMPTS.value: lambda: ngettext(
                    "%(name)s was given %(num)d more attempt.",
                    "%(name)s was given %(num)d more attempts.", amount, name=person.full_name),
                GrantKind.RESET.value: lambda: _(
                    "The quiz was reset for %(name)s: their attempts count again from zero; "
                    "the earlier attempts stay in the history.", name=person.full_name),
                GrantKind.EXTRA_TIME.value: lambda: ngettext(
                    "%(name)s has %(num)d more minute on each new attempt.",
                    "%(name)s has %(num)d more minutes on each new attempt.", amount,
                    name=person.full_name),
            }
            flash(messages[kind](), "success")
            return redirect(url_for("quizzes.remediation_page", quiz_id=quiz.id, user_id=person.id))
    return _render_remediation(quiz, person, {kind: form})


@bp.route("/courses/<int:course_id>/people/<int:user_id>/quizzes")
@login_required
def person_quizzes(course_id: int, user_id: int):
    """The quizzes of a course for one person, leading to each one's remediation page."""
    course = db.session.get(Course, course_id) or abort(404)
    person = db.session.get(User, user_id) or abort(404)
    if not can_remediate(current_user, person):
        abort(403)
    quizzes = db.session.scalars(select(Quiz).where(
        Quiz.course_id == course.id, Quiz.is_archived.is_(False))
        .order_by(Quiz.position, Quiz.id)).all()
    results = {row.quiz_id: row for row in db.session.execute(
        select(Attempt.quiz_id, func.count(Attempt.id).label("attempts"),
               func.max(Attempt.percent).label("best"),
               func.count(Attempt.id).filter(Attempt.passed.is_(True)).label("passes"))
        .where(Attempt.user_id == person.id, Attempt.quiz_id.in_([q.id for q in quizzes]))
        .group_by(Attempt.quiz_id))} if quizzes else {}
    return render_template("quizzes/author/person_quizzes.html", course=course, person=person,
                           quizzes=quizzes, results=results)
