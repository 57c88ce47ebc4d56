"""The reports blueprint: unit dashboards, drill-downs, who is behind, exports, snapshots,
the monthly PDF, and the movement's public page."""
from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("reports", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


from lms.reports.views import (  # noqa: E402,F401  (routes register on bp)
    behind,
    dashboard,
    pdf,
    public,
    snapshots,
)
