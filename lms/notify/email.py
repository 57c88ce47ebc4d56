"""The words of an e-mail: subject, plain text and HTML, in the recipient's language.

Made from plain values (frozen dataclasses), never from ORM objects: the outbox reads
what it needs once per batch and hands it here. A kind may have its own pair of templates
(``templates/email/<kind>.html`` and ``.txt``); every other kind uses the generic pair,
which shows the notification's title, text and link as ``describe_values`` makes them.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import current_app, has_request_context, render_template
from flask_babel import force_locale, format_date, ngettext
from flask_babel import gettext as _
from jinja2 import TemplateNotFound

from lms.i18n import LANGUAGES
from lms.notify.kinds import describe_values


@dataclass(frozen=True)
class Notice:
    """One notification as an e-mail shows it (the link already absolute)."""

    title: str
    text: str
    link: str


@dataclass(frozen=True)
class EmailPage:
    """What the e-mail templates receive."""

    recipient_name: str
    heading: str
    intro: str
    notices: tuple[Notice, ...]
    site_name: str
    site_link: str
    preferences_link: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def base_url() -> str:
    return (current_app.config.get("BASE_URL") or "http://127.0.0.1:5000").rstrip("/")


def absolute_link(link: str) -> str:
    """A path on this site ("/help/3") made absolute with the configured base URL (never
    the request's Host); an absolute link stays as it is; anything else is dropped."""
    if not link:
        return ""
    if link.startswith(("https://", "http://")):
        return link
    if not link.startswith("/") or link.startswith("//"):
        return ""
    script_root = (current_app.config.get("APPLICATION_ROOT") or "/").rstrip("/")
    if script_root and link.startswith(script_root + "/"):
        link = link[len(script_root):]
    return base_url() + link


@contextmanager
def rendering_context() -> Iterator[None]:
    """A request context on the configured base URL, so that ``url_for`` (in the kinds'
    links and the templates) works in the scheduler process too. Reused when there is one."""
    if has_request_context():
        yield
        return
    with current_app.test_request_context("/", base_url=base_url()):
        yield


def language_of(locale: str | None) -> str:
    return locale if locale in LANGUAGES else current_app.config.get("BABEL_DEFAULT_LOCALE", "vi")


def notice_of(kind: str, params: dict[str, Any], body: str = "", link: str = "") -> Notice:
    """A notification's title, text and absolute link in the current language."""
    described = describe_values(kind, params or {}, body, link)
    return Notice(str(described.title), str(described.text or ""),
                  absolute_link(described.link or ""))


def _links() -> tuple[str, str, str]:
    from lms.urls import external_url

    name = _("Digital literacy for all")
    try:
        preferences = external_url("auth.account")
    except Exception:  # an app without the account page still sends its mail
        preferences = base_url() + "/"
    return str(name), base_url() + "/", preferences


def _render(template: str, page: EmailPage) -> tuple[str, str]:
    names = [f"email/{template}", "email/notice"]
    for name in names:
        try:
            html = render_template(f"{name}.html", page=page)
            text = render_template(f"{name}.txt", page=page)
        except TemplateNotFound:
            continue
        return text, html
    raise TemplateNotFound(names[-1])


def render_notice(kind: str, params: dict[str, Any], *, recipient_name: str, locale: str | None,
                  body: str = "", link: str = "") -> RenderedEmail:
    """One notification as one e-mail, in ``locale``. Call inside ``rendering_context()``."""
    with force_locale(language_of(locale)):
        notice = notice_of(kind, params, body, link)
        site, home, preferences = _links()
        page = EmailPage(recipient_name, notice.title, "", (notice,), site, home, preferences)
        text, html = _render(kind, page)
        return RenderedEmail(notice.title, text, html)


def render_digest(notices_by_kind: Sequence[tuple[str, dict[str, Any], str, str]], *,
                  recipient_name: str, locale: str | None, day: date | None) -> RenderedEmail:
    """A day's notifications, each given as (kind, params, body, link), as one e-mail."""
    with force_locale(language_of(locale)):
        notices = tuple(notice_of(*values) for values in notices_by_kind)
        count = len(notices)
        subject = ngettext("Your daily summary: %(num)d notification",
                           "Your daily summary: %(num)d notifications", count)
        intro = (_("What happened for you until %(date)s:", date=format_date(day, "long"))
                 if day else "")
        site, home, preferences = _links()
        page = EmailPage(recipient_name, subject, intro, notices, site, home, preferences)
        text, html = _render("digest", page)
        return RenderedEmail(subject, text, html)
