"""Forms of the trainers' quiz pages: questions, GIFT import, quiz settings and slots,
attempt filters, and remediation.

The question form has rows (choices, numeric answers, pairs, items to order); empty rows
are ignored. :meth:`QuestionForm.spec_data` turns it into the dict shape of
:mod:`lms.quizzes.specio`, which the bank checks: the form itself checks little, so every
message about a question comes from one place.
"""
from __future__ import annotations

import math
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from lms.courses.forms import InRange, WholeNumberField
from lms.errors import DomainError
from lms.forms import choices as select_choices
from lms.quizzes.models import Grading, GrantKind, Layout, ReviewMode
from lms.quizzes.spec import QuestionSpec, QuestionType

QUESTION_TYPE_LABELS = {
    QuestionType.SINGLE.value: _l("Single choice"),
    QuestionType.MULTIPLE.value: _l("Multiple choice"),
    QuestionType.TRUE_FALSE.value: _l("True/false"),
    QuestionType.SHORT_ANSWER.value: _l("Short answer"),
    QuestionType.NUMERIC.value: _l("Numeric"),
    QuestionType.MATCHING.value: _l("Matching"),
    QuestionType.ORDERING.value: _l("Ordering"),
}
QUESTION_TYPE_HINTS = {
    QuestionType.SINGLE.value: _l("One right choice among several."),
    QuestionType.MULTIPLE.value: _l("Several right choices with partial credit; wrong picks "
                                    "can take credit away (never below 0)."),
    QuestionType.TRUE_FALSE.value: _l("A statement the learner marks true or false."),
    QuestionType.SHORT_ANSWER.value: _l("The learner types a word or phrase, compared with "
                                        "the accepted answers."),
    QuestionType.NUMERIC.value: _l("The learner types a number; a tolerance is allowed."),
    QuestionType.MATCHING.value: _l("Match each item on the left with an answer on the right."),
    QuestionType.ORDERING.value: _l("Put the items in the right order."),
}
GRADING_LABELS = {
    Grading.HIGHEST.value: _l("The highest attempt counts"),
    Grading.LAST.value: _l("The last attempt counts"),
}
REVIEW_LABELS = {
    ReviewMode.SCORE.value: _l("The score only"),
    ReviewMode.ANSWERS.value: _l("The score and which answers were right"),
    ReviewMode.FEEDBACK.value: _l("Everything: right answers and feedback"),
}
LAYOUT_LABELS = {
    Layout.PER_PAGE.value: _l("One question per page"),
    Layout.ONE_PAGE.value: _l("All questions on one page"),
}
GRANT_KIND_LABELS = {
    GrantKind.EXTRA_ATTEMPTS.value: _l("Extra attempts"),
    GrantKind.RESET.value: _l("Reset"),
    GrantKind.EXTRA_TIME.value: _l("Extra time (minutes)"),
}
ANSWER_STATE_LABELS = {
    "correct": _l("Right"),
    "partial": _l("Partly right"),
    "wrong": _l("Wrong"),
    "unanswered": _l("Not answered"),
}

CHOICE_ROWS = 6
NUMERIC_ROWS = 3
PAIR_ROWS = 6
ORDER_ROWS = 6
SPARE_ROWS = 2
SHORT = 1000
LONG = 20_000


