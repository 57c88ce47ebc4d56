"""The question bank of a course and the quizzes built from it (what trainers do).

Editing a question adds a new immutable version; attempts keep the version they showed.
Importing (GIFT or a course package) is all or nothing: the caller's transaction holds it,
and any problem raises before anything is flushed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms.audit.services import record
from lms.courses.models import Course
from lms.errors import DomainError
from lms.quizzes.gift import GiftProblem, parse_gift, write_gift
from lms.quizzes.models import (
    Grading,
    Layout,
    Question,
    QuestionCategory,
    QuestionVersion,
    Quiz,
    QuizSlot,
    ReviewMode,
)
from lms.quizzes.spec import QuestionSpec
from lms.quizzes.specio import SpecError, check_spec, spec_from_dict, spec_to_dict
from lms.text import clean, fold

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,118}[a-z0-9]$|^[a-z0-9]$")
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,78}[a-z0-9]$")
DEFAULT_CATEGORY = "Chung"


def _name_base(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")[:60].strip("-") or "cau-hoi"


# ---------------------------------------------------------------- categories

def category_named(dbs: Session, course: Course, name: str) -> QuestionCategory:
    """The course's category of that name, created when missing."""
    name = clean(name) or DEFAULT_CATEGORY
    if len(name) > 255:
        raise DomainError(_("A category name must be at most %(n)d characters.", n=255))
    category = dbs.scalar(select(QuestionCategory).where(
        QuestionCategory.course_id == course.id, QuestionCategory.name == name))
    if category is None:
        category = QuestionCategory(course_id=course.id, name=name)
        dbs.add(category)
        dbs.flush()
    return category


def categories_of(dbs: Session, course_id: int) -> list[tuple[QuestionCategory, int]]:
    """Categories with how many live questions each holds, in name order."""
    live = func.count(Question.id).filter(Question.is_archived.is_(False))
    rows = dbs.execute(
        select(QuestionCategory, live)
        .outerjoin(Question, Question.category_id == QuestionCategory.id)
        .where(QuestionCategory.course_id == course_id)
        .group_by(QuestionCategory.id).order_by(QuestionCategory.name)).all()
    return [(category, count) for category, count in rows]


# ---------------------------------------------------------------- questions

def spec_of(version: QuestionVersion) -> QuestionSpec:
    return spec_from_dict(version.spec)


def current_version(dbs: Session, question: Question) -> QuestionVersion:
    return dbs.scalar(select(QuestionVersion).where(
        QuestionVersion.question_id == question.id,
        QuestionVersion.number == question.current_version))


def _unique_name(dbs: Session, course_id: int, wanted: str) -> str:
    base = wanted or "cau-hoi"
    taken = set(dbs.scalars(select(Question.name).where(
        Question.course_id == course_id, Question.name.startswith(base))))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def save_question(dbs: Session, course: Course, spec: QuestionSpec, actor: Any = None,
                  question: Question | None = None) -> Question:
    """Create a question, or give an existing one a new version (when the content changed).

    The spec's ``category`` names the category; its ``name`` the question (a name is made
    from the text when empty). Raises :class:`DomainError` for a spec a learner could not answer.
    """
    try:
        check_spec(spec)
    except SpecError as error:
        raise DomainError(str(error)) from None
    data = spec_to_dict(spec)
    category = category_named(dbs, course, spec.category)
    if question is None:
        name = spec.name or _unique_name(dbs, course.id, _name_base(spec.stem))
        if not NAME_RE.match(name):
            raise DomainError(_("A question's name may use a–z, 0–9 and hyphens (at most 120)."))
        if dbs.scalar(select(Question.id).where(Question.course_id == course.id, Question.name == name)):
            raise DomainError(_("A question named %(name)s already exists in this course.", name=name))
        question = Question(course_id=course.id, category_id=category.id, name=name,
                            type=spec.type.value if hasattr(spec.type, "value") else spec.type,
                            current_version=1)
        dbs.add(question)
        dbs.flush()
        _add_version(dbs, question, 1, data, spec, actor)
        record(dbs, actor, "question.create", question, label=name, course_id=course.id)
        return question
    latest = current_version(dbs, question)
    question.category_id = category.id
    data["name"] = question.name
    if latest is not None and latest.spec == data:
        dbs.flush()
        return question
    question.current_version += 1
    question.type = data["type"]
    _add_version(dbs, question, question.current_version, data, spec, actor)
    record(dbs, actor, "question.edit", question, label=question.name,
           version=question.current_version)
    return question


