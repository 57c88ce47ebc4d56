from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from lms.forms import ActionForm, choices  # noqa: F401  (ActionForm re-exported)
from lms.i18n import LANGUAGES, timezone_choices
from lms.org.models import Role, UnitKind

UNIT_KIND_LABELS = {
    UnitKind.MINISTRY.value: _l("Ministry"),
    UnitKind.DEPARTMENT.value: _l("Department"),
    UnitKind.INSTITUTE.value: _l("Institute or academy"),
    UnitKind.MISSION.value: _l("Overseas mission"),
    UnitKind.DIVISION.value: _l("Division"),
}

ROLE_LABELS = {
    Role.ADMIN.value: _l("Administrator"),
    Role.TRAINER.value: _l("Trainer"),
    Role.UNIT_HEAD.value: _l("Unit head"),
    Role.MENTOR.value: _l("Mentor"),
}

STATUS_CHOICES = [("active", _l("Active")), ("inactive", _l("Deactivated")), ("all", _l("All"))]


def _coerce_optional_int(value):
    return int(value) if value not in (None, "", "None") else None


class UnitForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(_l("Enter a code.")), Length(max=40)])
    name = StringField(_l("Name (Vietnamese)"),
                       validators=[DataRequired(_l("Enter a name.")), Length(max=255)])
    name_en = StringField(_l("Name (English)"), validators=[Optional(), Length(max=255)])
    kind = SelectField(_l("Kind"), choices=choices(UNIT_KIND_LABELS.items()))
    parent_id = SelectField(_l("Belongs to"), coerce=_coerce_optional_int, validate_choice=False)
    timezone = SelectField(_l("Timezone"))

    def __init__(self, *args, unit_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = choices(timezone_choices())
        self.parent_id.choices = choices(unit_choices)


class PersonForm(FlaskForm):
    employee_code = StringField(_l("Employee code"),
                                validators=[DataRequired(_l("Enter the employee code.")),
                                            Length(max=40)])
    full_name = StringField(_l("Full name"),
                            validators=[DataRequired(_l("Enter the full name.")), Length(max=200)])
    email = StringField(_l("E-mail"), validators=[
        DataRequired(_l("Enter the e-mail address.")),
        Email(_l("Enter a valid e-mail address."), check_deliverability=False), Length(max=254)])
    unit_id = SelectField(_l("Unit"), coerce=_coerce_optional_int, validate_choice=False)
    position = StringField(_l("Position"), validators=[Optional(), Length(max=120)])
    locale = SelectField(_l("Language"), choices=choices(LANGUAGES.items()))
    timezone = SelectField(_l("Timezone"))

    def __init__(self, *args, unit_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = choices(timezone_choices())
        self.unit_id.choices = choices(unit_choices)


class TemporaryPasswordForm(FlaskForm):
    password = PasswordField(_l("Temporary password"),
                             validators=[DataRequired(_l("Enter a temporary password.")),
                                         Length(max=200)])


class RoleGrantForm(FlaskForm):
    role = SelectField(_l("Role"), choices=choices(ROLE_LABELS.items()))
    unit_id = SelectField(_l("Scope (unit and everything below it)"),
                          coerce=_coerce_optional_int, validate_choice=False)

    def __init__(self, *args, unit_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.unit_id.choices = choices([("", _l("Whole ministry")), *unit_choices])


class ConcurrentPostForm(FlaskForm):
    """A second post (kiêm nhiệm) in another unit."""

    post_unit_id = SelectField(_l("Unit"), coerce=_coerce_optional_int, validate_choice=False)
    post_position = StringField(_l("Position there"), validators=[Optional(), Length(max=120)])

    def __init__(self, *args, unit_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.post_unit_id.choices = choices([("", _l("Choose a unit")), *unit_choices])


class ImportUploadForm(FlaskForm):
    file = FileField(_l("Staff list (CSV or XLSX)"),
                     validators=[FileRequired(_l("Choose a file to upload."))])


class ImportApplyForm(FlaskForm):
    temporary_password = PasswordField(
        _l("Temporary password for the new accounts (optional)"),
        validators=[Optional(), Length(max=200)])


class PeopleFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form

    q = StringField(_l("Search by name, e-mail or code"), validators=[Optional(), Length(max=100)])
    unit_id = SelectField(_l("Unit"), coerce=_coerce_optional_int, validate_choice=False)
    # Absent means "include sub-units", so plain links such as ?unit_id=7 cover the subtree.
    direct_only = BooleanField(_l("Only people directly in this unit"))
    role = SelectField(_l("Role"))
    status = SelectField(_l("Status"), choices=choices(STATUS_CHOICES), default="active")

    def __init__(self, *args, unit_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.unit_id.choices = choices([("", _l("All units I can see")), *unit_choices])
        self.role.choices = choices([("", _l("Any role")), *ROLE_LABELS.items()])
