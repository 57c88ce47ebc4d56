"""Forms of the trainers' authoring pages.

Choice lists are not checked here (``validate_choice=False``): the authoring services
check topic, language, kind and file and say what is wrong in the user's language.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from lms.courses.labels import LESSON_KIND_LABELS, TOPIC_LABELS
from lms.forms import choices
from lms.i18n import LANGUAGES


class WholeNumberField(IntegerField):
    """An IntegerField whose "not a number" message is ours (WTForms has no Vietnamese)."""

    def process_formdata(self, valuelist):
        if not valuelist or str(valuelist[0]).strip() == "":
            self.data = None
            return
        try:
            self.data = int(str(valuelist[0]).strip())
        except ValueError as exc:
            self.data = None
            raise ValueError(_l("Enter a whole number.")) from exc


class InRange:
    """Like NumberRange, but quiet when the field held no number (that error is shown already)."""

    def __init__(self, low: int, high: int, message) -> None:
        self.low, self.high, self.message = low, high, message

    def __call__(self, form, field) -> None:
        if field.data is not None and not self.low <= field.data <= self.high:
            raise ValidationError(self.message)


def _coerce_optional_id(value):
    """A select's id: empty means none; anything unreadable becomes an id no row has."""
    if value in (None, "", "None"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


class CourseForm(FlaskForm):
    title = StringField(_l("Title"), validators=[
        DataRequired(_l("Enter a title.")), Length(max=255, message=_l("At most %(max)d characters."))])
    slug = StringField(_l("Short name"), validators=[
        Optional(), Length(max=80, message=_l("At most %(max)d characters."))])
    language = SelectField(_l("Language of the course"), choices=choices(LANGUAGES.items()),
                           validate_choice=False, default="vi")
    topic = SelectField(_l("Topic"), choices=choices(TOPIC_LABELS.items()), validate_choice=False,
                        default="other")
    summary = TextAreaField(_l("Summary of the course"), render_kw={"rows": 4}, validators=[
        Optional(), Length(max=5000, message=_l("At most %(max)d characters."))])
    outcomes = TextAreaField(_l("What learners will be able to do"), render_kw={"rows": 4},
                             validators=[
        Optional(), Length(max=5000, message=_l("At most %(max)d characters."))])
    estimated_minutes = WholeNumberField(_l("Estimated time (minutes)"), default=30, validators=[
        InputRequired(_l("Enter the estimated time in minutes.")),
        InRange(1, 6000, _l("Between 1 and 6000 minutes."))])
    certificate_enabled = BooleanField(_l("Learners who complete the course receive a certificate"),
                                       default=True)
    validity_months = WholeNumberField(_l("Certificate valid for (months)"), validators=[
        Optional(), InRange(1, 120, _l("Between 1 and 120 months, or empty."))])


class ModuleForm(FlaskForm):
    title = StringField(_l("Module title"), validators=[
        DataRequired(_l("Enter a title.")), Length(max=255, message=_l("At most %(max)d characters."))])


class LessonForm(FlaskForm):
    title = StringField(_l("Title"), validators=[
        DataRequired(_l("Enter a title.")), Length(max=255, message=_l("At most %(max)d characters."))])
    key = StringField(_l("Key"), validators=[
        Optional(), Length(max=80, message=_l("At most %(max)d characters."))])
    kind = SelectField(_l("Kind of lesson"), choices=choices(LESSON_KIND_LABELS.items()),
                       validate_choice=False, default="text")
    body = TextAreaField(_l("Text (Markdown)"), render_kw={"rows": 18}, validators=[
        Optional(), Length(max=200_000, message=_l("At most %(max)d characters."))])
    url = StringField(_l("Address (for link lessons)"), validators=[
        Optional(), Length(max=1000, message=_l("At most %(max)d characters."))])
    media_id = SelectField(_l("File (for video and file lessons)"), coerce=_coerce_optional_id,
                           validate_choice=False)
    is_required = BooleanField(_l("Required to complete the course"), default=True)
    complete_on_video_end = BooleanField(_l("Done when the video has been watched to the end"))
    estimated_minutes = WholeNumberField(_l("Estimated time (minutes)"), default=5, validators=[
        InputRequired(_l("Enter the estimated time in minutes.")),
        InRange(1, 600, _l("Between 1 and 600 minutes."))])
    preview = SubmitField(_l("Preview"))
    save = SubmitField(_l("Save"))

    def __init__(self, *args, media_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.media_id.choices = choices([("", _l("No file")), *media_choices])


class MoveLessonForm(FlaskForm):
    module_id = SelectField(_l("Move to the module"), coerce=_coerce_optional_id,
                            validate_choice=False)

    def __init__(self, *args, module_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.module_id.choices = choices(module_choices)


class MediaUploadForm(FlaskForm):
    file = FileField(_l("File"), validators=[FileRequired(_l("Choose a file to upload."))])


class PackageUploadForm(FlaskForm):
    package = FileField(_l("Course package (.zip)"),
                        validators=[FileRequired(_l("Choose a file to upload."))])
