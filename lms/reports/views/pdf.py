"""The printable monthly report of a unit (PDF), for the unit head to sign."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Response, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from lms.db import db, utcnow
from lms.reports import monthly
from lms.reports.forms import parse_month
from lms.reports.services import REPORT_TIMEZONE
from lms.reports.views import bp
from lms.reports.views.dashboard import load_unit, locale, read_params, safe_filename


@bp.route("/reports/units/<int:unit_id>/monthly.pdf")
@login_required
def monthly_pdf(unit_id: int):
    unit = load_unit(unit_id)
    params = read_params(show_problems=False)
    now = utcnow()
    back = url_for("reports.dashboard", unit_id=unit.id, **params.filter_args())
    try:
        month = parse_month(request.args.get("month")) or monthly.default_month(now)
    except ValueError:
        flash(_("Choose the month of the report as YYYY-MM, for example 2025-06."), "warning")
        return redirect(back)
    if month > now.astimezone(ZoneInfo(REPORT_TIMEZONE)).date():
        flash(_("That month has not started yet."), "warning")
        return redirect(back)
    report = monthly.monthly_report(db.session, unit, month, params.filters, now, locale())
    pdf = monthly.render_pdf(report)
    filename = safe_filename(unit.code, "monthly", month.strftime("%Y-%m")) + ".pdf"
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
