"""Small helpers shared by the domain forms."""
from __future__ import annotations

from typing import Any, Iterable

from flask import flash
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


def optional_int(value: Any) -> int | None:
    """A select's value as an id, or None when blank or not a number."""
    try:
        return int(value) if value not in (None, "", "None") else None
    except (TypeError, ValueError):
        return None


def choices(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices; values become strings."""
    return [SelectChoice(value="" if value is None else str(value), label=label)
            for value, label in pairs]


def show_domain_error(form: FlaskForm, exc: Any, default_field: str) -> None:
    """Show a DomainError next to the field it names (or ``default_field``), else as a flash."""
    field = getattr(form, exc.field or "", None) or getattr(form, default_field, None)
    if field is not None:
        field.errors = list(field.errors) + [exc.message]
    else:
        flash(exc.message, "error")
