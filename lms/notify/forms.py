"""The "E-mail notifications" part of the account page: one choice per category."""
from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField

from lms.forms import choices
from lms.notify.kinds import CATEGORIES
from lms.notify.models import EmailMode

MODE_LABELS = {
    EmailMode.IMMEDIATE.value: _l("Immediately"),
    EmailMode.DIGEST.value: _l("In one e-mail a day"),
    EmailMode.OFF.value: _l("No e-mail"),
}


class EmailPreferencesForm(FlaskForm):
    """Filled in by :func:`email_preferences_form` with one radio group per category."""

    def categories(self) -> list[tuple[str, RadioField, bool]]:
        """(category, its radio group, whether it is mandatory) in the categories' order."""
        return [(name, self[f"email_{name}"], category.mandatory)
                for name, category in CATEGORIES.items()]


def email_preferences_form(modes: Mapping[str, str], **kwargs) -> EmailPreferencesForm:
    """The form for the current categories, set to the person's ``modes``. A mandatory
    category offers no "off": the choice is not there, and a forged one is refused."""
    fields = {}
    for name, category in CATEGORIES.items():
        offered = [(mode, label) for mode, label in MODE_LABELS.items()
                   if not (category.mandatory and mode == EmailMode.OFF.value)]
        fields[f"email_{name}"] = RadioField(category.label, choices=choices(offered),
                                             default=modes.get(name, category.default.value))
    form_class = type("EmailPreferencesForm", (EmailPreferencesForm,), fields)
    return form_class(prefix="", **kwargs)
