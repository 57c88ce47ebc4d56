"""The JSON API under /api/v1: bearer tokens, scopes, problem details, rate limits and a
log of every call per client.

Each resource module adds its routes to ``bp`` and describes them in its ``PATHS`` (and
``SCHEMAS``) for the OpenAPI document (``lms.api.spec``).
"""
from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import wraps
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, Flask, current_app, g, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import update
from werkzeug.exceptions import HTTPException

from lms.api.clients import ApiPrincipal, client_for_token, principal_for
from lms.api.models import ApiCall, ApiClient
from lms.api.problems import ApiProblem, default_detail, problem_response
from lms.db import db, sqlite_write_intent, utcnow
from lms.errors import DomainError, database_unavailable, is_database_unavailable
from lms.extensions import client_address, csrf, limiter

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Pages anyone may read: the document and its reference page.
PUBLIC_ENDPOINTS = {"api.openapi", "api.reference"}
LAST_USED_EVERY = 60  # seconds: a client's last_used_at is refreshed at most this often


def principal() -> ApiPrincipal:
    return g.api_principal


def requires_scope(scope: str) -> Callable:
    """The client must hold ``scope``; the permission rules then decide what it may read."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not principal().has_scope(scope):
                raise ApiProblem(403, _("This client does not have the scope %(scope)s. An "
                                        "administrator can add it on the client's page.",
                                        scope=scope), required_scope=scope)
            return view(*args, **kwargs)

        wrapped.required_scope = scope  # type: ignore[attr-defined]
        return wrapped

    return decorate


def forbidden() -> ApiProblem:
    return ApiProblem(403, _("This client's unit scope does not include this."))


def not_found(what: str) -> ApiProblem:
    return ApiProblem(404, _("%(what)s was not found, or is not visible to this client.",
                             what=what))


# ---------------------------------------------------------------- request arguments

RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
                     r"([Zz]|[+-]\d{2}:\d{2})$")


def parse_rfc3339(raw: str) -> datetime | None:
    """An RFC 3339 date-time (any fraction of a second, Z or an offset), or None."""
    match = RFC3339.match(raw.strip().replace(" ", "+", 1) if " " in raw[19:] else raw.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        zone = timezone.utc if offset in ("Z", "z") else timezone(
            (-1 if offset[0] == "-" else 1) * timedelta(hours=int(offset[1:3]),
                                                        minutes=int(offset[4:6])))
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute),
                          min(int(second), 59),   # a leap second counts as :59
                          int((fraction or "0")[:6].ljust(6, "0")), tzinfo=zone)
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


def datetime_arg(name: str, required: bool = False) -> datetime | None:
    """An RFC 3339 date-time with its offset (e.g. 2026-11-01T00:00:00+07:00)."""
    raw = request.args.get(name, "")
    if not raw.strip():
        if required:
            raise ApiProblem(400, _("The parameter %(name)s is required.", name=name))
        return None
    moment = parse_rfc3339(raw)
    if moment is None:
        raise ApiProblem(400, _("%(name)s must be a date-time with its offset, such as "
                                "2026-11-01T00:00:00+07:00 or 2026-10-31T17:00:00Z.", name=name))
    return moment


def json_body() -> dict[str, Any]:
    if not request.is_json:
        raise ApiProblem(415, _("Send the body as JSON with Content-Type: application/json."))
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiProblem(400, _("The body is not a JSON object."))
    return body


def next_page_url(next_cursor: str | None, absolute: bool = True) -> str | None:
    """This request's address with its arguments and the next page's cursor."""
    if not next_cursor:
        return None
    args = {**request.args.to_dict(), "cursor": next_cursor}
    return (request.base_url if absolute else request.path) + "?" + urlencode(args, quote_via=quote)


def page_json(data: list[Any], next_cursor: str | None, **extra: Any):
    """The envelope of every list: the items, and how to get the next page."""
    return jsonify({"data": data, "next_cursor": next_cursor,
                    "links": {"next": next_page_url(next_cursor)}, **extra})


# ---------------------------------------------------------------- every request

def api_rate_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


def rate_key() -> str:
    """Each token has its own budget; calls without one share their address's."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return "api-token:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()[:32]
    return "api-address:" + client_address()


def _authenticate() -> Any:
    g.api_started = time.perf_counter()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    client = client_for_token(db.session, token.strip()) if scheme.lower() == "bearer" else None
    if client is None:
        log.info("api: refused token from %s for %s", client_address(), request.path)
        return problem_response(401, default_detail(401),
                                headers={"WWW-Authenticate": 'Bearer realm="lms"'})
    g.api_principal = principal_for(client)
    return None


def _log_call(response):
    client_principal = g.get("api_principal")
    if client_principal is None:
        return response
    client_id, last_used = client_principal.client.id, client_principal.client.last_used_at
    elapsed = int(1000 * (time.perf_counter() - g.get("api_started", time.perf_counter())))
    now = utcnow()
    dbs = db.session
    dbs.rollback()   # whatever the view left uncommitted is not part of the log
    token = sqlite_write_intent.set(True)
    try:
        dbs.add(ApiCall(client_id=client_id, created_at=now, method=request.method,
                        path=request.full_path.rstrip("?")[:500], status=response.status_code,
                        duration_ms=elapsed, ip_address=client_address()[:64],
                        summary=str(g.get("api_summary", ""))[:300]))
        if last_used is None or (now - last_used).total_seconds() > LAST_USED_EVERY:
            dbs.execute(update(ApiClient).where(ApiClient.id == client_id)
                        .values(last_used_at=now).execution_options(synchronize_session=False))
        dbs.commit()
    except Exception:   # the answer is already made: a log that fails must not change it
        log.exception("api: could not record the call of client %s", client_id)
        dbs.rollback()
    finally:
        sqlite_write_intent.reset(token)
    return response


def _problem(exc: ApiProblem):
    db.session.rollback()
    return problem_response(exc.status, exc.detail, errors=exc.errors, headers=exc.headers,
                            **exc.extra)


def _domain_error(exc: DomainError):
    db.session.rollback()
    return problem_response(422, str(exc.message))


def http_problem(exc: HTTPException):
    """An HTTP error under /api/ (also when no route matched) as a problem document."""
    db.session.rollback()
    status = exc.code or 500
    headers = {}   # a 429's Retry-After is added by flask-limiter (RATELIMIT_HEADERS_ENABLED)
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return problem_response(status, default_detail(status), headers=headers)


def _unexpected(exc: Exception):
    if is_database_unavailable(exc):    # 503 with Retry-After while the database is down
        return database_unavailable(exc)
    log.exception("api: unhandled error on %s %s", request.method, request.path)
    db.session.rollback()
    return problem_response(500, default_detail(500))


bp.before_request(_authenticate)
bp.after_request(_log_call)
bp.register_error_handler(ApiProblem, _problem)
bp.register_error_handler(DomainError, _domain_error)
bp.register_error_handler(HTTPException, http_problem)
bp.register_error_handler(Exception, _unexpected)
csrf.exempt(bp)
limiter.limit(api_rate_limit, key_func=rate_key,
              exempt_when=lambda: request.endpoint in PUBLIC_ENDPOINTS)(bp)


def init_app(app: Flask) -> None:
    """Register the API and its admin pages (the blueprints are set up once, at import)."""
    from lms.api.views import admin, certificates, docs, progress, staff, statements  # noqa: F401
    from lms.api.views import webhooks as webhooks_admin
    from lms.api.webhooks import connect_signals

    connect_signals()
    app.register_blueprint(bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(webhooks_admin.bp)
