"""Forms of the mentoring and help pages.

WTForms has no Vietnamese catalog, so every message a user can see is given here.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Iterable

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from lms.assignments.forms import DayField
from lms.forms import choices, optional_int
from lms.mentoring.help import MAX_MESSAGE_CHARS
from lms.mentoring.nudges import MAX_NUDGE_CHARS, NUDGE_TEMPLATES


class CheckboxesField(SelectMultipleField):
    """A list of checkboxes of integer ids."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, coerce=int, **kwargs)

    def pre_validate(self, form: Any) -> None:  # a stale list is the service's to refuse
        pass


# ---------------------------------------------------------------- pairing

class PairForm(FlaskForm):
    """Pair one mentee (by employee code or e-mail, or picked from a list) with a mentor."""

    mentee = StringField(_l("Mentee (employee code or e-mail)"), validators=[
        DataRequired(_l("Enter the mentee's employee code or e-mail.")), Length(max=254)])
    mentor_id = SelectField(_l("Mentor"), coerce=optional_int, validators=[
        DataRequired(_l("Choose a mentor."))], validate_choice=False)

    def __init__(self, *args: Any, mentors: Iterable[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mentor_id.choices = choices([("", _l("Choose a mentor…")), *mentors])


class BulkPairForm(FlaskForm):
    unit_id = SelectField(_l("Unit"), coerce=optional_int, validators=[
        DataRequired(_l("Choose a unit."))], validate_choice=False)
    include_subunits = BooleanField(_l("Include the units below it"), default=True)
    replace_existing = BooleanField(_l("Share out again people who already have a mentor"))

    def __init__(self, *args: Any, units: Iterable[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unit_id.choices = choices([("", _l("Choose a unit…")), *units])


class PairingFileForm(FlaskForm):
    file = FileField(_l("CSV or Excel file with the columns “mentee” and “mentor”"))


# ---------------------------------------------------------------- mentor's page

class NudgeForm(FlaskForm):
    mentee_ids = CheckboxesField(_l("To"))
    template = RadioField(_l("Message"), default="", validate_choice=False)
    message = TextAreaField(_l("Or write your own"), validators=[
        Optional(), Length(max=MAX_NUDGE_CHARS)])

    def __init__(self, *args: Any, mentees: Iterable[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mentee_ids.choices = list(mentees)
        self.template.choices = [(key, text) for key, text in NUDGE_TEMPLATES.items()] + [
            ("", _l("My own words (below)"))]


class CoachingSessionForm(FlaskForm):
    held_on = DayField(_l("Date"), validators=[InputRequired(_l("Enter the date of the session."))])
    topic = StringField(_l("Topic"), validators=[
        DataRequired(_l("Give the session a topic.")), Length(max=255)])
    duration_minutes = IntegerField(_l("Duration (minutes)"), validators=[
        InputRequired(_l("Enter how long the session lasted, in minutes.")),
        NumberRange(5, 480, _l("A session lasts from 5 minutes to 8 hours."))])
    attendee_ids = CheckboxesField(_l("Attendees"))
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])

    def __init__(self, *args: Any, mentees: Iterable[tuple[int, str]] = (),
                 today: date | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.attendee_ids.choices = list(mentees)
        if today is not None and not self.held_on.data and not self.is_submitted():
            self.held_on.data = today


# ---------------------------------------------------------------- help

class HelpQuestionForm(FlaskForm):
    body = TextAreaField(_l("Your question"), validators=[
        DataRequired(_l("Write your question first.")), Length(max=MAX_MESSAGE_CHARS)])


class HelpReplyForm(FlaskForm):
    body = TextAreaField(_l("Your reply"), validators=[
        DataRequired(_l("Write your reply first.")), Length(max=MAX_MESSAGE_CHARS)])


# ---------------------------------------------------------------- recognition

class RecognitionFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter

    unit_id = SelectField(_l("Unit"), coerce=optional_int, validate_choice=False)
    start = DayField(_l("From"), validators=[Optional()])
    end = DayField(_l("To"), validators=[Optional()])

    def __init__(self, *args: Any, units: Iterable[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unit_id.choices = choices(list(units))
