"""The assignments blueprint: assigning training by decision, learning paths."""
from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("assignments", __name__)


def init_app(app: Flask) -> None:
    """Register the pages and the receiver that enrols newcomers to targeted training."""
    from lms.assignments.services import on_people_placed
    from lms.org.events import people_placed

    people_placed.connect(on_people_placed, weak=False)
    app.register_blueprint(bp)

from lms.assignments.views import pages  # noqa: E402,F401  (registers the pages)
