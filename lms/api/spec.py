"""The OpenAPI 3.1 document of /api/v1, assembled from each resource module's ``PATHS``
and ``SCHEMAS`` (so a route and its description live side by side).

Texts are lazy strings, turned into the caller's language when the document is served.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from lms.api.pagination import DEFAULT_LIMIT, MAX_LIMIT

RESOURCE_MODULES = (
    "lms.api.views.staff",
    "lms.api.views.progress",
    "lms.api.views.certificates",
    "lms.api.views.statements",
)

NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_DATETIME = {"type": ["string", "null"], "format": "date-time"}
DATETIME = {"type": "string", "format": "date-time"}

COMMON_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": _l("An error, as RFC 9457 problem details."),
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "required_scope": {"type": "string"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ItemError"}},
        },
    },
    "ItemError": {
        "type": "object",
        "description": _l("A problem with one item of the request."),
        "required": ["pointer", "detail"],
        "properties": {
            "pointer": {"type": "string", "description": _l("JSON Pointer to the item, e.g. /people/3")},
            "field": {"type": ["string", "null"]},
            "detail": {"type": "string"},
        },
    },
    "Links": {
        "type": "object",
        "required": ["next"],
        "properties": {"next": {"type": ["string", "null"], "format": "uri"}},
    },
}

PARAMETERS: dict[str, Any] = {
    "cursor": {
        "name": "cursor", "in": "query", "required": False,
        "description": _l("The next_cursor of the previous page; leave out for the first page."),
        "schema": {"type": "string"},
    },
    "limit": {
        "name": "limit", "in": "query", "required": False,
        "description": _l("Items per page."),
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    },
    "updated_since": {
        "name": "updated_since", "in": "query", "required": False,
        "description": _l("Only items changed at or after this moment (RFC 3339, with its "
                          "offset). Pass the largest updated_at you received last time."),
        "schema": {"type": "string", "format": "date-time"},
    },
}

RESPONSES: dict[str, Any] = {
    status: {"description": description,
             "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for status, description in (
        ("400", _l("The request is malformed (a parameter, the cursor or the JSON).")),
        ("401", _l("No token, or the token is unknown, replaced or revoked.")),
        ("403", _l("The client lacks the scope, or its unit scope does not cover this.")),
        ("404", _l("Not found, or not visible to this client.")),
        ("409", _l("Another change got there first: send the request again.")),
        ("413", _l("Too many items at once: send them in smaller batches.")),
        ("415", _l("The body is not JSON.")),
        ("422", _l("The data breaks a rule; errors lists each item's problems.")),
        ("429", _l("Too many requests: wait for Retry-After seconds.")),
    )
}
RESPONSES["429"]["headers"] = {
    "Retry-After": {"description": _l("Seconds to wait."), "schema": {"type": "integer"}}}


def page_schema(item_ref: str) -> dict[str, Any]:
    """The envelope of a cursor-paginated list of ``item_ref`` items."""
    return {
        "type": "object",
        "required": ["data", "next_cursor", "links"],
        "properties": {
            "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{item_ref}"}},
            "next_cursor": {"type": ["string", "null"]},
            "links": {"$ref": "#/components/schemas/Links"},
        },
    }


def path_parameter(name: str, description: Any) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1, "maxLength": 80}}


def operation(operation_id: str, summary: Any, *, scope: str, tag: str, response: dict[str, Any],
              description: Any = "", parameters: list[dict[str, Any]] | None = None,
              request_body: dict[str, Any] | None = None, errors: tuple[str, ...] = ("400", "404"),
              status: str = "200") -> dict[str, Any]:
    """One operation: bearer token, the scope it needs, its answer and its problems."""
    op: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": [tag],
        "security": [{"bearerAuth": []}],
        "x-scope": scope,
        "parameters": parameters or [],
        "responses": {
            status: {"description": summary,
                     "content": {"application/json": {"schema": response}}},
            **{code: {"$ref": f"#/components/responses/{code}"}
               for code in ("401", "403", "429", *errors)},
        },
    }
    if request_body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": request_body}}}
    return op


PERSON_REF = {
    "type": "object", "required": ["employee_code", "full_name", "email", "unit_code"],
    "properties": {"employee_code": {"type": "string"}, "full_name": {"type": "string"},
                   "email": {"type": "string"}, "unit_code": {"type": ["string", "null"]}},
}
COURSE_REF = {"type": "object", "required": ["slug", "title"],
              "properties": {"slug": {"type": "string"}, "title": {"type": "string"}}}
EVENT_DATA = {
    "course.completed": {
        "type": "object", "required": ["enrolment_id", "completed_at", "person", "course"],
        "properties": {"enrolment_id": {"type": "integer"}, "completed_at": DATETIME,
                       "person": PERSON_REF, "course": COURSE_REF}},
    "certificate": {
        "type": "object",
        "required": ["serial", "code", "verify_url", "issued_at", "person", "course"],
        "properties": {
            "serial": {"type": "string"}, "code": {"type": "string"},
            "verify_url": {"type": "string", "format": "uri"},
            "enrolment_id": {"type": ["integer", "null"]}, "completed_at": DATETIME,
            "issued_at": DATETIME, "expires_at": NULLABLE_DATETIME,
            "revoked_at": NULLABLE_DATETIME, "reason": NULLABLE_STRING,
            "person": PERSON_REF, "course": COURSE_REF}},
}
SIGNATURE_HEADERS = [
    {"name": "X-LMS-Event", "in": "header", "required": True, "schema": {"type": "string"},
     "description": _l("The event, as in the body's type.")},
    {"name": "X-LMS-Delivery", "in": "header", "required": True,
     "schema": {"type": "string", "format": "uuid"},
     "description": _l("The same on every attempt of one delivery: drop a repeat.")},
    {"name": "X-LMS-Timestamp", "in": "header", "required": True, "schema": {"type": "integer"},
     "description": _l("Unix time of this attempt: refuse one older than 5 minutes.")},
    {"name": "X-LMS-Signature", "in": "header", "required": True, "schema": {"type": "string"},
     "description": _l("v1=<hex HMAC-SHA256 of “<timestamp>.<body>” with the endpoint's "
                       "secret>.")},
]


def webhooks_section() -> dict[str, Any]:
    """What a registered endpoint receives (OpenAPI 3.1 ``webhooks``)."""
    from lms.api.models import WebhookEvent
    from lms.api.webhooks import EVENT_LABELS

    section = {}
    for event in WebhookEvent:
        data = EVENT_DATA["course.completed" if event is WebhookEvent.COURSE_COMPLETED
                          else "certificate"]
        section[event.value] = {"post": {
            "operationId": "event-" + event.value.replace(".", "-"),
            "summary": EVENT_LABELS[event.value],
            "parameters": SIGNATURE_HEADERS,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["id", "type", "created_at", "data"],
                "properties": {"id": {"type": "string", "format": "uuid"},
                               "type": {"const": event.value}, "created_at": DATETIME,
                               "data": data}}}}},
            "responses": {"2XX": {"description": _l("Received: answer quickly; anything "
                                                    "else is retried later.")}},
        }}
    return section


def _resolve(value: Any) -> Any:
    """Lazy strings become the current language's text, everywhere in the document."""
    if isinstance(value, LazyString):
        return str(value)
    if isinstance(value, dict):
        return {key: _resolve(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_resolve(item) for item in value]
    return value


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = dict(COMMON_SCHEMAS)
    tags: list[dict[str, Any]] = []
    for name in RESOURCE_MODULES:
        module = import_module(name)
        paths.update(module.PATHS)
        schemas.update(getattr(module, "SCHEMAS", {}))
        tags.append(module.TAG)
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": _l("Digital skills learning platform — data sharing API"),
            "version": "1.0.0",
            "description": _l(
                "Staff sync from the HR system, progress and certificates for the ministry's "
                "reporting, and xAPI statements for a Learning Record Store. Every call sends "
                "a client token (Authorization: Bearer …) created by an administrator; each "
                "operation needs the scope named in x-scope. Errors are RFC 9457 problem "
                "details."),
        },
        "servers": [{"url": "/api/v1"}],
        "tags": tags,
        "paths": paths,
        "webhooks": webhooks_section(),
        "components": {
            "schemas": schemas,
            "parameters": PARAMETERS,
            "responses": RESPONSES,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "lms_…"}},
        },
    }
    return _resolve(document)