def _add_version(dbs: Session, question: Question, number: int, data: dict, spec: QuestionSpec,
                 actor: Any) -> None:
    data = dict(data, name=question.name)
    dbs.add(QuestionVersion(question_id=question.id, number=number, spec=data,
                            points=float(spec.points), created_by_id=getattr(actor, "id", None)))
    dbs.flush()


def set_archived(dbs: Session, question: Question, archived: bool, actor: Any = None) -> None:
    """Archived questions are no longer drawn; attempts that showed them keep them."""
    question.is_archived = archived
    record(dbs, actor, "question.archive" if archived else "question.restore", question,
           label=question.name)
    dbs.flush()


def bank_specs(dbs: Session, course_id: int, include_archived: bool = False) -> list[QuestionSpec]:
    """Every question's current spec (for exports), in category and name order."""
    query = (select(QuestionVersion.spec)
             .join(Question, (Question.id == QuestionVersion.question_id)
                   & (QuestionVersion.number == Question.current_version))
             .join(QuestionCategory, QuestionCategory.id == Question.category_id)
             .where(Question.course_id == course_id)
             .order_by(QuestionCategory.name, Question.name))
    if not include_archived:
        query = query.where(Question.is_archived.is_(False))
    rows = dbs.execute(query.add_columns(QuestionCategory.name)).all()
    return [spec_from_dict(dict(spec, category=category)) for spec, category in rows]


# ---------------------------------------------------------------- GIFT

@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[GiftProblem] = field(default_factory=list)


class GiftImportError(DomainError):
    def __init__(self, problems: list[GiftProblem]):
        super().__init__(_("The file was not imported: %(n)d problem(s) found.", n=len(problems)))
        self.problems = problems


def import_gift(dbs: Session, course: Course, data: bytes | str, actor: Any = None,
                default_category: str = "") -> ImportReport:
    """Read a GIFT file into the course's bank, all or nothing.

    Questions with a ``::name::`` that matches an existing question become its new version;
    others are added. Any unsupported construct or unusable question refuses the whole file.
    """
    result = parse_gift(data)
    problems = list(result.problems)
    specs: list[QuestionSpec] = []
    seen: set[str] = set()
    for spec in result.questions:
        line = spec.extra.get("line", 0) if isinstance(spec.extra, dict) else 0
        try:
            check_spec(spec)
        except SpecError as error:
            problems.append(GiftProblem(line, f"{spec.name or spec.stem[:40]}: {error}"))
            continue
        name = _gift_name(spec.name)
        if name and name in seen:
            problems.append(GiftProblem(line, _(
                "Two questions in the file are named %(name)s.", name=spec.name)))
            continue
        seen.add(name)
        specs.append(spec)
    fatal = [p for p in problems if not p.harmless]
    if fatal:
        raise GiftImportError(sorted(fatal, key=lambda p: p.line))
    if not specs:
        raise GiftImportError([GiftProblem(0, _("The file holds no questions."))])
    report = _store_specs(dbs, course, specs, actor, default_category)
    report.problems = [p for p in problems if p.harmless]
    return report


def _store_specs(dbs: Session, course: Course, specs: list[QuestionSpec], actor: Any,
                 default_category: str = "") -> ImportReport:
    report = ImportReport()
    for spec in specs:
        name = _gift_name(spec.name)
        if not spec.category and default_category:
            spec = _with(spec, category=default_category)
        existing = dbs.scalar(select(Question).where(
            Question.course_id == course.id, Question.name == name)) if name else None
        if existing is None:
            save_question(dbs, course, _with(spec, name=name), actor)
            report.created += 1
            continue
        before = existing.current_version
        save_question(dbs, course, spec, actor, question=existing)
        if existing.current_version == before:
            report.unchanged += 1
        else:
            report.updated += 1
    return report


