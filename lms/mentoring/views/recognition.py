"""The recognition table for unit heads, trainers and admins: per mentor of a unit's
subtree, mentees, completions, help requests and coaching in a period; and its exports.

Each view: load the unit or 404 -> may report on it or 403 -> read the filters (a date that
cannot be read is shown as the field's error and the default applies) -> read -> respond.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Iterable, Sequence
from zoneinfo import ZoneInfo

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from werkzeug.routing import BuildError

from lms.auth.permissions import head_scope_paths, is_admin, path_in_scopes
from lms.db import db
from lms.forms import choices
from lms.i18n import select_timezone
from lms.mentoring.forms import RecognitionFilterForm
from lms.mentoring.permissions import can_manage_mentoring, can_pair_in_unit
from lms.mentoring.recognition import (
    MentorFigures,
    Period,
    Recognition,
    recognition_table,
)
from lms.mentoring.views import _me, _require, bp
from lms.org.models import Unit
from lms.org.permissions import can_browse_org
from lms.reports.exports import export_response
from lms.reports.permissions import (
    can_open_reports,
    can_view_unit_report,
    visible_report_units_clause,
)
from lms.reports.queries import top_report_unit
from lms.reports.views.dashboard import breadcrumb, safe_filename
from lms.templating import unit_display_name

INDENT = "\u2003"   # an em space per level below the top of the list




def _today(zone: str) -> date:
    return datetime.now(timezone.utc).astimezone(ZoneInfo(zone)).date()


def unit_options(viewer: Any) -> list[tuple[int, str]]:
    """The active units the viewer may report on, in tree order, indented by level."""
    units = db.session.scalars(select(Unit).where(visible_report_units_clause(viewer),
                                                  Unit.is_active.is_(True))).all()
    by_id = {u.id: u for u in units}

    def ids(unit: Unit) -> list[int]:
        return [int(part) for part in unit.path.strip("/").split("/") if part]

    def key(unit: Unit) -> list[tuple[str, int]]:
        return [(by_id[i].name.casefold(), i) for i in ids(unit) if i in by_id]

    def level(unit: Unit) -> int:
        return sum(1 for i in ids(unit)[:-1] if i in by_id)

    return [(u.id, INDENT * level(u) + unit_display_name(u)) for u in sorted(units, key=key)]


def read_filters(viewer: Any, page: bool = True) -> tuple[RecognitionFilterForm, Unit, Period]:
    """The unit (the viewer's top report unit by default; 404 unknown, 403 out of scope) and
    the period (this year so far by default) asked for in the query string; on the ``page``,
    the form offers the units the viewer may choose."""
    options = unit_options(viewer) if page else []
    form = RecognitionFilterForm(formdata=request.args, units=options)
    form.validate()
    unit_id = form.unit_id.data
    if unit_id is None:
        unit = top_report_unit(db.session, viewer) or abort(404)
    else:
        unit = db.session.get(Unit, unit_id) or abort(404)
        _require(can_view_unit_report(viewer, unit))
    if page and unit.id not in {value for value, _label in options}:   # e.g. a closed unit
        form.unit_id.choices = [*form.unit_id.choices,
                                *choices([(unit.id, unit_display_name(unit))])]
    zone = select_timezone()
    default = Period.this_year(_today(zone), zone)
    start = form.start.data if not form.start.errors else None
    end = form.end.data if not form.end.errors else None
    end = end or default.end
    start = start or date(end.year, 1, 1)   # a year's end alone: that whole year
    if start > end:
        form.end.errors = [*form.end.errors, _("The period ends before it starts; this year "
                                                "so far is shown.")]
        start, end = default.start, default.end
    form.unit_id.data, form.start.data, form.end.data = unit.id, start, end
    return form, unit, Period(start, end, zone)


def _person_links(viewer: Any, table: Recognition) -> dict[int, str]:
    """Each mentor's page in the organisation, for viewers who may open it."""
    if not can_browse_org(viewer):
        return {}
    scopes = head_scope_paths(viewer)
    return {line.person.id: url_for("org.person_detail", person_id=line.person.id)
            for line in table.lines
            if is_admin(viewer) or path_in_scopes(line.person.unit.path, scopes)}


def _pairing_url(viewer: Any, unit: Unit) -> str | None:
    if not (can_manage_mentoring(viewer) and can_pair_in_unit(viewer, unit)):
        return None
    try:
        return url_for("mentoring.bulk", unit_id=unit.id)
    except BuildError:   # the pairing pages are not installed
        return None


def period_args(period: Period) -> dict[str, str]:
    return {"start": period.start.isoformat(), "end": period.end.isoformat()}


@bp.route("/recognition")
@login_required
def recognition():
    me = _me()
    _require(can_open_reports(me))
    form, unit, period = read_filters(me)
    table = recognition_table(db.session, unit, period)
    args = {"unit_id": unit.id, **period_args(period)}
    return render_template(
        "mentoring/recognition.html", form=form, unit=unit, crumbs=breadcrumb(unit),
        period=period, table=table,
        args=args, person_links=_person_links(me, table), pairing_url=_pairing_url(me, unit),
        is_this_year=period == Period.this_year(_today(period.timezone), period.timezone))


# ---------------------------------------------------------------- exports

def export_header() -> list[str]:
    return [_("Employee code"), _("Mentor"), _("Unit"), _("Current mentees"),
            _("Mentees who completed their assigned training"), _("Open help requests"),
            _("Help requests solved in the period"), _("Coaching sessions"),
            _("Coaching hours"), _("People reached")]


def _figures(f: MentorFigures) -> list[Any]:
    return [f.mentees, f.completed, f.open_requests, f.solved, f.sessions, f.hours, f.people]


def export_rows(table: Recognition) -> Iterable[Sequence[Any]]:
    for line in table.lines:
        yield [line.person.employee_code, line.person.full_name,
               unit_display_name(line.person.unit), *_figures(line.figures)]
    yield ["", _("Total"), unit_display_name(table.unit), *_figures(table.total)]


@bp.route("/recognition/export.<any(csv, xlsx):kind>")
@login_required
def recognition_export(kind: str):
    me = _me()
    _require(can_open_reports(me))
    _form, unit, period = read_filters(me, page=False)
    table = recognition_table(db.session, unit, period)
    filename = safe_filename(unit.code, "mentors", period.start.isoformat(),
                             period.end.isoformat())
    return export_response(kind, filename, unit.name, export_header(), export_rows(table))
