"""The movement's public page: overall figures, the emulation table of the departments, and
the certificate verification box. No sign-in, no personal data."""
from __future__ import annotations

from flask import current_app, render_template
from flask_babel import get_locale

from lms.db import db
from lms.reports.charts import format_number, format_pct
from lms.reports.public import movement_figures
from lms.reports.views import bp


@bp.route("/movement")
def movement():
    app = current_app._get_current_object()
    figures = movement_figures(db.session, key=id(app),
                               max_age=float(app.config["MOVEMENT_CACHE_SECONDS"]))
    locale = str(get_locale() or "vi")
    return render_template("reports/movement.html", figures=figures, serial="",
                           number=lambda value: format_number(value, locale),
                           percent=lambda value: format_pct(value, locale))
