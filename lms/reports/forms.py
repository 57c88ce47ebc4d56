"""The report pages' parameters: query arguments parsed into plain values.

A report is a GET page whose filters travel in its links (drill-downs, exports, the PDF), so
they are parsed here rather than bound to a form: anything malformed is ignored with a
message the view flashes, never an error page. The one real form is the admin's "take a
snapshot now" (POST, CSRF).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Mapping

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional

from lms.reports.figures import Filters
from lms.reports.models import SnapshotKind

FILTER_KEYS = ("course", "assignment", "due_from", "due_to", "position")
PEOPLE_STATUSES = ("all", "completed", "in_progress", "on_track", "not_started", "overdue")
PEOPLE_SORTS = ("name", "unit", "completion", "overdue")
POSITION_MAX = 120

SNAPSHOT_KIND_LABELS = {SnapshotKind.MONTH_END.value: _l("Month end"),
                        SnapshotKind.ON_DEMAND.value: _l("On demand")}
STATUS_LABELS = {
    "all": _l("Everyone"),
    "completed": _l("Completed some training"),
    "in_progress": _l("In progress"),
    "on_track": _l("On track"),
    "not_started": _l("Not started"),
    "overdue": _l("Overdue"),
}


@dataclass(frozen=True)
class ReportParams:
    """Filters plus the snapshot mode of a report page, and what was wrong with the input."""

    filters: Filters
    snapshot_id: int | None = None
    compare_id: int | None = None
    problems: tuple[str, ...] = field(default=(), compare=False)

    def filter_args(self) -> dict[str, str]:
        """The filters as query arguments (empty ones left out), for every link of a page."""
        return filter_args(self.filters)

    def args(self) -> dict[str, str]:
        """Filters and snapshot mode together."""
        extra = {}
        if self.snapshot_id:
            extra["snapshot"] = str(self.snapshot_id)
        if self.compare_id:
            extra["compare"] = str(self.compare_id)
        return {**self.filter_args(), **extra}


def filter_args(filters: Filters) -> dict[str, str]:
    pairs = {
        "course": filters.course_id,
        "assignment": filters.assignment_id,
        "due_from": filters.due_from.isoformat() if filters.due_from else None,
        "due_to": filters.due_to.isoformat() if filters.due_to else None,
        "position": filters.position,
    }
    return {key: str(value) for key, value in pairs.items() if value}


def parse_date(value: str | None) -> date | None:
    """A date typed as 2025-06-30 (what a date input sends) or as 30/06/2025; None if blank.
    Raises ValueError when it is neither."""
    text = (value or "").strip()
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(text)


def _positive_int(value: str | None) -> int | None:
    """None for blank; raises ValueError for anything that is not a positive whole number."""
    text = (value or "").strip()
    if not text:
        return None
    number = int(text)
    if number <= 0:
        raise ValueError(text)
    return number


def parse_report_params(args: Mapping[str, Any], timezone: str) -> ReportParams:
    """Filters (course, assignment, due_from, due_to, position) and snapshot/compare ids.

    A value that cannot be read is dropped and explained in ``problems``; the rest applies."""
    problems: list[str] = []

    def number(key: str, message: str) -> int | None:
        try:
            return _positive_int(args.get(key))
        except ValueError:
            problems.append(message)
            return None

    def day(key: str, message: str) -> date | None:
        try:
            return parse_date(args.get(key))
        except ValueError:
            problems.append(message)
            return None

    course_id = number("course", _("The course filter was not understood and was ignored."))
    assignment_id = number("assignment",
                           _("The assignment filter was not understood and was ignored."))
    due_from = day("due_from", _("The start of the date range is not a date (use dd/mm/yyyy); "
                                 "it was ignored."))
    due_to = day("due_to", _("The end of the date range is not a date (use dd/mm/yyyy); "
                             "it was ignored."))
    if due_from and due_to and due_from > due_to:
        problems.append(_("The date range ends before it starts; it was ignored."))
        due_from = due_to = None
    position = " ".join((args.get("position") or "").split())[:POSITION_MAX] or None
    snapshot_id = number("snapshot", _("The snapshot was not found; the current figures are "
                                       "shown."))
    compare_id = number("compare", _("The snapshot to compare with was not found."))
    filters = Filters(course_id=course_id, assignment_id=assignment_id, due_from=due_from,
                      due_to=due_to, position=position, timezone=timezone)
    return ReportParams(filters=filters, snapshot_id=snapshot_id, compare_id=compare_id,
                        problems=tuple(problems))


def without_snapshots(params: ReportParams) -> ReportParams:
    return replace(params, snapshot_id=None, compare_id=None)


def parse_choice(value: str | None, allowed: tuple[str, ...], default: str) -> str:
    return value if value in allowed else default


def parse_page(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


def parse_month(value: str | None) -> date | None:
    """The first day of the month written as YYYY-MM (or MM/YYYY); None if blank.
    Raises ValueError when malformed."""
    text = (value or "").strip()
    if not text:
        return None
    for pattern in ("%Y-%m", "%m/%Y"):
        try:
            parsed = datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        if parsed.year < 2000:
            raise ValueError(text)
        return parsed
    raise ValueError(text)


class SnapshotForm(FlaskForm):
    """Freeze every unit's figures as of today (admins)."""

    label = StringField(_l("Label (optional)"), validators=[Optional(), Length(max=120)],
                        description=_l("For example “Before the June review”. Two snapshots of "
                                       "the same day need different labels."))
