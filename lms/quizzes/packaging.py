"""quizzes.yaml: a course package's question bank and quizzes (docs/course-package.md).

The course package code (lms.courses.packages) calls in here: :func:`read_quizzes` checks
the file whole and writes nothing; :func:`import_quizzes` brings the course's bank and
quizzes to what the file says, inside the package import's transaction; :func:`quiz_file`
writes the file for an export. Questions are matched by ``name`` and quizzes by ``key``;
what the file no longer holds is archived, never deleted, because attempts point at it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import yaml
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms.courses.models import Course
from lms.courses.packages.content import PackageError
from lms.courses.packages.manifest import Fields, FlowMap, dump_yaml, load_yaml, show_value
from lms.courses.packages.sources import FolderSource, ZipSource
from lms.quizzes import bank
from lms.quizzes.models import Grading, Layout, Question, QuestionCategory, Quiz, ReviewMode
from lms.quizzes.spec import QuestionSpec, QuestionType
from lms.quizzes.specio import SpecError, spec_from_dict, spec_to_dict
from lms.text import clean

QUIZ_FILE = "quizzes.yaml"
QUIZ_FORMAT = 1
MAX_QUIZ_BYTES = 2 * 1024 * 1024
MAX_DESCRIPTION = 10000
MAX_DRAW = 200
TOP_FIELDS = ("format", "questions", "quizzes")
QUIZ_FIELDS = ("key", "title", "description", "pass_mark", "attempts", "time_limit_minutes",
               "shuffle_questions", "shuffle_choices", "grading", "review", "required", "layout",
               "slots")
SLOT_FIELDS = ("question", "category", "draw")
GRADINGS = tuple(g.value for g in Grading)
REVIEWS = tuple(r.value for r in ReviewMode)
LAYOUTS = tuple(v.value for v in Layout)
STEM_FORMATS = ("plain", "markdown", "html", "moodle")

_COMMON = ("type", "name", "category", "points", "stem", "stem_format", "general_feedback")
#: The fields each type of question takes (the specio dict shape, per type).
TYPE_FIELDS = {
    QuestionType.SINGLE: ("choices",),
    QuestionType.MULTIPLE: ("choices",),
    QuestionType.TRUE_FALSE: ("correct", "feedback_true", "feedback_false"),
    QuestionType.SHORT_ANSWER: ("choices", "accent_insensitive", "case_sensitive"),
    QuestionType.NUMERIC: ("numeric",),
    QuestionType.MATCHING: ("pairs",),
    QuestionType.ORDERING: ("order",),
}
_ENTRY_FIELDS = {"choices": ("text", "fraction", "feedback"),
                 "numeric": ("value", "tolerance", "fraction", "feedback", "any"),
                 "pairs": ("left", "right")}
_FLAGS = ("correct", "accent_insensitive", "case_sensitive")


# ---------------------------------------------------------------- what the file holds

@dataclass(frozen=True)
class PackageSlot:
    """One fixed question (``question``: its name), or ``draw`` questions at random from
    ``category``."""

    question: str = ""
    category: str = ""
    draw: int = 1


@dataclass(frozen=True)
class PackageQuiz:
    key: str
    title: str
    description: str = ""
    pass_mark: int = 80
    attempts: int = 0                    # 0: unlimited
    time_limit_minutes: int | None = None
    shuffle_questions: bool = True
    shuffle_choices: bool = True
    grading: str = Grading.HIGHEST.value
    review: str = ReviewMode.FEEDBACK.value
    required: bool = True
    layout: str = Layout.PER_PAGE.value
    slots: tuple[PackageSlot, ...] = ()

    @property
    def question_count(self) -> int:
        return sum(1 if slot.question else slot.draw for slot in self.slots)

    def data(self) -> bank.QuizData:
        return bank.QuizData(
            title=self.title, key=self.key, description=self.description,
            pass_mark=self.pass_mark, attempts_allowed=self.attempts,
            time_limit_minutes=self.time_limit_minutes, shuffle_questions=self.shuffle_questions,
            shuffle_choices=self.shuffle_choices, grading=self.grading, review=self.review,
            layout=self.layout, is_required=self.required)


@dataclass(frozen=True)
class QuizBank:
    questions: tuple[QuestionSpec, ...] = ()
    quizzes: tuple[PackageQuiz, ...] = ()


# ---------------------------------------------------------------- reading

def read_quizzes(source: FolderSource | ZipSource) -> QuizBank | None:
    """The package's quizzes.yaml, checked whole; ``None`` when the package has none.

    Raises :class:`PackageError` naming the first problem (the question or quiz and the field).
    """
    data = load_yaml(source, QUIZ_FILE, MAX_QUIZ_BYTES)
    if data is None and source.size(QUIZ_FILE) is None:
        return None
    return check_quizzes(data)


def check_quizzes(data: Any) -> QuizBank:
    """Check the parsed content of quizzes.yaml (see :func:`read_quizzes`)."""
    if not isinstance(data, dict):
        raise PackageError(_("quizzes.yaml must be a set of fields (format, questions, quizzes)."))
    top = Fields(data, QUIZ_FILE, TOP_FIELDS)
    version = data.get("format")
    if version != QUIZ_FORMAT or isinstance(version, bool):
        if version is None:
            raise PackageError(_("quizzes.yaml: the field format is missing (write format: 1)."))
        raise PackageError(_("quizzes.yaml: format %(value)s is not known here; this server reads "
                             "format 1.", value=show_value(version)))
    questions: list[QuestionSpec] = []
    names: set[str] = set()
    for number, raw in enumerate(top.items("questions", required=False), start=1):
        spec = _read_question(raw, number)
        if spec.name in names:
            raise PackageError(_("quizzes.yaml: two questions are named %(name)s; each question "
                                 "needs its own name.", name=spec.name))
        names.add(spec.name)
        questions.append(spec)
    by_name = {spec.name: spec for spec in questions}
    quizzes: list[PackageQuiz] = []
    keys: set[str] = set()
    for number, raw in enumerate(top.items("quizzes", required=False), start=1):
        quiz = _read_quiz(raw, number, by_name)
        if quiz.key in keys:
            raise PackageError(_("quizzes.yaml: two quizzes have the key %(key)s; each quiz needs "
                                 "its own key.", key=quiz.key))
        keys.add(quiz.key)
        quizzes.append(quiz)
    return QuizBank(questions=tuple(questions), quizzes=tuple(quizzes))


def _read_question(raw: Any, number: int) -> QuestionSpec:
    where = _("quizzes.yaml, question %(number)d", number=number)
    if not isinstance(raw, dict):
        raise PackageError(_("%(where)s must be a set of fields (name: value), not %(value)s.",
                             where=where, value=show_value(raw)))
    name = raw.get("name")
    if isinstance(name, str) and bank.NAME_RE.match(name):
        where = _("quizzes.yaml, question %(name)s", name=name)
    for field in ("name", "category", "type", "stem"):
        if raw.get(field) is None:
            raise PackageError(_("%(where)s: the field %(field)s is missing.", where=where,
                                 field=field))
    if not isinstance(name, str) or not bank.NAME_RE.match(name):
        raise PackageError(_("%(where)s: name %(value)s may use only a–z, 0–9 and hyphens (at "
                             "most 120 characters).", where=where, value=show_value(name)))
    category = raw["category"]
    if not isinstance(category, str) or not clean(category):
        raise PackageError(_("%(where)s: category must be text (the category's name), not "
                             "%(value)s.", where=where, value=show_value(category)))
    if len(clean(category)) > 255:
        raise PackageError(_("%(where)s: %(field)s is longer than %(limit)d characters.",
                             where=where, field="category", limit=255))
    try:
        kind = QuestionType(raw["type"])
    except (ValueError, TypeError):
        raise PackageError(_("%(where)s: type must be one of %(choices)s, not %(value)s.",
                             where=where, choices=", ".join(t.value for t in QuestionType),
                             value=show_value(raw["type"]))) from None
    allowed = _COMMON + TYPE_FIELDS[kind]
    for field in sorted(map(str, raw)):
        if field not in allowed and field in {f for fields in TYPE_FIELDS.values() for f in fields}:
            raise PackageError(_("%(where)s: the field %(field)s does not belong to a %(type)s "
                                 "question.", where=where, field=field, type=kind.value))
    for field in _FLAGS:
        if field in raw and not isinstance(raw[field], bool):
            raise PackageError(_("%(where)s: %(field)s must be %(expected)s, not %(value)s.",
                                 where=where, field=field, expected=_("true or false"),
                                 value=show_value(raw[field])))
    if raw.get("stem_format") is not None and raw["stem_format"] not in STEM_FORMATS:
        raise PackageError(_("%(where)s: %(field)s must be one of %(choices)s, not %(value)s.",
                             where=where, field="stem_format", choices=", ".join(STEM_FORMATS),
                             value=show_value(raw["stem_format"])))
    for field, known in _ENTRY_FIELDS.items():
        entries = raw.get(field)
        for place, entry in enumerate(entries if isinstance(entries, list) else [], start=1):
            unknown = sorted(str(k) for k in entry if k not in known) if isinstance(entry, dict) else []
            if unknown:
                raise PackageError(_("%(where)s: %(field)s entry %(number)d has an unknown field "
                                     "%(name)s.", where=where, field=field, number=place,
                                     name=unknown[0]))
    try:
        return spec_from_dict(raw)
    except SpecError as error:
        raise PackageError(_("%(where)s: %(problem)s", where=where, problem=str(error))) from None


def _read_quiz(raw: Any, number: int, questions: dict[str, QuestionSpec]) -> PackageQuiz:
    where = _("quizzes.yaml, quiz %(number)d", number=number)
    given = raw.get("key") if isinstance(raw, dict) else None
    if isinstance(given, str) and bank.KEY_RE.match(given):
        where = _("quizzes.yaml, quiz %(key)s", key=given)
    fields = Fields(raw, where, QUIZ_FIELDS)
    key = fields.text("key", max_length=80)
    if not bank.KEY_RE.match(key):
        raise PackageError(_("%(where)s: key %(value)s may use only a–z, 0–9 and hyphens (3 to 80 "
                             "characters).", where=where, value=show_value(key)))
    title = fields.text("title")
    if not clean(title):
        raise PackageError(_("%(where)s: title is empty.", where=where))
    slots = []
    fixed: set[str] = set()
    for place, raw_slot in enumerate(fields.items("slots"), start=1):
        slot = _read_slot(raw_slot, _("%(where)s, slot %(number)d", where=where, number=place),
                          questions)
        if slot.question in fixed:
            raise PackageError(_("%(where)s: the question %(name)s is in the quiz twice.",
                                 where=where, name=slot.question))
        if slot.question:
            fixed.add(slot.question)
        slots.append(slot)
    wanted: dict[str, int] = {}
    for slot in slots:
        if slot.category:
            wanted[slot.category] = wanted.get(slot.category, 0) + slot.draw
    for category, count in wanted.items():
        have = sum(1 for spec in questions.values()
                   if spec.category == category and spec.name not in fixed)
        if have < count:
            raise PackageError(_("%(where)s: the category %(name)s has %(have)d question(s) to draw "
                                 "from (not counting the quiz's fixed questions), the quiz draws "
                                 "%(want)d.", where=where, name=category, have=have, want=count))
    return PackageQuiz(
        key=key, title=clean(title),
        description=fields.text("description", required=False, max_length=MAX_DESCRIPTION).strip(),
        pass_mark=_given(fields.whole("pass_mark", 0, 100, required=False), 80),
        attempts=_given(fields.whole("attempts", 0, 100, required=False), 0),
        time_limit_minutes=fields.whole("time_limit_minutes", 1, 600, required=False),
        shuffle_questions=fields.flag("shuffle_questions", default=True),
        shuffle_choices=fields.flag("shuffle_choices", default=True),
        grading=fields.choice("grading", GRADINGS, required=False, default=Grading.HIGHEST.value),
        review=fields.choice("review", REVIEWS, required=False, default=ReviewMode.FEEDBACK.value),
        required=fields.flag("required", default=True),
        layout=fields.choice("layout", LAYOUTS, required=False, default=Layout.PER_PAGE.value),
        slots=tuple(slots))


def _read_slot(raw: Any, where: str, questions: dict[str, QuestionSpec]) -> PackageSlot:
    fields = Fields(raw, where, SLOT_FIELDS)
    name = fields.text("question", required=False, max_length=120)
    category = clean(fields.text("category", required=False))
    if bool(name) == bool(category):
        raise PackageError(_("%(where)s: give either question (a question's name) or category "
                             "(a category to draw from), not both.", where=where) if name else
                           _("%(where)s: give question (a question's name) or category (a "
                             "category to draw from).", where=where))
    if name:
        if "draw" in raw:
            raise PackageError(_("%(where)s: draw is only for a category; a question slot holds "
                                 "that one question.", where=where))
        if name not in questions:
            raise PackageError(_("%(where)s: there is no question named %(name)s in quizzes.yaml.",
                                 where=where, name=show_value(name)))
        return PackageSlot(question=name)
    if not any(spec.category == category for spec in questions.values()):
        raise PackageError(_("%(where)s: no question of quizzes.yaml is in the category "
                             "%(name)s.", where=where, name=show_value(category)))
    return PackageSlot(category=category,
                       draw=_given(fields.whole("draw", 1, MAX_DRAW, required=False), 1))


def _given(value: int | None, default: int) -> int:
    return default if value is None else value


# ---------------------------------------------------------------- importing

def import_quizzes(dbs: Session, actor: Any, course: Course, questions: tuple[QuestionSpec, ...],
                   quizzes: tuple[PackageQuiz, ...], result: Any) -> None:
    """Bring the course's bank and quizzes to the package's (checked by :func:`read_quizzes`).

    Questions are matched by name: new ones are created, changed ones get a new version,
    unchanged ones are left alone, and those no longer in the package are archived
    (archived ones that are back are restored). Quizzes are matched by key: settings
    updated, slots replaced when they differ, order taken from the file, and quizzes no
    longer in the package archived. Counts go on ``result`` (an ImportResult). Runs in the
    caller's transaction; writes nothing (and records nothing) for an unchanged file.
    """
    existing = {q.name: q for q in dbs.scalars(
        select(Question).where(Question.course_id == course.id).order_by(Question.id))}
    for spec in questions:
        question = existing.get(spec.name)
        if question is None:
            existing[spec.name] = bank.save_question(dbs, course, spec, actor)
            result.questions_added += 1
            continue
        before = question.current_version
        bank.save_question(dbs, course, spec, actor, question=question)
        changed = question.current_version != before
        if question.is_archived:
            bank.set_archived(dbs, question, False, actor)
            changed = True
        if changed:
            result.questions_updated += 1
        else:
            result.questions_unchanged += 1
    wanted = {spec.name for spec in questions}
    for name, question in existing.items():
        if name not in wanted and not question.is_archived:
            bank.set_archived(dbs, question, True, actor)
            result.questions_archived += 1

    categories = {c.name: c for c in dbs.scalars(
        select(QuestionCategory).where(QuestionCategory.course_id == course.id))}
    current = {q.key: q for q in dbs.scalars(
        select(Quiz).where(Quiz.course_id == course.id).order_by(Quiz.position, Quiz.id))}
    for position, item in enumerate(quizzes, start=1):
        quiz = current.get(item.key)
        if quiz is None:
            quiz = bank.save_quiz(dbs, course, item.data(), actor)
            _replace_slots(dbs, quiz, item, existing, categories)
            quiz.position = position
            result.quizzes_added += 1
            continue
        changed = _settings(quiz) != _settings(item.data())
        if changed:
            bank.save_quiz(dbs, course, item.data(), actor, quiz=quiz)
        if quiz.is_archived:
            bank.set_quiz_archived(dbs, quiz, False, actor)
            changed = True
        changed = _replace_slots(dbs, quiz, item, existing, categories) or changed
        if quiz.position != position:
            quiz.position = position
            changed = True
        if changed:
            result.quizzes_updated += 1
        else:
            result.quizzes_unchanged += 1
    keys = {item.key for item in quizzes}
    rest = [quiz for key, quiz in current.items() if key not in keys]
    for position, quiz in enumerate(rest, start=len(quizzes) + 1):
        if not quiz.is_archived:
            bank.set_quiz_archived(dbs, quiz, True, actor)
            result.quizzes_archived += 1
        quiz.position = position
    dbs.flush()


def _replace_slots(dbs: Session, quiz: Quiz, item: PackageQuiz, questions: dict[str, Question],
                   categories: dict[str, QuestionCategory]) -> bool:
    """Give the quiz the package's slots; False when it has them already."""
    wanted = [(questions[s.question], None, 1) if s.question else (None, categories[s.category], s.draw)
              for s in item.slots]
    has = [(s.question_id, s.category_id, s.draw_count if s.category_id else 1) for s in quiz.slots]
    if has == [(q.id if q else None, c.id if c else None, n) for q, c, n in wanted]:
        return False
    for slot in list(quiz.slots):
        bank.remove_slot(dbs, slot)
    for question, category, draw in wanted:
        bank.add_slot(dbs, quiz, question=question, category=category, draw_count=draw)
    return True


