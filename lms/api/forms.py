"""Forms of the admins' API client pages.

WTForms has no Vietnamese catalog, so every message a user can see is given here; the
rules themselves (a name, known scopes, staff sync only ministry-wide) are the service's.
"""
from __future__ import annotations

from typing import Any, Iterable

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from lms.api.clients import SCOPES
from lms.forms import choices, optional_int


class ScopesField(SelectMultipleField):
    """One checkbox per scope."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form: Any) -> None:  # an unknown scope is the service's to refuse
        pass


class ClientForm(FlaskForm):
    name = StringField(_l("Name"), validators=[
        DataRequired(_l("Give the client a name (the system that will call the API).")),
        Length(max=120, message=_l("At most %(max)d characters."))])
    scopes = ScopesField(_l("Scopes"))
    unit_id = SelectField(_l("Unit scope"), coerce=optional_int, validate_choice=False)

    def __init__(self, *args: Any, unit_choices: Iterable[tuple[int, str]] = (),
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scopes.choices = choices(SCOPES.items())
        self.unit_id.choices = choices([("", _l("Whole ministry")), *unit_choices])


class RevokeForm(FlaskForm):
    confirm = BooleanField(_l("I understand: the system using this token loses access at once "
                              "and for good"),
                           validators=[DataRequired(_l("Tick the box to confirm."))])
