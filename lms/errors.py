"""Domain errors and the error pages.

A user-caused problem raises ``DomainError`` with a translatable message; views turn it
into a flash message or a 4xx page. Nothing a user can cause becomes a 500.
"""
from __future__ import annotations

import logging

from flask import Flask, g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
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


# Signs, in the driver's message, of a database that cannot be reached right now (a restart,
# a network cut, a file that cannot be opened), as opposed to a bug in a query.
UNAVAILABLE_MESSAGES = (
    "connection refused", "could not connect", "connection failed", "connection timeout",
    "timeout expired", "server closed the connection", "terminating connection",
    "connection is closed", "connection already closed", "connection was closed",
    "consuming input failed", "no route to host", "network is unreachable",
    "the database system is starting up", "the database system is shutting down",
    "the database system is in recovery mode", "ssl syscall error",
    "unable to open database file",
)
# SQLSTATE: 08… connection exceptions, 57P01-03 server shut down or not ready, too many clients.
UNAVAILABLE_SQLSTATES = ("57P01", "57P02", "57P03", "53300")
RETRY_AFTER_SECONDS = 10


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached now (503), not that a query is
    wrong (500). The pool's pre-ping reconnects by itself once it is back."""
    if isinstance(exc, PoolTimeoutError):   # every pooled connection busy: come back soon
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or ""
    if sqlstate.startswith("08") or sqlstate in UNAVAILABLE_SQLSTATES:
        return True
    message = str(orig).lower()
    return any(sign in message for sign in UNAVAILABLE_MESSAGES)


def database_unavailable(exc: BaseException):
    """The answer while the database is down: the friendly 503 page, or a 503 problem under
    /api/, with Retry-After. Logged once per request, as a warning without a traceback."""
    from lms.db import db
    from lms.extensions import login_manager

    if not g.get("_lms_database_down_logged"):
        g._lms_database_down_logged = True
        orig = getattr(exc, "orig", None) or exc
        reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0][:200]
        log.warning("database unavailable on %s %s: %s", request.method, request.path, reason)
    try:
        db.session.rollback()
    except Exception:   # the connection is gone already: nothing to roll back
        pass
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.path.startswith("/api/"):
        from lms.api.problems import problem_response

        return problem_response(503, headers=headers)
    # The page must not need the database: it is shown as to a visitor.
    g._login_user = login_manager.anonymous_user()
    g._unread_notifications = 0
    body, status = render_error(503)
    return body, status, headers


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
        if is_database_unavailable(exc):
            return database_unavailable(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        from lms.db import db

        db.session.rollback()  # the failed transaction must not break the error page too
        return render_error(500)
