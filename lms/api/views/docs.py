"""The OpenAPI document and its readable reference page (public: no token needed).

The page is made from the same document a machine reads (``lms.api.spec``), already in
the caller's language (Accept-Language), so the two never disagree: each operation with
its scope, parameters, the fields of its answer (``$ref`` resolved) and a curl example;
one anchor per problem type, so a problem's ``type`` URI opens its explanation.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from limits import parse_many

from lms.api.clients import SCOPES
from lms.api.models import WebhookEvent
from lms.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from lms.api.problems import PROBLEMS, default_detail
from lms.api.spec import openapi_document
from lms.api.views import bp

METHODS = ("get", "post", "put", "patch", "delete")
MAX_DEPTH = 6   # nesting shown in a field table (the documents nest three levels at most)


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.get("/docs")
def reference():
    spec = openapi_document()
    base_url = request.host_url.rstrip("/") + spec.get("servers", [{"url": "/api/v1"}])[0]["url"]
    return render_template(
        "api/reference.html", spec=spec, sections=sections(spec, base_url), base_url=base_url,
        scopes=[(name, str(label)) for name, label in SCOPES.items()],
        problems=problem_types(), events=[event.value for event in WebhookEvent],
        webhooks=webhook_bodies(spec), rate_limits=rate_limits(current_app.config["API_RATE_LIMIT"]),
        default_limit=DEFAULT_LIMIT, max_limit=MAX_LIMIT)


# ---------------------------------------------------------------- what the page shows

PERIODS = {"second": _l("second"), "minute": _l("minute"), "hour": _l("hour"), "day": _l("day"),
           "month": _l("month"), "year": _l("year")}


def rate_limits(setting: str) -> list[str]:
    """The configured limits (flask-limiter syntax) in words: "600 calls per minute"."""
    texts = []
    for item in parse_many(setting):
        period = PERIODS.get(item.GRANULARITY.name, item.GRANULARITY.name)
        if item.multiples == 1:
            texts.append(_("%(num)d calls per %(period)s", num=item.amount, period=period))
        else:
            texts.append(_("%(num)d calls per %(count)d × %(period)s", num=item.amount,
                           count=item.multiples, period=period))
    return texts


@dataclass(frozen=True)
class Field:
    """One property of a body, named by its path (``data[].person.full_name``)."""

    name: str
    type: str
    nullable: bool
    required: bool
    description: str = ""
    depth: int = 0


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    type: str
    required: bool
    description: str = ""


@dataclass(frozen=True)
class ErrorAnswer:
    status: str
    description: str
    slug: str


@dataclass(frozen=True)
class Operation:
    id: str
    method: str
    path: str
    summary: str
    description: str
    scope: str
    scope_label: str
    parameters: list[Parameter]
    request_fields: list[Field]
    status: str
    response_fields: list[Field]
    errors: list[ErrorAnswer]
    curl: str


@dataclass
class Section:
    tag: str
    description: str
    operations: list[Operation] = field(default_factory=list)


@dataclass(frozen=True)
class ProblemType:
    status: int
    slug: str
    title: str
    detail: str


def problem_types() -> list[ProblemType]:
    types = []
    for status, (slug, title) in sorted(PROBLEMS.items()):
        detail = default_detail(status)
        types.append(ProblemType(status, slug, str(title), "" if detail == str(title) else detail))
    return types


def sections(spec: dict[str, Any], base_url: str) -> list[Section]:
    """One section per tag (in the document's order), each with its operations."""
    by_tag = {tag["name"]: Section(tag["name"], tag.get("description", ""))
              for tag in spec.get("tags", [])}
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            tag = (op.get("tags") or ["other"])[0]
            section = by_tag.setdefault(tag, Section(tag, ""))
            section.operations.append(_operation(spec, path, method, op, base_url))
    return [section for section in by_tag.values() if section.operations]


def webhook_bodies(spec: dict[str, Any]) -> dict[str, list[Field]]:
    """The fields of each event's body, when the document describes them (``webhooks``)."""
    bodies = {}
    for event, item in spec.get("webhooks", {}).items():
        op = item.get("post", {})
        bodies[event] = fields_of(spec, _json_schema(spec, op.get("requestBody")))
    return bodies


def _operation(spec: dict[str, Any], path: str, method: str, op: dict[str, Any],
               base_url: str) -> Operation:
    scope = op.get("x-scope", "")
    parameters = [resolve(spec, p) for p in op.get("parameters", [])]
    success = sorted(code for code in op.get("responses", {}) if code.startswith("2"))
    status = success[0] if success else ""
    response = resolve(spec, op["responses"][status]) if status else {}
    errors = []
    for code, answer in sorted(op.get("responses", {}).items()):
        if code.startswith("2"):
            continue
        slug = PROBLEMS.get(int(code), PROBLEMS[500])[0] if code.isdigit() else ""
        errors.append(ErrorAnswer(code, resolve(spec, answer).get("description", ""), slug))
    body_schema = _json_schema(spec, op.get("requestBody"))
    return Operation(
        id=op.get("operationId", f"{method}-{path}"), method=method.upper(), path=path,
        summary=op.get("summary", ""), description=op.get("description", ""), scope=scope,
        scope_label=str(SCOPES.get(scope, "")),
        parameters=[Parameter(p["name"], p.get("in", ""), type_of(spec, p.get("schema", {}))[0],
                              bool(p.get("required")), p.get("description", ""))
                    for p in parameters],
        request_fields=fields_of(spec, body_schema),
        status=status, response_fields=fields_of(spec, _json_schema(spec, response)),
        errors=errors, curl=curl_example(spec, base_url, path, method, parameters, body_schema))


def _json_schema(spec: dict[str, Any], holder: dict[str, Any] | None) -> dict[str, Any] | None:
    """The JSON schema of a request body or response (``$ref`` resolved), if it has one."""
    if not holder:
        return None
    content = resolve(spec, holder).get("content", {})
    for media_type in ("application/json", *content):
        if media_type in content:
            return content[media_type].get("schema")
    return None


# ---------------------------------------------------------------- schemas in words

def resolve(spec: dict[str, Any], node: Any, seen: frozenset[str] = frozenset()) -> Any:
    """Follow ``$ref`` (a local JSON Pointer) until a plain node."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if ref in seen or not ref.startswith("#/"):
            return {}
        seen = seen | {ref}
        target: Any = spec
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _branches(spec: dict[str, Any], schema: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The alternatives of a schema (oneOf/anyOf, resolved) without null, and whether null is
    one of them."""
    schema = resolve(spec, schema)
    options = schema.get("oneOf") or schema.get("anyOf")
    if not options:
        return [schema], False
    resolved = [resolve(spec, option) for option in options]
    nullable = any(option.get("type") == "null" for option in resolved)
    return [option for option in resolved if option.get("type") != "null"], nullable


def type_of(spec: dict[str, Any], schema: dict[str, Any]) -> tuple[str, bool]:
    """A schema's type in words (``string (date-time)``, ``array of string``), and whether it
    may be null."""
    branches, nullable = _branches(spec, schema)
    words = []
    for branch in branches:
        kinds = branch.get("type", "object" if "properties" in branch else "")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "null" in kinds:
            nullable = True
        for kind in (k for k in kinds if k and k != "null"):
            if kind == "array":
                item_type, _nullable = type_of(spec, branch.get("items", {}))
                word = f"array of {item_type}" if item_type and item_type != "object" else "array"
            else:
                word = kind + (f" ({branch['format']})" if branch.get("format") else "")
            if word not in words:
                words.append(word)
    return " | ".join(words) or "any", nullable


def _describe(spec: dict[str, Any], schema: dict[str, Any]) -> str:
    branches, _nullable = _branches(spec, schema)
    own = resolve(spec, schema)
    parts = [str(own.get("description") or next(
        (b.get("description") for b in branches if b.get("description")), ""))]
    for branch in branches:
        if branch.get("enum"):
            parts.append(" · ".join(str(value) for value in branch["enum"]))
    return " — ".join(part for part in parts if part)


def _object_of(spec: dict[str, Any], schema: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The object whose properties to list below a field, and the suffix of their names."""
    for branch in _branches(spec, schema)[0]:
        if branch.get("properties"):
            return branch, "."
        if branch.get("type") == "array" or "array" in (branch.get("type") or []):
            items = _branches(spec, branch.get("items", {}))[0]
            for item in items:
                if item.get("properties"):
                    return item, "[]."
    return None, ""


def fields_of(spec: dict[str, Any], schema: dict[str, Any] | None) -> list[Field]:
    """Every property of a body, nested ones named by their path, in the document's order."""
    if not schema:
        return []
    rows: list[Field] = []
    root, suffix = _object_of(spec, schema)
    if root is not None:
        _walk(spec, root, "[]." if suffix == "[]." else "", 0, rows)
    return rows


def _walk(spec: dict[str, Any], obj: dict[str, Any], prefix: str, depth: int,
          rows: list[Field]) -> None:
    required = set(obj.get("required", []))
    for name, prop in obj.get("properties", {}).items():
        kind, nullable = type_of(spec, prop)
        rows.append(Field(prefix + name, kind, nullable, name in required,
                          _describe(spec, prop), depth))
        child, suffix = _object_of(spec, prop)
        if child is not None and depth < MAX_DEPTH:
            _walk(spec, child, prefix + name + suffix, depth + 1, rows)


# ---------------------------------------------------------------- examples

EXAMPLE_BY_FORMAT = {"date-time": "2026-11-01T00:00:00Z", "date": "2026-11-01",
                     "email": "nguyen.van.a@mofa.gov.vn", "uri": "https://example.org/"}


def example_of(spec: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> Any:
    """A value that fits the schema: its own example when it has one, else a plain guess."""
    branches, nullable = _branches(spec, schema)
    branch = branches[0] if branches else {}
    if "example" in branch:
        return branch["example"]
    if branch.get("examples"):
        return branch["examples"][0]
    if branch.get("enum"):
        return branch["enum"][0]
    if "default" in branch:
        return branch["default"]
    kinds = branch.get("type", "object" if "properties" in branch else "string")
    kinds = [k for k in (kinds if isinstance(kinds, list) else [kinds]) if k != "null"]
    kind = kinds[0] if kinds else ("null" if nullable else "string")
    if depth > MAX_DEPTH:
        return None
    if kind == "object":
        props = branch.get("properties", {})
        keep = branch.get("required") or list(props)
        return {name: example_of(spec, props[name], depth + 1) for name in keep if name in props}
    if kind == "array":
        return [example_of(spec, branch.get("items", {}), depth + 1)]
    if kind == "integer":
        return max(1, branch.get("minimum", 1))
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return EXAMPLE_BY_FORMAT.get(branch.get("format", ""), "…")


def curl_example(spec: dict[str, Any], base_url: str, path: str, method: str,
                 parameters: list[dict[str, Any]], body: dict[str, Any] | None) -> str:
    """A curl command for the operation (path parameters as shell variables)."""
    def variable(match: re.Match[str]) -> str:
        return "${" + re.sub(r"\W", "_", match.group(1)).upper() + "}"

    url = base_url + re.sub(r"\{([^}]+)\}", variable, path)
    query = [f"{p['name']}={example_of(spec, p.get('schema', {}))}"
             for p in parameters if p.get("in") == "query" and p.get("required")]
    if query:
        url += "?" + "&".join(query)
    lines = [f'curl -sS "{url}"']
    if method != "get":
        lines.append(f"-X {method.upper()}")
    lines.append('-H "Authorization: Bearer $LMS_TOKEN"')
    lines.append('-H "Accept-Language: vi"')
    if body is not None:
        text = json.dumps(example_of(spec, body), ensure_ascii=False, indent=2)
        lines.append('-H "Content-Type: application/json"')
        lines.append("-d '" + text.replace("'", "'\\''") + "'")
    return " \\\n  ".join(lines)
