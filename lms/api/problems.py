"""Errors of the API as RFC 9457 problem details (``application/problem+json``).

``type`` points at the problem's section of the API reference; ``title`` names the kind of
problem and ``detail`` says what to change, both in the caller's language (Accept-Language).
"""
from __future__ import annotations

from typing import Any, Mapping

from flask import Response, json, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

PROBLEM_JSON = "application/problem+json"

# status -> (slug in the reference, title)
PROBLEMS = {
    400: ("bad-request", _l("The request is malformed")),
    401: ("unauthorized", _l("A valid API token is required")),
    403: ("forbidden", _l("This client may not do this")),
    404: ("not-found", _l("Not found")),
    405: ("method-not-allowed", _l("Method not allowed")),
    406: ("not-acceptable", _l("Not acceptable")),
    409: ("conflict", _l("Conflict")),
    413: ("too-large", _l("The request is too large")),
    415: ("unsupported-media-type", _l("Send JSON")),
    422: ("invalid-data", _l("The data is not valid")),
    429: ("rate-limited", _l("Too many requests")),
    500: ("server-error", _l("Something went wrong on our side")),
    503: ("unavailable", _l("The service is briefly unavailable")),
}


class ApiProblem(Exception):
    """Raised by API code to answer with a problem; ``errors`` lists per-item problems."""

    def __init__(self, status: int, detail: str, *, errors: list[dict[str, Any]] | None = None,
                 headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = str(detail)
        self.errors = errors
        self.headers = dict(headers or {})
        self.extra = extra


def problem_type(status: int) -> str:
    slug = PROBLEMS.get(status, PROBLEMS[500])[0]
    return url_for("api.reference", _external=True) + "#problem-" + slug


def problem_response(status: int, detail: str | None = None, *,
                     errors: list[dict[str, Any]] | None = None,
                     headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    title = PROBLEMS.get(status, PROBLEMS[500])[1]
    body: dict[str, Any] = {"type": problem_type(status), "title": str(title), "status": status,
                            "detail": str(detail or title)}
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    response = Response(json.dumps(body, ensure_ascii=False), status=status,
                        mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def default_detail(status: int) -> str:
    details = {
        401: _("Send the client's token in the Authorization header: “Bearer lms_…”. "
               "A revoked or replaced token no longer works."),
        404: _("Nothing exists at this address, or it is not visible to this client."),
        405: _("This address does not accept this method; see the API reference."),
        413: _("The request body is larger than the API accepts. Send fewer items at once."),
        429: _("This client sent too many requests. Wait for the number of seconds in "
               "Retry-After, then try again."),
        500: _("The error was recorded. Try again in a moment; if it persists, contact the "
               "ministry's IT team."),
    }
    return details.get(status, str(PROBLEMS.get(status, PROBLEMS[500])[1]))
