"""Who is behind in a unit's subtree: the overdue and the not-started lists."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask import abort, flash, render_template, request
from flask_login import current_user, login_required

from lms.db import db, utcnow
from lms.i18n import select_timezone
from lms.org.models import Unit
from lms.quizzes.permissions import can_remediate
from lms.reports import queries
from lms.reports.behind import LIST_KINDS, SORT_KEYS, BehindRow, behind_page, behind_params
from lms.reports.forms import parse_page, parse_report_params
from lms.reports.permissions import can_view_unit_report
from lms.reports.views import bp
from lms.reports.views.dashboard import breadcrumb

PER_PAGE = 50


def _attempts_link_allowed(viewer: Any, row: BehindRow) -> bool:
    """The person's attempts page for the course has its own rule: ask it."""
    person = SimpleNamespace(id=row.person_id, unit=SimpleNamespace(path=row.unit_path))
    return can_remediate(viewer, person)


@bp.route("/reports/units/<int:unit_id>/behind")
@login_required
def behind(unit_id: int):
    unit = db.session.get(Unit, unit_id) or abort(404)
    if not can_view_unit_report(current_user, unit):
        abort(403)
    viewer = current_user._get_current_object()
    params = parse_report_params(request.args, select_timezone())
    for problem in params.problems:
        flash(problem, "warning")
    filters = params.filters
    list_kind, sort = behind_params(request.args)
    page = behind_page(db.session, unit, filters, list_kind, sort, utcnow(),
                       parse_page(request.args.get("page")), PER_PAGE)
    kept = params.filter_args()
    listed = {"list": list_kind, "sort": sort.key, "dir": sort.direction}
    return render_template(
        "reports/behind.html", unit=unit, page=page, list_kind=list_kind, sort=sort,
        list_kinds=LIST_KINDS, sort_keys=SORT_KEYS, filters=filters, kept=kept, listed=listed,
        args={"unit_id": unit.id, **listed, **kept}, crumbs=breadcrumb(unit),
        options=queries.filter_options(db.session, unit),
        attempts_links={row.person_id: _attempts_link_allowed(viewer, row) for row in page.items})
