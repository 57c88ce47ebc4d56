"""The printable monthly report of a unit: its figures as of the month's end, for the head to
sign.

``monthly_report`` reads the values (a month-end snapshot of that date when one exists and
no filter is set, else the figures computed as of the end of the month) into frozen
dataclasses; ``render_pdf`` turns them into an A4 portrait PDF with WeasyPrint and needs no
database. The fonts are the bundled Noto fonts of the certificates, loaded by ``@font-face``
through an allow-listing URL fetcher (nothing else can be fetched), so the PDF never depends
on the host's fonts and Vietnamese text extracts exactly. The charts are the dashboard's
own SVG macros.

Like the certificates, each process keeps one FontConfiguration and the parsed stylesheet.
"""
from __future__ import annotations

import os
import threading
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext, ngettext
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from lms.assignments.models import Assignment
from lms.certificates.rendering import FONTS_DIR, TEMPLATES_DIR, AllowListFetcher
from lms.courses.models import Course
from lms.org.models import Unit
from lms.reports import charts, queries
from lms.reports.figures import Figures, Filters
from lms.reports.services import (
    REPORT_TIMEZONE,
    end_of_day,
    snapshot_figures,
    snapshot_own_figures,
    snapshot_view,
)

REPORTS_TEMPLATES = TEMPLATES_DIR.parent / "reports"


# ---------------------------------------------------------------- values

@dataclass(frozen=True)
class MonthlyFigures:
    headcount: int
    assigned: int
    completed: int
    completion_pct: float | None
    on_track: int
    overdue: int
    not_started: int
    average_score: float | None
    certificates: int

    @classmethod
    def of(cls, f: Figures) -> MonthlyFigures:
        return cls(headcount=f.headcount, assigned=f.assigned, completed=f.completed,
                   completion_pct=f.completion_pct, on_track=f.on_track, overdue=f.overdue,
                   not_started=f.not_started, average_score=f.average_score,
                   certificates=f.certificates)


@dataclass(frozen=True)
class MonthlyLine:
    code: str
    name: str
    own: bool            # the people placed directly in the unit, not a sub-unit
    figures: MonthlyFigures


@dataclass(frozen=True)
class MonthlyReport:
    """What the monthly PDF prints, already in the reader's language where it is data."""

    ministry_name: str
    unit_name: str
    unit_code: str
    month: date                    # the month's first day
    as_of: date                    # its last day, or today for the month under way
    total: MonthlyFigures
    rows: tuple[MonthlyLine, ...]
    trend: tuple[tuple[date, float | None], ...]
    snapshot_taken_on: date | None  # the figures are a month-end snapshot taken that day
    filters: tuple[tuple[str, str], ...]   # (what, value) of the filters applied
    head_name: str
    head_title: str
    printed_on: date
    locale: str = "vi"

    @property
    def month_text(self) -> str:
        return f"{self.month.month:02d}/{self.month.year}"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text or "").strip()


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first, last


def default_month(now: datetime, timezone: str = REPORT_TIMEZONE) -> date:
    """The last full month (the first day of it)."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def _label(name: str, name_en: str, locale: str) -> str:
    return nfc(name_en if locale == "en" and name_en else name)


def _filter_lines(dbs: Session, filters: Filters, locale: str) -> tuple[tuple[str, str], ...]:
    lines = []
    if filters.course_id:
        course = dbs.get(Course, filters.course_id)
        lines.append((gettext("Course"), nfc(course.title) if course else f"#{filters.course_id}"))
    if filters.assignment_id:
        assignment = dbs.get(Assignment, filters.assignment_id)
        lines.append((gettext("Assignment"), nfc(f"{assignment.decision_number} — "
                                                 f"{assignment.title}") if assignment
                      else f"#{filters.assignment_id}"))
    if filters.due_from or filters.due_to:
        span = " – ".join(charts.format_day(d, locale) if d else "…"
                          for d in (filters.due_from, filters.due_to))
        lines.append((gettext("Due between"), span))
    if filters.position:
        lines.append((gettext("Position"), nfc(filters.position)))
    return tuple(lines)


def monthly_report(dbs: Session, unit: Unit, month: date, filters: Filters, now: datetime,
                   locale: str = "vi") -> MonthlyReport:
    """The unit's figures as of the end of ``month`` (of today for the month under way)."""
    zone = ZoneInfo(REPORT_TIMEZONE)
    today = now.astimezone(zone).date()
    first, last = month_bounds(month)
    finished = last < today
    as_of = last if finished else today
    at = min(end_of_day(last).astimezone(ZoneInfo("UTC")), now)
    board = queries.live_dashboard(dbs, unit, filters, at)
    total = MonthlyFigures.of(board.total.figures)
    rows = tuple(MonthlyLine(line.code, _label(line.name, line.name_en, locale),
                             line.kind == "own", MonthlyFigures.of(line.figures))
                 for line in board.rows)
    taken_on = None
    snapshot = queries.month_end_snapshot(dbs, last) if finished and filters.is_empty else None
    view = snapshot_view(dbs, snapshot, unit.id) if snapshot is not None else None
    if view is not None:
        total = MonthlyFigures.of(snapshot_figures(view.unit))
        rows = tuple(MonthlyLine(row.unit_code, _label(row.unit_name, row.unit_name_en, locale),
                                 False, MonthlyFigures.of(snapshot_figures(row)))
                     for row in view.rows)
        own = snapshot_own_figures(view.unit)
        if own is not None:
            rows += (MonthlyLine(view.unit.unit_code,
                                 _label(view.unit.unit_name, view.unit.unit_name_en, locale),
                                 True, MonthlyFigures.of(own)),)
        taken_on = snapshot.taken_at.astimezone(zone).date()
    root_id = int(unit.path.strip("/").split("/")[0])
    root = unit if root_id == unit.id else dbs.get(Unit, root_id)
    head = queries.unit_head_of(dbs, unit)
    trend = tuple(((end.astimezone(zone) - timedelta(microseconds=1)).date(), pct)
                  for end, pct in board.trend)
    return MonthlyReport(
        ministry_name=_label(root.name, root.name_en, locale) if root else "",
        unit_name=_label(unit.name, unit.name_en, locale), unit_code=unit.code, month=first,
        as_of=as_of, total=total, rows=rows, trend=trend, snapshot_taken_on=taken_on,
        filters=_filter_lines(dbs, filters, locale), head_name=nfc(head[0]) if head else "",
        head_title=nfc(head[1]) if head else "", printed_on=today, locale=locale)


