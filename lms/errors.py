"""Domain errors and the error pages.

A user-caused problem raises ``DomainError`` with a translatable message; views turn it
into a flash message or a 4xx page. Nothing a user can cause becomes a 500.
"""
from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule of the domain was broken by input a user gave; the message is for that user."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


ERROR_TITLES = {
    400: _l("The request could not be understood"),
    403: _l("You do not have access to this page"),
    404: _l("Page not found"),
    405: _l("This action is not allowed here"),
    413: _l("The file or form is too large"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong on our side"),
    503: _l("The service is briefly unavailable"),
}

ERROR_EXPLANATIONS = {
    400: _l("Please go back, reload the page and try again."),
    403: _l("Your account does not have the right to see this. If you think it should, "
            "ask your unit's administrator."),
    404: _l("The address may be mistyped, or the page was moved or removed."),
    405: _l("Please go back and use the buttons on the page."),
    413: _l("Please send a smaller file."),
    429: _l("Too many attempts from your network in a short time. Please wait a minute "
            "and try again."),
    500: _l("The error was recorded. Please try again in a moment; if it persists, "
            "contact the IT team."),
    503: _l("Please try again in a moment."),
}


def render_error(status: int, explanation: str | None = None) -> tuple[str, int]:
    code = status if status in ERROR_TITLES else 500
    return (
        render_template(
            "errors/error.html",
            status=status,
            title=ERROR_TITLES[code],
            explanation=explanation or ERROR_EXPLANATIONS[code],
        ),
        status,
    )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(_exc: CSRFError):
        return render_error(
            400,
            str(_l("The form had expired or was sent from elsewhere. Reload the page and "
                   "submit it again.")),
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if request.path.startswith("/api/"):   # no route matched: still a problem document
            from lms.api.views import http_problem

            return http_problem(exc)
        return render_error(exc.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        from lms.db import db

        db.session.rollback()  # the failed transaction must not break the error page too
        return render_error(500)
