"""Forms of the admins' webhook pages.

WTForms has no Vietnamese catalog, so every message a user can see is given here; the
rules themselves (a name, an http(s) address, known events) are the service's.
"""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from lms.api.webhooks import MAX_NAME, MAX_URL, event_choices
from lms.forms import choices


class EventsField(SelectMultipleField):
    """One checkbox per event."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form: Any) -> None:  # an unknown event is the service's to refuse
        pass


class EndpointForm(FlaskForm):
    name = StringField(_l("Name"), validators=[
        DataRequired(_l("Give the endpoint a name (the system that receives the events).")),
        Length(max=MAX_NAME, message=_l("At most %(max)d characters."))])
    url = StringField(_l("Address (URL)"), validators=[
        DataRequired(_l("Enter the address the events are sent to.")),
        Length(max=MAX_URL, message=_l("At most %(max)d characters."))])
    events = EventsField(_l("Events"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events.choices = choices(event_choices())
