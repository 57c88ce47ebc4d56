"""The unit head's dashboard, its people list and the exports of both (and of who is behind).

Each view: load the unit or 404 -> ``can_view_unit_report`` or 403 -> parse the filters
(anything malformed is ignored with a message) -> read -> render. The exports ask the same
rules and take the same filters as the pages they come from.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Sequence
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from lms.db import db, utcnow
from lms.i18n import select_timezone
from lms.mentoring.recognition import Period, unit_summary
from lms.org.models import Unit
from lms.reports import charts, queries
from lms.reports.exports import export_response
from lms.reports.forms import (
    PEOPLE_SORTS,
    PEOPLE_STATUSES,
    SNAPSHOT_KIND_LABELS,
    STATUS_LABELS,
    ReportParams,
    parse_choice,
    parse_page,
    parse_report_params,
)
from lms.reports.models import Snapshot
from lms.reports.monthly import default_month
from lms.reports.permissions import can_open_reports, can_view_unit_report
from lms.reports.services import REPORT_TIMEZONE
from lms.reports.views import bp
from lms.templating import unit_display_name

PER_PAGE = 50
DEFAULT_DESCENDING = {"overdue"}     # the most overdue first; the rest ascending


# ---------------------------------------------------------------- shared by the report views

def load_unit(unit_id: int) -> Unit:
    """The unit of a report URL: 404 when unknown, 403 outside the viewer's scope."""
    unit = db.session.get(Unit, unit_id) or abort(404)
    if not can_view_unit_report(current_user, unit):
        abort(403)
    return unit


def read_params(show_problems: bool = True) -> ReportParams:
    params = parse_report_params(request.args, select_timezone())
    if show_problems:
        for problem in params.problems:
            flash(problem, "warning")
    return params


def locale() -> str:
    return str(get_locale() or "vi")


def breadcrumb(unit: Unit) -> list[Unit]:
    """The units above this one that the viewer may open (each links to its dashboard)."""
    return [u for u in queries.ancestors(db.session, unit) if can_view_unit_report(current_user, u)]


def safe_filename(*parts: str) -> str:
    return "-".join(re.sub(r"[^A-Za-z0-9_.-]+", "_", part).strip("_") or "report"
                    for part in parts)


@bp.app_template_filter("pct")
def _pct_filter(value: float | None) -> str:
    return charts.format_pct(value, locale())


@bp.app_template_filter("num")
def _num_filter(value: float | None) -> str:
    return charts.format_number(value, locale())


@bp.app_template_filter("delta")
def _delta_filter(value: float | None) -> str:
    return charts.format_delta(value, locale())


