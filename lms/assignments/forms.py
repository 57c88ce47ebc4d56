"""Forms of the assignment pages: assigning training by decision, and learning paths.

WTForms has no Vietnamese catalog, so every message a user can see is given here.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Iterable

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.fields import DateField, Field
from wtforms.utils import unset_value
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from lms.assignments.models import TargetKind
from lms.assignments.services import DEFAULT_REMINDER_DAYS, parse_reminder_days
from lms.errors import DomainError
from lms.forms import choices, optional_int
from lms.org.forms import ROLE_LABELS

TARGET_LABELS = {
    TargetKind.UNIT.value: _l("A unit and every unit below it"),
    TargetKind.ROLE.value: _l("Everyone holding a role"),
    TargetKind.PEOPLE.value: _l("A list of people"),
    TargetKind.EVERYONE.value: _l("Everyone in the ministry"),
}

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]   # the date picker's, and what people type by hand


class DayField(DateField):
    """A calendar day (a date picker; typed dd/mm/yyyy also accepted) with our own message."""

    def __init__(self, label: Any = None, validators: Any = None, **kwargs: Any) -> None:
        super().__init__(label, validators, format=DATE_FORMATS, **kwargs)

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        text = valuelist[0].strip()
        for fmt in self.format:
            try:
                self.data = datetime.strptime(text, fmt).date()
                return
            except ValueError:
                continue
        self.data = None
        raise ValueError(str(_l("Enter a date as dd/mm/yyyy.")))


class AssignmentForm(FlaskForm):
    title = StringField(_l("Title"), validators=[
        DataRequired(_l("Give the assignment a title.")), Length(max=255)])
    decision_number = StringField(_l("Decision number"), validators=[
        DataRequired(_l("Enter the decision's number, e.g. 1637/QĐ-BNG.")), Length(max=80)])
    decision_date = DayField(_l("Decision date"), validators=[
        InputRequired(_l("Enter the decision's date."))])
    decision_file = FileField(_l("The decision (PDF, optional)"))
    training = SelectField(_l("Course or learning path"), validators=[
        DataRequired(_l("Choose a course or a learning path."))])
    target_kind = RadioField(_l("Who must take it"), default=TargetKind.UNIT.value,
                             validators=[DataRequired(_l("Choose whom the training is for."))])
    target_unit_id = SelectField(_l("Unit"), coerce=optional_int, validate_choice=False)
    target_role = SelectField(_l("Role"), choices=choices(ROLE_LABELS.items()))
    people = TextAreaField(_l("People"), validators=[Optional(), Length(max=20000)])
    start_date = DayField(_l("Start date"), validators=[InputRequired(_l("Enter the start date."))])
    due_date = DayField(_l("Due date"), validators=[InputRequired(_l("Enter the due date."))])
    reminder_days = StringField(_l("Reminders (days before the due date)"),
                                default=DEFAULT_REMINDER_DAYS, validators=[Length(max=40)])

    def __init__(self, *args: Any, unit_choices: Iterable[tuple[int, str]] = (),
                 courses: Iterable[tuple[int, str]] = (), paths: Iterable[tuple[int, str]] = (),
                 everyone_allowed: bool = False, whole_ministry_allowed: bool = False,
                 today: date | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        kinds = [k for k in TARGET_LABELS if everyone_allowed or k != TargetKind.EVERYONE.value]
        self.target_kind.choices = [(k, TARGET_LABELS[k]) for k in kinds]
        blank = ("", _l("The whole ministry") if whole_ministry_allowed else _l("Choose a unit"))
        self.target_unit_id.choices = choices([blank, *unit_choices])
        self.course_choices = [(f"course:{i}", title) for i, title in courses]
        self.path_choices = [(f"path:{i}", title) for i, title in paths]
        self.training.choices = [("", _l("Choose…")), *self.course_choices, *self.path_choices]

    def validate_training(self, field: Field) -> None:
        if field.data and field.data not in {value for value, _label in
                                             self.course_choices + self.path_choices}:
            raise ValidationError(_l("Choose a course or a learning path from the list."))

    def validate_reminder_days(self, field: Field) -> None:
        try:
            field.data = parse_reminder_days(field.data)
        except DomainError as exc:
            raise ValidationError(exc.message) from None

    def validate_due_date(self, field: Field) -> None:
        if field.data and self.today and field.data < self.today:
            raise ValidationError(_l("The due date cannot be in the past."))

    @property
    def course_id(self) -> int | None:
        kind, _sep, value = (self.training.data or "").partition(":")
        return optional_int(value) if kind == "course" else None

    @property
    def path_id(self) -> int | None:
        kind, _sep, value = (self.training.data or "").partition(":")
        return optional_int(value) if kind == "path" else None

    def people_entries(self) -> list[str]:
        """Employee codes or e-mail addresses, one a line (commas and semicolons work too)."""
        text = (self.people.data or "").replace(",", "\n").replace(";", "\n")
        return [line.strip() for line in text.splitlines() if line.strip()]


class PositionsField(Field):
    """A position number per course (``<name>-<course id>``); the courses whose box holds a
    number, in the order of the numbers, are the field's data. Works without JavaScript."""

    def __init__(self, label: Any = None, validators: Any = None, **kwargs: Any) -> None:
        super().__init__(label, validators, **kwargs)
        self.raw: dict[int, str] = {}

    def process(self, formdata: Any, data: Any = unset_value, extra_filters: Any = None) -> None:
        self.process_errors = []
        self.raw = {}
        prefix = f"{self.name}-"
        if formdata is not None and any(key.startswith(prefix) for key in formdata):
            for key in formdata:
                course_id = optional_int(key[len(prefix):]) if key.startswith(prefix) else None
                if course_id is not None and formdata.get(key, "").strip():
                    self.raw[course_id] = formdata.get(key).strip()
        elif formdata is None and data not in (unset_value, None):
            self.raw = {course_id: str(n) for n, course_id in enumerate(data, start=1)}
        self.data = []

    def pre_validate(self, form: Any) -> None:
        numbered: list[tuple[int, int]] = []
        for course_id, text in self.raw.items():
            try:
                number = int(text)
            except ValueError:
                raise ValidationError(_l("Positions are whole numbers: 1, 2, 3…")) from None
            if not 1 <= number <= 999:
                raise ValidationError(_l("Positions are whole numbers: 1, 2, 3…"))
            numbered.append((number, course_id))
        self.data = [course_id for _n, course_id in sorted(numbered, key=lambda p: p[0])]


class LearningPathForm(FlaskForm):
    title = StringField(_l("Title"), validators=[
        DataRequired(_l("Give the learning path a title.")), Length(max=255)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    course_ids = PositionsField(_l("Courses, in order"))
