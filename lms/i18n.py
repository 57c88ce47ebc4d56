"""Language and timezone: Vietnamese first, English second; times shown in the user's zone."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import available_timezones

from flask import current_app, has_request_context, request, session
from flask_babel import format_date, format_datetime, get_timezone
from flask_login import current_user

LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}

# Zones of the ministry's headquarters and its missions first, then every other zone.
COMMON_TIMEZONES = [
    "Asia/Ho_Chi_Minh", "Asia/Bangkok", "Asia/Singapore", "Asia/Shanghai", "Asia/Tokyo",
    "Asia/Seoul", "Asia/Kolkata", "Asia/Dubai", "Europe/Moscow", "Europe/Berlin",
    "Europe/Paris", "Europe/London", "Africa/Cairo", "America/New_York",
    "America/Los_Angeles", "America/Sao_Paulo", "Australia/Sydney", "UTC",
]


@lru_cache(maxsize=1)
def known_timezones() -> frozenset[str]:
    """Read once per process: the system's zone list costs ~15 ms to scan."""
    return frozenset(available_timezones())


@lru_cache(maxsize=1)
def timezone_choices() -> tuple[tuple[str, str], ...]:
    rest = sorted(known_timezones() - set(COMMON_TIMEZONES))
    return tuple((tz, tz.replace("_", " ")) for tz in COMMON_TIMEZONES + rest)


def is_valid_timezone(name: str) -> bool:
    return name in known_timezones()


def select_locale() -> str:
    if has_request_context() and request.path.startswith("/api/") and request.endpoint != "api.reference":
        # Other systems ask for their language in Accept-Language; the reference page is
        # a page for people, in the site's language like every other.
        return request.accept_languages.best_match(LANGUAGES) or current_app.config[
            "BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    chosen = session.get("lang") if has_request_context() else None
    if chosen in LANGUAGES:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    if current_user and current_user.is_authenticated and is_valid_timezone(current_user.timezone):
        return current_user.timezone
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def days_until(value: datetime | None, now: datetime | None = None) -> int | None:
    """Whole calendar days from today to ``value``, both in the viewer's timezone
    (0: due today, negative: overdue)."""
    if value is None:
        return None
    zone = get_timezone()
    today = (now or datetime.now(timezone.utc)).astimezone(zone).date()
    return (value.astimezone(zone).date() - today).days


def local_datetime(value: datetime | None, fmt: str = "short") -> str:
    """A UTC timestamp in the viewer's timezone and language ('' for None)."""
    return format_datetime(value, fmt) if value else ""


def local_date(value: datetime | None, fmt: str = "medium") -> str:
    """The calendar date of a UTC timestamp in the viewer's timezone ('' for None)."""
    return format_date(value.astimezone(get_timezone()).date(), fmt) if value else ""
