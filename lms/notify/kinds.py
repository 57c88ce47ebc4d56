"""What each kind of notification says, and which e-mail category it belongs to. Domains
register their kinds; the words are made when the notification is shown (or e-mailed), in
the reader's language."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, case, literal
from werkzeug.routing import BuildError

from lms.notify.models import EmailMode, Notification


@dataclass(frozen=True)
class Category:
    """A group of kinds that share one e-mail preference."""

    label: Any
    default: EmailMode = EmailMode.IMMEDIATE
    mandatory: bool = False        # mandatory-training notices: e-mail cannot be switched off


CATEGORIES: dict[str, Category] = {
    "training": Category(_l("Mandatory training: reminders and overdue notices"), mandatory=True),
    "certificates": Category(_l("Certificates: issued and expiring")),
    "mentoring": Category(_l("Mentoring: help requests, replies, nudges and pairings")),
    "reports": Category(_l("Unit reports: weekly digest and escalations")),
}


@dataclass(frozen=True)
class Kind:
    title: Any                                     # a lazy string with %(name)s placeholders
    text: Callable[[dict[str, Any]], str] | None = None
    link: Callable[[dict[str, Any]], str] | None = None   # made with url_for when shown
    category: str = "mentoring"


@dataclass(frozen=True)
class NoticeText:
    title: str
    text: str
    link: str


KINDS: dict[str, Kind] = {}


def register(name: str, title: Any, text: Callable[[dict[str, Any]], str] | None = None,
             link: Callable[[dict[str, Any]], str] | None = None,
             category: str = "mentoring") -> None:
    if category not in CATEGORIES:
        raise ValueError(f"unknown notification category {category!r}")
    KINDS[name] = Kind(title, text, link, category)


def category_of(kind: str) -> str:
    registered = KINDS.get(kind)
    return registered.category if registered else "mentoring"


def category_column(kind_column: ColumnElement[str]) -> ColumnElement[str]:
    """SQL: the category of a row's kind (a CASE over the registered kinds)."""
    if not KINDS:
        return literal("mentoring")
    return case({name: kind.category for name, kind in KINDS.items()}, value=kind_column,
                else_="mentoring")


def describe(notification: Notification) -> NoticeText:
    """The title, text and link of a notification, in the current language."""
    return describe_values(notification.kind, notification.params or {}, notification.body,
                           notification.link)


def describe_values(kind_name: str, params: dict[str, Any], body: str = "",
                    link: str = "") -> NoticeText:
    kind = KINDS.get(kind_name)
    values = {key: value for key, value in params.items()
              if isinstance(value, (str, int, float))}
    if kind is None:
        return NoticeText(gettext("Notification"), body, link)
    try:
        title = str(kind.title) % values
    except (KeyError, TypeError, ValueError):
        title = str(kind.title)
    text = body or (kind.text(values) if kind.text else "")
    try:
        link = kind.link(values) if kind.link else link
    except (KeyError, BuildError):
        pass
    return NoticeText(title, text, link)