# ---------------------------------------------------------------- rendering

BARS_PER_CHART = 18     # an SVG cannot break across pages: long lists get several charts
SIDE_BY_SIDE_BARS = 8   # up to this many sub-units, the two charts share a row


def context_for(report: MonthlyReport) -> dict[str, Any]:
    locale = report.locale
    items = [(line.name, line.figures.completion_pct)
             for line in report.rows if not line.own]
    side_by_side = len(items) <= SIDE_BY_SIDE_BARS
    # Each chart's width in SVG units is chosen so that its text prints at about the size
    # of the tables' (a full-width chart is drawn wider than a half-width one).
    bar_width, line_width, line_height = (400, 400, 230) if side_by_side else (720, 680, 190)
    title = gettext("Assigned training completed, by sub-unit")
    bar_charts = [charts.bar_chart(items[i:i + BARS_PER_CHART], title=title, locale=locale,
                                   width=bar_width, label_chars=bar_width // 7)
                  for i in range(0, len(items), BARS_PER_CHART)]
    line = charts.line_chart(
        [(charts.format_short_day(day, locale), pct) for day, pct in report.trend],
        title=gettext("Assigned training completed, week by week"), locale=locale,
        width=line_width, height=line_height, max_labels=6 if side_by_side else 8) \
        if report.trend else None
    return {"report": report, "bar_charts": bar_charts, "line": line, "locale": locale,
            "side_by_side": side_by_side and bool(bar_charts) and line is not None}


_lock = threading.Lock()
_cache: dict[str, Any] = {}


def _jinja() -> Environment:
    env = Environment(loader=FileSystemLoader(str(REPORTS_TEMPLATES.parent)),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["pct"] = lambda v, loc="vi": charts.format_pct(v, loc)
    env.filters["num"] = lambda v, loc="vi": charts.format_number(v, loc)
    env.filters["day"] = lambda v, loc="vi": charts.format_day(v, loc)
    return env


def _resources() -> dict[str, Any]:
    """The per-process Jinja environment, fonts and parsed CSS (call under _lock)."""
    if _cache.get("pid") != os.getpid():     # a forked worker builds its own
        _cache.clear()
        font_config = FontConfiguration()
        fetcher = AllowListFetcher()
        css = CSS(string=(REPORTS_TEMPLATES / "monthly.css").read_text(encoding="utf-8"),
                  base_url=FONTS_DIR.as_uri() + "/", font_config=font_config,
                  url_fetcher=fetcher)
        _cache.update(pid=os.getpid(), font_config=font_config, fetcher=fetcher, css=css,
                      jinja=_jinja())
    return _cache


def render_pdf(report: MonthlyReport) -> bytes:
    """The monthly report as PDF bytes (A4 portrait, as many pages as the sub-units need)."""
    with _lock:  # a FontConfiguration is not meant to be shared by threads at once
        res = _resources()
        html = res["jinja"].get_template("reports/monthly.html").render(**context_for(report))
        document = HTML(string=html, base_url=FONTS_DIR.as_uri() + "/",
                        url_fetcher=res["fetcher"]).render(stylesheets=[res["css"]],
                                                           font_config=res["font_config"])
        return document.write_pdf()
