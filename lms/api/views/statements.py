"""xAPI statements (completed / passed / failed) of a period, for a Learning Record Store."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g, jsonify, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from lms.api import statements
from lms.api.pagination import cursor_page
from lms.api.problems import ApiProblem
from lms.api.progress import find_unit
from lms.api.spec import PARAMETERS, operation
from lms.api.views import (
    bp,
    datetime_arg,
    forbidden,
    next_page_url,
    not_found,
    principal,
    requires_scope,
)
from lms.db import db, utcnow
from lms.reports.permissions import can_view_unit_report

SCOPE = "progress:read"


def _verbs() -> set[str]:
    raw = request.args.get("verb", "")
    verbs = {v.strip() for v in raw.split(",") if v.strip()} if raw else set(statements.VERBS)
    unknown = verbs - set(statements.VERBS)
    if unknown:
        raise ApiProblem(400, _("Unknown verb %(verbs)s: use completed, passed or failed.",
                                verbs=", ".join(sorted(unknown))))
    return verbs


def _period() -> statements.Period:
    since = datetime_arg("since", required=True)
    until = datetime_arg("until") or utcnow()
    assert since is not None
    return statements.Period(since=since, until=until)


@bp.get("/statements")
@requires_scope(SCOPE)
def statement_list():
    period, verbs = _period(), _verbs()
    unit = None
    if request.args.get("unit"):
        unit = find_unit(db.session, request.args["unit"])
        if unit is None:
            raise not_found(_("The unit %(code)s", code=request.args["unit"]))
        if not can_view_unit_report(principal(), unit):
            raise forbidden()
    keys = statements.statement_keys(principal(), period, unit, verbs)
    if keys is None:
        return _result([], None)
    columns = statements.key_columns(keys)
    page = cursor_page(db.session, select(*columns), columns, (datetime, int, int), tuple)
    made = statements.load_statements(db.session, [tuple(row) for row in page.rows])
    g.api_summary = f"statements={len(made)}"
    return _result(made, page.next_cursor)


def _result(made: list[dict[str, Any]], next_cursor: str | None):
    # xAPI's StatementResult: "statements" and "more" (an IRL to the next page, or "").
    return jsonify({"statements": made, "more": next_page_url(next_cursor, absolute=False) or "",
                    "next_cursor": next_cursor})


# ---------------------------------------------------------------- the OpenAPI description

TAG = {"name": "statements", "description": _l("xAPI 1.0.3 statements for a Learning Record Store.")}

LANGUAGE_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
ACTIVITY = {
    "type": "object",
    "required": ["objectType", "id", "definition"],
    "properties": {
        "objectType": {"const": "Activity"},
        "id": {"type": "string", "format": "uri"},
        "definition": {"type": "object", "properties": {"type": {"type": "string", "format": "uri"},
                                                        "name": LANGUAGE_MAP}},
    },
}
SCHEMAS = {
    "XapiActivity": ACTIVITY,
    "XapiStatement": {
        "type": "object",
        "required": ["id", "actor", "verb", "object", "result", "timestamp", "version"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "actor": {
                "type": "object", "required": ["objectType", "name", "account"],
                "properties": {
                    "objectType": {"const": "Agent"},
                    "name": {"type": "string"},
                    "account": {"type": "object", "required": ["homePage", "name"],
                                "properties": {"homePage": {"type": "string", "format": "uri"},
                                               "name": {"type": "string"}}}}},
            "verb": {"type": "object", "required": ["id", "display"],
                     "properties": {"id": {"type": "string", "format": "uri"},
                                    "display": LANGUAGE_MAP}},
            "object": {"$ref": "#/components/schemas/XapiActivity"},
            "result": {
                "type": "object",
                "properties": {
                    "completion": {"type": "boolean"},
                    "success": {"type": "boolean"},
                    "score": {"type": "object", "properties": {
                        "scaled": {"type": "number", "minimum": -1, "maximum": 1},
                        "raw": {"type": "number"}, "min": {"type": "number"},
                        "max": {"type": "number"}}}}},
            "context": {"type": "object"},
            "timestamp": {"type": "string", "format": "date-time"},
            "version": {"type": "string"},
        },
    },
    "XapiStatementResult": {
        "type": "object",
        "required": ["statements", "more", "next_cursor"],
        "properties": {
            "statements": {"type": "array", "items": {"$ref": "#/components/schemas/XapiStatement"}},
            "more": {"type": "string", "description": _l("Relative address of the next page; "
                                                        "empty on the last page.")},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
}

PATHS = {
    "/statements": {"get": operation(
        "listStatements", _l("xAPI statements of a period"), scope=SCOPE, tag="statements",
        response={"$ref": "#/components/schemas/XapiStatementResult"},
        description=_l(
            "completed (a course completed), passed and failed (a quiz attempt submitted), for "
            "the people the client may see, with timestamps from since (included) to until "
            "(excluded, default now). Ordered by timestamp. Statement ids "
            "are stable: pulling a period again gives the same ids."),
        parameters=[
            {"name": "since", "in": "query", "required": True,
             "schema": {"type": "string", "format": "date-time"},
             "description": _l("Start of the period (RFC 3339, with its offset).")},
            {"name": "until", "in": "query", "required": False,
             "schema": {"type": "string", "format": "date-time"},
             "description": _l("End of the period (excluded); default now.")},
            {"name": "verb", "in": "query", "required": False,
             "schema": {"type": "string",
                        "pattern": "^(completed|passed|failed)(,(completed|passed|failed))*$"},
             "description": _l("Comma-separated verbs to include; default all three.")},
            {"name": "unit", "in": "query", "required": False, "schema": {"type": "string"},
             "description": _l("Only people of this unit and the units below it (unit code).")},
            PARAMETERS["cursor"], PARAMETERS["limit"],
        ])},
}
