"""The mentoring blueprints: pairing, the mentor's page, coaching sessions and the unit
heads' recognition table (``mentoring``); help requests and their threads (``help``)."""
from __future__ import annotations

from flask import Blueprint, Flask, abort
from flask_login import current_user

bp = Blueprint("mentoring", __name__, url_prefix="/mentoring")
help_bp = Blueprint("help", __name__, url_prefix="/help")


def _me():
    """The signed-in person (the User row behind the proxy)."""
    return current_user._get_current_object()


def _require(allowed: bool) -> None:
    if not allowed:
        abort(403)


def init_app(app: Flask) -> None:
    from lms.mentoring import daily, notices

    notices.register_kinds()
    daily.register_kinds()
    app.register_blueprint(bp)
    app.register_blueprint(help_bp)


from lms.mentoring.views import (  # noqa: E402,F401  (registers the pages)
    coaching,
    help,
    mentor,
    pairing,
    recognition,
)
