"""Language and timezone: Vietnamese first, English second; times shown in the user's zone."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import available_timezones

from flask import current_app, session
from flask_babel import format_datetime
from flask_login import current_user

LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}

# Zones of the ministry's headquarters and its missions first, then every other zone.
COMMON_TIMEZONES = [
    "Asia/Ho_Chi_Minh", "Asia/Bangkok", "Asia/Singapore", "Asia/Shanghai", "Asia/Tokyo",
    "Asia/Seoul", "Asia/Kolkata", "Asia/Dubai", "Europe/Moscow", "Europe/Berlin",
    "Europe/Paris", "Europe/London", "Africa/Cairo", "America/New_York",
    "America/Los_Angeles", "America/Sao_Paulo", "Australia/Sydney", "UTC",
]


def timezone_choices() -> list[tuple[str, str]]:
    rest = sorted(available_timezones() - set(COMMON_TIMEZONES))
    return [(tz, tz.replace("_", " ")) for tz in COMMON_TIMEZONES + rest]


def is_valid_timezone(name: str) -> bool:
    return name in available_timezones()


def select_locale() -> str:
    if current_user and current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    if current_user and current_user.is_authenticated and is_valid_timezone(current_user.timezone):
        return current_user.timezone
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def local_datetime(value: datetime | None, fmt: str = "short") -> str:
    """A UTC timestamp in the viewer's timezone and language ('' for None)."""
    return format_datetime(value, fmt) if value else ""