def _settings(quiz: Quiz | bank.QuizData) -> tuple:
    description = (quiz.description or "").replace("\r\n", "\n").strip()
    return (clean(quiz.title), description, quiz.pass_mark, quiz.attempts_allowed,
            quiz.time_limit_minutes, bool(quiz.shuffle_questions), bool(quiz.shuffle_choices),
            quiz.grading, quiz.review, quiz.layout, bool(quiz.is_required))


# ---------------------------------------------------------------- exporting

def quiz_file(dbs: Session, course: Course) -> str | None:
    """The course's live questions and quizzes as quizzes.yaml text; ``None`` when it has
    neither. Raises :class:`PackageError` when a quiz could not be imported again (it uses
    an archived question, or draws more questions than its category holds)."""
    specs = bank.bank_specs(dbs, course.id)
    quizzes = list(dbs.scalars(select(Quiz).where(
        Quiz.course_id == course.id, Quiz.is_archived.is_(False)).order_by(Quiz.position, Quiz.id)))
    if not specs and not quizzes:
        return None
    listed = []
    for quiz in quizzes:
        slots = []
        for slot in quiz.slots:
            if slot.question_id is not None:
                if slot.question.is_archived:
                    raise PackageError(_(
                        "The quiz %(quiz)s uses the archived question %(name)s: restore the "
                        "question or take it out of the quiz before exporting.",
                        quiz=quiz.title, name=slot.question.name))
                slots.append(FlowMap(question=slot.question.name))
            else:
                slots.append(FlowMap(category=slot.category.name, draw=slot.draw_count))
        entry: dict[str, Any] = {"key": quiz.key, "title": quiz.title}
        if quiz.description:
            entry["description"] = quiz.description.replace("\r\n", "\n").strip()
        entry.update(pass_mark=quiz.pass_mark, attempts=quiz.attempts_allowed)
        if quiz.time_limit_minutes is not None:
            entry["time_limit_minutes"] = quiz.time_limit_minutes
        entry.update(shuffle_questions=quiz.shuffle_questions, shuffle_choices=quiz.shuffle_choices,
                     grading=quiz.grading, review=quiz.review, required=quiz.is_required,
                     layout=quiz.layout, slots=slots)
        listed.append(entry)
    data = {"format": QUIZ_FORMAT, "questions": [_question_entry(spec) for spec in specs],
            "quizzes": listed}
    text = dump_yaml(data, "Questions and quizzes of the course: see docs/course-package.md")
    try:  # what is exported must import again
        check_quizzes(yaml.safe_load(text))
    except PackageError as error:
        raise PackageError(_("The course's quizzes cannot be exported as they are: %(reason)s",
                             reason=error.message)) from None
    return text


_ORDER = ("name", "category", "type", "points", "stem", "stem_format", "general_feedback")


def _question_entry(spec: QuestionSpec) -> dict[str, Any]:
    data = spec_to_dict(spec)
    entry = {field: data.pop(field) for field in _ORDER if field in data}
    entry.update(data)
    return _plain_numbers(entry)


def _plain_numbers(value: Any) -> Any:
    """1.0 written as 1 (the file reads better; the spec is the same)."""
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value