def _gift_name(title: str) -> str:
    """A GIFT ``::title::`` as a question name ("Q1 Mật khẩu" -> "q1-mat-khau")."""
    return _name_base(title)[:120] if title else ""


def _with(spec: QuestionSpec, **changes: Any) -> QuestionSpec:
    return replace(spec, **changes)


def export_gift(dbs: Session, course: Course) -> str:
    return write_gift(bank_specs(dbs, course.id))


# ---------------------------------------------------------------- quizzes

@dataclass
class QuizData:
    title: str
    key: str = ""
    description: str = ""
    pass_mark: int = 80
    attempts_allowed: int = 0
    time_limit_minutes: int | None = None
    shuffle_questions: bool = True
    shuffle_choices: bool = True
    grading: str = Grading.HIGHEST.value
    review: str = ReviewMode.FEEDBACK.value
    layout: str = Layout.PER_PAGE.value
    is_required: bool = True


def _check_quiz(dbs: Session, course: Course, data: QuizData, quiz: Quiz | None) -> QuizData:
    title = clean(data.title)
    if not title:
        raise DomainError(_("A quiz needs a title."), field="title")
    if len(title) > 255:
        raise DomainError(_("The title must be at most %(n)d characters.", n=255), field="title")
    key = (data.key or (quiz.key if quiz else "") or _name_base(title)).strip().lower()[:80]
    if not KEY_RE.match(key):
        raise DomainError(_("The short name may use a–z, 0–9 and hyphens (3 to 80 characters)."),
                          field="key")
    clash = dbs.scalar(select(Quiz.id).where(Quiz.course_id == course.id, Quiz.key == key))
    if clash and (quiz is None or clash != quiz.id):
        raise DomainError(_("Another quiz of this course uses that short name."), field="key")
    if not 0 <= data.pass_mark <= 100:
        raise DomainError(_("The pass mark is a percentage from 0 to 100."), field="pass_mark")
    if not 0 <= data.attempts_allowed <= 100:
        raise DomainError(_("Attempts allowed: 0 (unlimited) to 100."), field="attempts_allowed")
    if data.time_limit_minutes is not None and not 1 <= data.time_limit_minutes <= 600:
        raise DomainError(_("The time limit is 1 to 600 minutes, or empty for none."),
                          field="time_limit_minutes")
    if data.grading not in {g.value for g in Grading}:
        raise DomainError(_("Unknown grading method."), field="grading")
    if data.review not in {r.value for r in ReviewMode}:
        raise DomainError(_("Unknown review setting."), field="review")
    if data.layout not in {v.value for v in Layout}:
        raise DomainError(_("Unknown layout."), field="layout")
    return QuizData(title=title, key=key, description=(data.description or "").strip(),
                    pass_mark=data.pass_mark, attempts_allowed=data.attempts_allowed,
                    time_limit_minutes=data.time_limit_minutes,
                    shuffle_questions=bool(data.shuffle_questions),
                    shuffle_choices=bool(data.shuffle_choices), grading=data.grading,
                    review=data.review, layout=data.layout, is_required=bool(data.is_required))


def save_quiz(dbs: Session, course: Course, data: QuizData, actor: Any = None,
              quiz: Quiz | None = None) -> Quiz:
    """Create or change a quiz's settings. Changing whether it is required updates progress."""
    data = _check_quiz(dbs, course, data, quiz)
    was_required = quiz.is_required if quiz else False
    old_grading = quiz.grading if quiz else data.grading
    if quiz is None:
        position = dbs.scalar(select(func.coalesce(func.max(Quiz.position), 0))
                              .where(Quiz.course_id == course.id)) + 1
        quiz = Quiz(course_id=course.id, position=position)
        dbs.add(quiz)
    for name, value in vars(data).items():
        setattr(quiz, name, value)
    dbs.flush()
    record(dbs, actor, "quiz.save", quiz, label=quiz.title, course_id=course.id)
    if was_required != quiz.is_required:
        _recompute(dbs, course)
    if old_grading != quiz.grading:
        refresh_course_quiz_scores(dbs, course.id)
    return quiz


