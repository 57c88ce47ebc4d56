"""What each kind of notification says. Domains register their kinds; the words are made
when the notification is shown, in the reader's language."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from werkzeug.routing import BuildError

from lms.notify.models import Notification


@dataclass(frozen=True)
class Kind:
    title: Any                                     # a lazy string with %(name)s placeholders
    text: Callable[[dict[str, Any]], str] | None = None
    link: Callable[[dict[str, Any]], str] | None = None   # made with url_for when shown


@dataclass(frozen=True)
class NoticeText:
    title: str
    text: str
    link: str


KINDS: dict[str, Kind] = {}


def register(name: str, title: Any, text: Callable[[dict[str, Any]], str] | None = None,
             link: Callable[[dict[str, Any]], str] | None = None) -> None:
    KINDS[name] = Kind(title, text, link)


def describe(notification: Notification) -> NoticeText:
    """The title and text of a notification, in the current request's language."""
    kind = KINDS.get(notification.kind)
    params = {key: value for key, value in (notification.params or {}).items()
              if isinstance(value, (str, int, float))}
    if kind is None:
        return NoticeText(gettext("Notification"), notification.body, notification.link)
    try:
        title = str(kind.title) % params
    except (KeyError, TypeError, ValueError):
        title = str(kind.title)
    text = notification.body or (kind.text(params) if kind.text else "")
    try:
        link = kind.link(params) if kind.link else notification.link
    except (KeyError, BuildError):
        link = notification.link
    return NoticeText(title, text, link)
