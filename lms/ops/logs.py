"""Logging: text or one JSON object per line, a request id on every request, one line per
request on the ``lms.request`` logger.

``LMS_LOG_FORMAT=json`` turns every log record into a JSON line (ts, level, logger, msg,
request_id when inside a request, and the record's extra fields); ``text`` keeps the plain
"time level logger: message" lines. The request id comes from a sane incoming
``X-Request-ID`` header (a proxy's) or is made here, and goes back on every response.
"""
from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from flask import Flask, Response, g, has_request_context, request

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

request_log = logging.getLogger("lms.request")

# The attributes every LogRecord has: anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}


def current_request_id() -> str | None:
    """This request's id (made on first use), or None outside a request."""
    if not has_request_context():
        return None
    rid = g.get("request_id")
    if rid is None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        rid = incoming if SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_id = rid
    return rid


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts (UTC, ISO 8601), level, logger, msg, request_id, the
    record's extra fields, and the traceback (``exc``) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid is None:
            try:
                rid = current_request_id()
            except Exception:   # formatting must never fail because of the request
                rid = None
        entry["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _install_record_factory() -> None:
    """Stamp every record made inside a request with its ``request_id`` (when it is made,
    so handlers that format later, or in another thread, still have it)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_lms_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if has_request_context():
            record.request_id = g.get("request_id")
        return record

    factory._lms_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def make_formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(app: Flask) -> None:
    """Set the root logger's level and, like ``logging.basicConfig``, give it a stderr
    handler when nothing else configured one (a second app in the process reuses it)."""
    log_format = app.config.get("LOG_FORMAT", "text")
    if log_format not in ("text", "json"):
        from lms.config import ConfigError

        raise ConfigError(f"LMS_LOG_FORMAT must be text or json, got {log_format!r}")
    _install_record_factory()
    root = logging.getLogger()
    root.setLevel(app.config["LOG_LEVEL"])
    ours = [h for h in root.handlers if getattr(h, "_lms_handler", False)]
    if ours:
        for handler in ours:
            handler.setFormatter(make_formatter(log_format))
    elif not root.handlers:
        handler = logging.StreamHandler()
        handler._lms_handler = True  # type: ignore[attr-defined]
        handler.setFormatter(make_formatter(log_format))
        root.addHandler(handler)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


# ---------------------------------------------------------------- every request

def _start() -> None:
    g.request_started = time.perf_counter()
    current_request_id()


def _user_id() -> int | None:
    """The signed-in person's id if this request already loaded them (never a query)."""
    user = g.get("_login_user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    try:
        return int(user.get_id())
    except (TypeError, ValueError):
        return None


def request_duration() -> float:
    return time.perf_counter() - g.get("request_started", time.perf_counter())


def _finish(response: Response) -> Response:
    rid = current_request_id()
    if rid:
        response.headers[REQUEST_ID_HEADER] = rid
    if request_log.isEnabledFor(logging.INFO):
        duration_ms = round(1000 * request_duration(), 1)
        rule = request.url_rule.rule if request.url_rule is not None else None
        principal = g.get("api_principal")
        fields = {   # request_id: on every record made in a request (see the record factory)
            "user_id": _user_id(),
            "method": request.method,
            "route": rule,
            "endpoint": request.endpoint,
            "status": response.status_code,
            "duration_ms": duration_ms,
            "ip": request.remote_addr,
        }
        if principal is not None:
            fields["api_client_id"] = principal.client.id
        request_log.info("%s %s %s %.1fms rid=%s", request.method, rule or request.path,
                         response.status_code, duration_ms, rid, extra=fields)
    return response


def init_request_logging(app: Flask) -> None:
    """Stamp each request with an id and a start time (before any other hook, so that even a
    request whose first hook fails has them) and log one line when it ends."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
