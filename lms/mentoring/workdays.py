"""Working days: Monday to Friday in a unit's own timezone, less the configured holidays."""
from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo


def is_working_day(day: date, holidays: Collection[date] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: datetime, days: int, tz: str,
                     holidays: Collection[date] = ()) -> datetime:
    """The moment ``days`` whole working days after ``start``, counted on the clock of ``tz``.

    Asked on Friday 15:00, two working days later is Tuesday 15:00; asked on Saturday, the
    count starts on Monday at midnight."""
    zone = ZoneInfo(tz)
    local = start.astimezone(zone)
    day, at = local.date(), local.time().replace(tzinfo=None)
    if not is_working_day(day, holidays):
        at = time(0, 0)
        while not is_working_day(day, holidays):
            day += timedelta(days=1)
    for _ in range(days):
        day += timedelta(days=1)
        while not is_working_day(day, holidays):
            day += timedelta(days=1)
    return datetime.combine(day, at, tzinfo=zone).astimezone(timezone.utc)