@bp.app_template_filter("report_date")
def _date_filter(value: date | datetime | None) -> str:
    """A calendar date as dd/mm/yyyy in Vietnamese (a UTC moment: its date in the viewer's zone)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(select_timezone())).date()
    return charts.format_day(value, locale())


# ---------------------------------------------------------------- /reports

@bp.route("/reports")
@login_required
def index():
    if not can_open_reports(current_user):
        abort(403)
    unit = queries.top_report_unit(db.session, current_user._get_current_object()) or abort(404)
    return redirect(url_for("reports.dashboard", unit_id=unit.id))


# ---------------------------------------------------------------- the dashboard

def build_dashboard(unit: Unit, params: ReportParams, now: datetime,
                    notes: list[str]) -> tuple[queries.Dashboard, ReportParams]:
    """Live figures, or a snapshot's, with the change since another snapshot if asked.

    A snapshot or comparison that cannot be shown is dropped with a note; snapshots hold the
    figures of all assigned training, so they are not mixed with filtered figures."""
    snapshot_id, compare_id = params.snapshot_id, params.compare_id
    board = None
    if snapshot_id:
        snapshot = db.session.get(Snapshot, snapshot_id)
        board = queries.snapshot_dashboard(db.session, unit, snapshot) if snapshot else None
        if board is None:
            notes.append(_("This unit has no figures in that snapshot; the current figures "
                           "are shown."))
            snapshot_id = None
        elif not params.filters.is_empty:
            notes.append(_("A snapshot keeps the figures of all assigned training: the filters "
                           "do not apply to it."))
    if board is None:
        board = queries.live_dashboard(db.session, unit, params.filters, now)
    if compare_id:
        compare = db.session.get(Snapshot, compare_id)
        if compare is None:
            notes.append(_("The snapshot to compare with was not found."))
            compare_id = None
        elif not snapshot_id and not params.filters.is_empty:
            notes.append(_("A snapshot keeps the figures of all assigned training: remove the "
                           "filters to compare with it."))
            compare_id = None
        else:
            board = queries.with_comparison(db.session, board, compare)
    return board, ReportParams(filters=params.filters, snapshot_id=snapshot_id,
                               compare_id=compare_id)


def week_label(moment: datetime, timezone: str, language: str) -> str:
    """A week end (Monday 00:00 local, or now) printed as the last day it covers."""
    day = (moment.astimezone(ZoneInfo(timezone)) - timedelta(microseconds=1)).date()
    return charts.format_short_day(day, language)


def chart_values(board: queries.Dashboard, timezone: str,
                 language: str) -> tuple[charts.BarChart, charts.LineChart | None]:
    """The bar chart of the sub-units and the weekly line of the total (None in a snapshot)."""
    bars = charts.bar_chart(
        [(unit_display_name(line), line.figures.completion_pct) for line in board.unit_rows],
        title=_("Assigned training completed, by sub-unit"), locale=language)
    line = None
    if board.trend:
        line = charts.line_chart(
            [(week_label(end, timezone, language), pct) for end, pct in board.trend],
            title=_("Assigned training completed, week by week"), locale=language)
    return bars, line


def line_links(line: queries.Line, kept: dict[str, str], mode: dict[str, str],
               live: bool) -> dict[str, str]:
    """Where each number of a dashboard line drills down to.

    A sub-unit's name opens its dashboard (in the same snapshot mode). The numbers open
    today's lists, so a snapshot's frozen numbers are not links. The "placed directly" line
    opens the lists of the people of the unit itself (``direct=1``)."""
    links: dict[str, str] = {}
    if line.kind == "unit":
        links["name"] = url_for("reports.dashboard", unit_id=line.unit_id, **kept, **mode)
    if not live:
        return links

    def people(**extra: str) -> str:
        direct = {"direct": "1"} if line.kind == "own" else {}
        return url_for("reports.people", unit_id=line.unit_id, **kept, **direct, **extra)

    def behind(list_kind: str) -> str:
        if line.kind == "own":
            return people(status=list_kind)
        return url_for("reports.behind", unit_id=line.unit_id, list=list_kind, **kept)

    links.update(headcount=people(), assigned=people(), completed=people(status="completed"),
                 completion_pct=people(sort="completion"), on_track=people(status="on_track"),
                 overdue=behind("overdue"), not_started=behind("not_started"),
                 average_score=people(), certificates=people())
    return links


@bp.route("/reports/units/<int:unit_id>")
@login_required
def dashboard(unit_id: int):
    unit = load_unit(unit_id)
    params = read_params()
    notes: list[str] = []
    board, params = build_dashboard(unit, params, utcnow(), notes)
    kept = params.filter_args()
    mode = {k: v for k, v in params.args().items() if k in ("snapshot", "compare")}
    live = board.snapshot is None
    bars, line = chart_values(board, params.filters.timezone, locale())
    zone = params.filters.timezone
    mentoring = unit_summary(db.session, unit, Period.this_year(
        utcnow().astimezone(ZoneInfo(zone)).date(), zone))
    return render_template(
        "reports/dashboard.html", unit=unit, crumbs=breadcrumb(unit), board=board,
        params=params, kept=kept, mode=mode, kept_mode={**kept, **mode}, notes=notes, bars=bars,
        line=line, live=live, mentoring=mentoring,
        row_links=[line_links(row, kept, mode, live) for row in board.rows],
        total_links=line_links(board.total, kept, mode, live),
        options=queries.filter_options(db.session, unit),
        snapshots=queries.snapshot_options(db.session), kind_labels=SNAPSHOT_KIND_LABELS,
        status_labels=STATUS_LABELS, default_month=default_month(utcnow()),
        this_month=utcnow().astimezone(ZoneInfo(REPORT_TIMEZONE)).strftime("%Y-%m"))


# ---------------------------------------------------------------- people

def people_params() -> tuple[str, str, bool, bool]:
    """(status, sort, descending, direct) of a people list request."""
    status = parse_choice(request.args.get("status"), PEOPLE_STATUSES, "all")
    sort = parse_choice(request.args.get("sort"), PEOPLE_SORTS, "name")
    direction = request.args.get("dir")
    descending = direction == "desc" if direction in ("asc", "desc") \
        else sort in DEFAULT_DESCENDING
    return status, sort, descending, request.args.get("direct") == "1"


@bp.route("/reports/units/<int:unit_id>/people")
@login_required
def people(unit_id: int):
    unit = load_unit(unit_id)
    params = read_params()
    status, sort, descending, direct = people_params()
    page = queries.people_page(db.session, current_user._get_current_object(), unit,
                               params.filters, status, sort, descending,
                               parse_page(request.args.get("page")), PER_PAGE, utcnow(), direct)
    kept = params.filter_args()
    listing = {"status": status, "sort": sort, "dir": "desc" if descending else "asc",
               **({"direct": "1"} if direct else {})}
    return render_template(
        "reports/people.html", unit=unit, crumbs=breadcrumb(unit), page=page, kept=kept,
        filters=params.filters, kept_direct={**kept, **({"direct": "1"} if direct else {})},
        export_args={**kept, **listing},
        status=status, sort=sort, descending=descending, direct=direct, listing=listing,
        statuses=PEOPLE_STATUSES, status_labels=STATUS_LABELS,
        args={"unit_id": unit.id, **kept, **listing},
        options=queries.filter_options(db.session, unit))


# ---------------------------------------------------------------- exports

def dashboard_header(compared: bool) -> list[str]:
    header = [_("Code"), _("Unit"), _("Row"), _("Headcount"), _("Assigned"), _("Completed"),
              _("Completion rate"), _("On track"), _("Overdue"), _("Not started"), _("In progress"),
              _("Average quiz score"), _("Certificates")]
    return header + [_("Change (points)")] if compared else header


def dashboard_export_rows(board: queries.Dashboard) -> Iterable[Sequence[Any]]:
    kinds = {"unit": _("Sub-unit"), "own": _("Placed directly in this unit"),
             "total": _("Total")}
    for line in [*board.rows, board.total]:
        f = line.figures
        row = [line.code, unit_display_name(line), kinds[line.kind], f.headcount, f.assigned,
               f.completed, f.completion_pct, f.on_track, f.overdue, f.not_started,
               f.in_progress, f.average_score, f.certificates]
        yield row + [line.delta] if board.compare is not None else row


def people_header() -> list[str]:
    return [_("Employee code"), _("Full name"), _("Unit"), _("Position"), _("Assigned"),
            _("Completed"), _("Completion rate"), _("Overdue"), _("Average quiz score"),
            _("Certificates"), _("Last activity")]


def people_export_rows(rows: Iterable[queries.PersonRow], timezone: str) -> Iterable[Sequence[Any]]:
    for p in rows:
        yield (p.employee_code, p.full_name, unit_display_name(p.unit), p.position, p.assigned,
               p.completed, p.completion_pct, p.overdue, p.average_score, p.certificates,
               queries.local_naive(p.last_activity_at, timezone))


@bp.route("/reports/units/<int:unit_id>/export.<any(csv, xlsx):kind>")
@login_required
def export(unit_id: int, kind: str):
    unit = load_unit(unit_id)
    params = read_params(show_problems=False)
    filters = params.filters
    view = request.args.get("view", "dashboard")
    now = utcnow()
    if view == "dashboard":
        board, _params = build_dashboard(unit, params, now, [])
        header = dashboard_header(board.compare is not None)
        rows: Iterable[Sequence[Any]] = dashboard_export_rows(board)
    elif view == "people":
        status, sort, descending, direct = people_params()
        header = people_header()
        rows = people_export_rows(queries.people_rows(
            db.session, current_user._get_current_object(), unit, filters, status, sort,
            descending, now, direct), filters.timezone)
    elif view == "behind":
        from lms.reports.behind import behind_export_rows, behind_header, behind_params

        list_kind, behind_sort = behind_params(request.args)
        header = behind_header()
        rows = behind_export_rows(db.session, unit, filters, list_kind, behind_sort, now)
        view = list_kind
    else:
        abort(404)
    today = now.astimezone(ZoneInfo(filters.timezone)).date()
    return export_response(kind, safe_filename(unit.code, view, today.isoformat()),
                           unit.name, header, rows)