def _coerce_optional_id(value):
    if value in (None, "", "None"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _at_most(n: int) -> Length:
    return Length(max=n, message=_l("At most %(max)d characters."))


# ---------------------------------------------------------------- question rows

class ChoiceRow(Form):
    text = StringField(_l("Text"), validators=[Optional(), _at_most(SHORT)])
    credit = StringField(_l("Credit (%)"), validators=[Optional(), _at_most(20)])
    feedback = StringField(_l("Feedback"), validators=[Optional(), _at_most(SHORT)])


class NumericRow(Form):
    value = StringField(_l("Value"), validators=[Optional(), _at_most(40)])
    tolerance = StringField(_l("Tolerance (±)"), validators=[Optional(), _at_most(40)])
    credit = StringField(_l("Credit (%)"), validators=[Optional(), _at_most(20)])
    feedback = StringField(_l("Feedback"), validators=[Optional(), _at_most(SHORT)])


class PairRow(Form):
    left = StringField(_l("Item"), validators=[Optional(), _at_most(SHORT)])
    right = StringField(_l("Its answer"), validators=[Optional(), _at_most(SHORT)])


def _percent(text: str | None, default: float) -> float:
    """ "50" or "33,3" (percent) as a fraction; empty gives ``default``."""
    text = (text or "").strip().rstrip("%").strip()
    if not text:
        return default
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise DomainError(_("Credit is a percentage, e.g. 100, 50 or -25 (found “%(text)s”).",
                             text=text))
    return number / 100


def _percent_text(fraction: float) -> str:
    return f"{fraction * 100:.10g}"


def _number_text(value: float) -> str:
    return f"{value:.15g}"


class QuestionForm(FlaskForm):
    """One form for every type; the page shows the parts of the question's type."""

    category_id = SelectField(_l("Category"), coerce=_coerce_optional_id, validate_choice=False)
    new_category = StringField(_l("…or a new category"), validators=[Optional(), _at_most(255)])
    name = StringField(_l("Short name"), validators=[Optional(), _at_most(120)])
    points = StringField(_l("Points"), default="1", validators=[Optional(), _at_most(20)])
    stem = TextAreaField(_l("Question text"), render_kw={"rows": 5},
                         validators=[Optional(), _at_most(LONG)])
    general_feedback = TextAreaField(_l("General feedback"), render_kw={"rows": 2},
                                     validators=[Optional(), _at_most(LONG)])
    choices = FieldList(FormField(ChoiceRow), min_entries=CHOICE_ROWS, max_entries=60)
    correct = RadioField(_l("The statement is"), validate_choice=False,
                         choices=select_choices([("true", _l("True")), ("false", _l("False"))]))
    feedback_true = StringField(_l("Feedback when the learner answers “true”"),
                                validators=[Optional(), _at_most(SHORT)])
    feedback_false = StringField(_l("Feedback when the learner answers “false”"),
                                 validators=[Optional(), _at_most(SHORT)])
    case_sensitive = BooleanField(_l("Upper and lower case must match"))
    accent_insensitive = BooleanField(
        _l("Accept answers typed without Vietnamese accents (“Ha Noi” for “Hà Nội”)"))
    numeric = FieldList(FormField(NumericRow), min_entries=NUMERIC_ROWS, max_entries=30)
    pairs = FieldList(FormField(PairRow), min_entries=PAIR_ROWS, max_entries=60)
    order = FieldList(StringField(_l("Item"), validators=[Optional(), _at_most(SHORT)]),
                      min_entries=ORDER_ROWS, max_entries=60)

    def __init__(self, *args, category_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.category_choices = list(category_choices)
        self.category_id.choices = select_choices([*category_choices, ("", _l("New category (name below)"))])

    def add_spare_rows(self) -> None:
        """A few empty rows after the filled ones, so a trainer can add choices without JS."""
        for rows, minimum in ((self.choices, CHOICE_ROWS), (self.numeric, NUMERIC_ROWS),
                              (self.pairs, PAIR_ROWS), (self.order, ORDER_ROWS)):
            filled = sum(1 for row in rows if _row_filled(row))
            while len(rows) < max(minimum, filled + SPARE_ROWS) and len(rows) < rows.max_entries:
                rows.append_entry()

    def category_name(self) -> str:
        new = (self.new_category.data or "").strip()
        if new:
            return new
        return dict((str(k), v) for k, v in self.category_choices).get(
            str(self.category_id.data), "")

    def spec_data(self, kind: str, stem_format: str = "plain") -> dict[str, Any]:
        """The spec dict (see :mod:`lms.quizzes.specio`) the form describes; empty rows left out.

        Raises :class:`DomainError` for a credit that is not a number.
        """
        data: dict[str, Any] = {
            "type": kind, "name": (self.name.data or "").strip().lower(),
            "category": self.category_name(), "points": (self.points.data or "").strip() or "1",
            "stem": _lines(self.stem.data), "stem_format": stem_format,
            "general_feedback": _lines(self.general_feedback.data),
        }
        if kind in (QuestionType.SINGLE.value, QuestionType.MULTIPLE.value,
                    QuestionType.SHORT_ANSWER.value):
            default = 1.0 if kind == QuestionType.SHORT_ANSWER.value else 0.0
            data["choices"] = [
                {"text": row.text.data or "", "fraction": _percent(row.credit.data, default),
                 "feedback": row.feedback.data or ""}
                for row in (entry.form for entry in self.choices)
                if (row.text.data or "").strip() or (row.feedback.data or "").strip()
                or (row.credit.data or "").strip() not in ("", "0")]
        if kind == QuestionType.SHORT_ANSWER.value:
            data["case_sensitive"] = bool(self.case_sensitive.data)
            data["accent_insensitive"] = bool(self.accent_insensitive.data)
        if kind == QuestionType.TRUE_FALSE.value:
            data["correct"] = {"true": True, "false": False}.get(self.correct.data or "")
            data["feedback_true"] = self.feedback_true.data or ""
            data["feedback_false"] = self.feedback_false.data or ""
        if kind == QuestionType.NUMERIC.value:
            data["numeric"] = [
                {"value": (row.value.data or "").strip(),
                 "tolerance": (row.tolerance.data or "").strip() or 0,
                 "fraction": _percent(row.credit.data, 1.0), "feedback": row.feedback.data or ""}
                for row in (entry.form for entry in self.numeric)
                if (row.value.data or "").strip() or (row.feedback.data or "").strip()]
        if kind == QuestionType.MATCHING.value:
            data["pairs"] = [{"left": row.left.data or "", "right": row.right.data or ""}
                             for row in (entry.form for entry in self.pairs)
                             if (row.left.data or "").strip() or (row.right.data or "").strip()]
        if kind == QuestionType.ORDERING.value:
            data["order"] = [entry.data for entry in self.order if (entry.data or "").strip()]
        return data


def _lines(text: str | None) -> str:
    """Text from a textarea: browsers send CRLF line ends; the bank keeps LF (as GIFT does)."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


def _row_filled(row) -> bool:
    if hasattr(row, "form"):
        return any((field.data or "").strip() for field in row.form)
    return bool((row.data or "").strip())


def question_form_data(spec: QuestionSpec, category_id: int | None) -> dict[str, Any]:
    """What an edit form starts with: the question's current version."""
    return {
        "category_id": category_id, "name": spec.name, "points": _number_text(spec.points),
        "stem": spec.stem, "general_feedback": spec.general_feedback,
        "choices": [{"text": c.text, "credit": _percent_text(c.fraction), "feedback": c.feedback}
                    for c in spec.choices],
        "correct": "" if spec.correct is None else ("true" if spec.correct else "false"),
        "feedback_true": spec.feedback_true, "feedback_false": spec.feedback_false,
        "case_sensitive": spec.case_sensitive, "accent_insensitive": spec.accent_insensitive,
        "numeric": [{"value": _number_text(a.value), "tolerance": _number_text(a.tolerance),
                     "credit": _percent_text(a.fraction), "feedback": a.feedback}
                    for a in spec.numeric if math.isfinite(a.tolerance)],
        "pairs": [{"left": p.left, "right": p.right} for p in spec.pairs],
        "order": list(spec.order),
    }


# ---------------------------------------------------------------- bank pages

class BankFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form

    q = StringField(_l("Search by text or short name"), validators=[Optional(), Length(max=100)])
    category = SelectField(_l("Category"), coerce=_coerce_optional_id, validate_choice=False)
    archived = BooleanField(_l("Show archived questions"))

    def __init__(self, *args, category_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = select_choices([("", _l("All categories")), *category_choices])


class NewQuestionForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form: it only opens the right blank form

    type = SelectField(_l("Type of question"), validate_choice=False,
                       choices=select_choices(QUESTION_TYPE_LABELS.items()))


class GiftImportForm(FlaskForm):
    file = FileField(_l("GIFT file (.txt or .gift, UTF-8)"))
    text = TextAreaField(_l("…or paste GIFT text"), render_kw={"rows": 10},
                         validators=[Optional(), _at_most(2_000_000)])
    category = StringField(_l("Category for questions without $CATEGORY"),
                           validators=[Optional(), _at_most(255)])


# ---------------------------------------------------------------- quizzes

class QuizForm(FlaskForm):
    title = StringField(_l("Title"), validators=[
        DataRequired(_l("Enter a title.")), _at_most(255)])
    key = StringField(_l("Short name"), validators=[Optional(), _at_most(80)])
    description = TextAreaField(_l("Description for learners"), render_kw={"rows": 3},
                                validators=[Optional(), _at_most(5000)])
    pass_mark = WholeNumberField(_l("Pass mark (%)"), default=80, validators=[
        InputRequired(_l("Enter the pass mark.")), InRange(0, 100, _l("From 0 to 100."))])
    attempts_allowed = WholeNumberField(_l("Attempts allowed (0 = unlimited)"), default=0, validators=[
        InputRequired(_l("Enter the number of attempts (0 for unlimited).")),
        InRange(0, 100, _l("From 0 to 100."))])
    time_limit_minutes = WholeNumberField(_l("Time limit (minutes)"), validators=[
        Optional(), InRange(1, 600, _l("From 1 to 600 minutes, or empty for no limit."))])
    shuffle_questions = BooleanField(_l("Shuffle the questions"), default=True)
    shuffle_choices = BooleanField(_l("Shuffle the choices of each question"), default=True)
    grading = SelectField(_l("Which attempt counts"), validate_choice=False,
                          choices=select_choices(GRADING_LABELS.items()), default=Grading.HIGHEST.value)
    review = SelectField(_l("After submitting, learners see"), validate_choice=False,
                         choices=select_choices(REVIEW_LABELS.items()), default=ReviewMode.FEEDBACK.value)
    layout = SelectField(_l("Layout"), validate_choice=False,
                         choices=select_choices(LAYOUT_LABELS.items()), default=Layout.PER_PAGE.value)
    is_required = BooleanField(_l("Passing this quiz is required to complete the course"),
                               default=True)


class DrawSlotForm(FlaskForm):
    category_id = SelectField(_l("Category"), coerce=_coerce_optional_id, validate_choice=False)
    draw_count = WholeNumberField(_l("How many questions"), default=1, validators=[
        InputRequired(_l("Enter how many questions to draw.")),
        InRange(1, 200, _l("From 1 to 200."))])

    def __init__(self, *args, category_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.category_id.choices = select_choices(category_choices)


class FixedSlotForm(FlaskForm):
    question_id = SelectField(_l("Question"), coerce=_coerce_optional_id, validate_choice=False)

    def __init__(self, *args, question_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.question_id.choices = select_choices(question_choices)


# ---------------------------------------------------------------- attempts

ATTEMPT_FILTERS = {
    "": _l("All attempts"),
    "passed": _l("Passed"),
    "failed": _l("Not passed"),
    "open": _l("In progress"),
}


class AttemptFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form

    q = StringField(_l("Search by name, e-mail or code"), validators=[Optional(), Length(max=100)])
    status = SelectField(_l("Show"), validate_choice=False, choices=select_choices(ATTEMPT_FILTERS.items()))


# ---------------------------------------------------------------- remediation

def _reason_field():
    return TextAreaField(_l("Reason"), render_kw={"rows": 2}, validators=[
        DataRequired(_l("Give a reason.")), _at_most(2000)])


class ExtraAttemptsForm(FlaskForm):
    amount = WholeNumberField(_l("Extra attempts"), default=1, validators=[
        InputRequired(_l("Enter a number from 1 to 10.")),
        InRange(1, 10, _l("From 1 to 10."))])
    reason = _reason_field()


class ResetForm(FlaskForm):
    reason = _reason_field()


class ExtraTimeForm(FlaskForm):
    amount = WholeNumberField(_l("Extra minutes"), default=15, validators=[
        InputRequired(_l("Enter the extra minutes.")),
        InRange(1, 600, _l("From 1 to 600 minutes."))])
    reason = _reason_field()