def set_quiz_archived(dbs: Session, quiz: Quiz, archived: bool, actor: Any = None) -> None:
    quiz.is_archived = archived
    record(dbs, actor, "quiz.archive" if archived else "quiz.restore", quiz, label=quiz.title)
    dbs.flush()
    refresh_course_quiz_scores(dbs, quiz.course_id)
    _recompute(dbs, dbs.get(Course, quiz.course_id))


def refresh_course_quiz_scores(dbs: Session, course_id: int) -> None:
    from lms.quizzes.attempts import refresh_course_quiz_scores as refresh
    refresh(dbs, course_id)


def _recompute(dbs: Session, course: Course) -> None:
    from lms.courses.services import recompute_course
    recompute_course(dbs, course)


def add_slot(dbs: Session, quiz: Quiz, *, question: Question | None = None,
             category: QuestionCategory | None = None, draw_count: int = 1) -> QuizSlot:
    if (question is None) == (category is None):
        raise DomainError(_("Choose a question, or a category to draw from."))
    for item in (question, category):
        if item is not None and item.course_id != quiz.course_id:
            raise DomainError(_("That question bank belongs to another course."))
    if category is not None and not 1 <= draw_count <= 200:
        raise DomainError(_("Draw 1 to 200 questions."))
    if question is not None and any(s.question_id == question.id for s in quiz.slots):
        raise DomainError(_("This question is already in the quiz."))
    position = dbs.scalar(select(func.coalesce(func.max(QuizSlot.position), 0))
                          .where(QuizSlot.quiz_id == quiz.id)) + 1
    slot = QuizSlot(quiz_id=quiz.id, position=position, draw_count=draw_count if category else 1,
                    question_id=question.id if question else None,
                    category_id=category.id if category else None)
    dbs.add(slot)
    dbs.flush()
    dbs.refresh(quiz)
    return slot


def remove_slot(dbs: Session, slot: QuizSlot) -> None:
    quiz = slot.quiz
    dbs.delete(slot)
    dbs.flush()
    dbs.refresh(quiz)


def move_slot(dbs: Session, slot: QuizSlot, offset: int) -> None:
    slots = list(slot.quiz.slots)
    index = slots.index(slot)
    target = max(0, min(len(slots) - 1, index + offset))
    slots.insert(target, slots.pop(index))
    for position, item in enumerate(slots, start=1):
        item.position = position
    dbs.flush()


def quiz_problems(dbs: Session, quiz: Quiz) -> list[str]:
    """What would stop a learner from starting this quiz (shown to trainers)."""
    problems = []
    if not quiz.slots:
        problems.append(_("The quiz has no questions yet."))
    live = dict(dbs.execute(
        select(Question.category_id, func.count(Question.id))
        .where(Question.course_id == quiz.course_id, Question.is_archived.is_(False))
        .group_by(Question.category_id)).all())
    wanted: dict[int, int] = {}
    fixed_per_category: dict[int, int] = {}
    for slot in quiz.slots:
        if slot.category_id:
            wanted[slot.category_id] = wanted.get(slot.category_id, 0) + slot.draw_count
        elif slot.question is not None:
            if slot.question.is_archived:
                problems.append(_("Question %(name)s is archived.", name=slot.question.name))
            else:  # a fixed question is not drawn again from its category
                category_id = slot.question.category_id
                fixed_per_category[category_id] = fixed_per_category.get(category_id, 0) + 1
    names = dict(dbs.execute(select(QuestionCategory.id, QuestionCategory.name)
                             .where(QuestionCategory.id.in_(wanted))).all()) if wanted else {}
    for category_id, count in wanted.items():
        available = live.get(category_id, 0) - fixed_per_category.get(category_id, 0)
        if available < count:
            problems.append(_("Category %(name)s has %(have)d question(s) to draw from, the quiz "
                              "draws %(want)d.", name=names.get(category_id, ""), have=available,
                              want=count))
    return problems


def question_count(quiz: Quiz) -> int:
    return sum(slot.draw_count if slot.category_id else 1 for slot in quiz.slots)


def spec_from_form(data: dict[str, Any]) -> QuestionSpec:
    """A spec from the trainer's question form (the same dict shape as packages)."""
    try:
        return spec_from_dict(data)
    except SpecError as error:
        raise DomainError(str(error)) from None
