"""The API's OpenAPI document and its readable reference page.

The page is public, in the site's language (the language button), and made from the same
document machines read: one anchor per operation (``op-<operationId>``), per problem type
(``problem-<slug>``, where a problem's ``type`` URI points), per scope and per webhook event.
Tests read ids and data-* attributes, never English words.
"""
from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from flask_babel import force_locale, gettext

from lms.api.clients import SCOPES
from lms.api.models import WebhookEvent
from lms.api.problems import PROBLEMS
from lms.api.views.docs import curl_example, example_of, fields_of, rate_limits, type_of

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SCHEMA_TYPES = {"string", "integer", "number", "boolean", "object", "array", "null"}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in document["paths"].items()
            for method, op in item.items() if method in METHODS]


def ids(page: str) -> set[str]:
    return set(re.findall(r'\sid="([^"]+)"', page))


@pytest.fixture()
def document(client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


# ---------------------------------------------------------------- the document

def resolve_pointer(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def walk(node: Any, where: str = "#"):
    """Every dict in the document with its location."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{where}/{i}")


def test_openapi_json_is_an_openapi_3_1_document(document):
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]
    assert document["paths"], "no operation is described"
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "lms_…"}
    for path in document["paths"]:
        assert path.startswith("/"), path


def test_every_reference_in_the_document_resolves(document):
    refs = [(where, node["$ref"]) for where, node in walk(document) if "$ref" in node]
    assert refs
    for where, ref in refs:
        resolve_pointer(document, ref)
        assert not where.endswith("/properties"), f"{where}: a property named $ref"


def test_every_operation_has_an_id_security_scope_and_responses(document):
    seen: set[str] = set()
    tags = {tag["name"] for tag in document["tags"]}
    for path, method, op in operations(document):
        where = f"{method.upper()} {path}"
        assert op.get("operationId"), where
        assert op["operationId"] not in seen, f"{where}: operationId used twice"
        seen.add(op["operationId"])
        assert op.get("security") == [{"bearerAuth": []}], where
        assert op.get("x-scope") in SCOPES, where
        assert set(op.get("tags", [])) <= tags and op.get("tags"), where
        responses = op.get("responses")
        assert responses and any(code.startswith("2") for code in responses), where
        for code, answer in responses.items():
            assert re.fullmatch(r"[1-5]\d\d", code), f"{where}: response {code}"
            answer = resolve_pointer(document, answer["$ref"]) if "$ref" in answer else answer
            assert isinstance(answer.get("description"), str), f"{where} {code}"
        # Every {name} of the path is a required path parameter, and nothing else is.
        params = [resolve_pointer(document, p["$ref"]) if "$ref" in p else p
                  for p in op.get("parameters", [])]
        declared = {p["name"] for p in params if p["in"] == "path"}
        assert declared == set(re.findall(r"\{([^}]+)\}", path)), where
        for param in params:
            assert param["in"] in {"path", "query", "header", "cookie"}, where
            assert "schema" in param, f"{where} {param['name']}"
            if param["in"] == "path":
                assert param["required"] is True, f"{where} {param['name']}"
        assert len({(p["name"], p["in"]) for p in params}) == len(params), where


def test_schemas_use_json_schema_types(document):
    for where, node in walk(document["components"]["schemas"], "#/components/schemas"):
        kind = node.get("type")
        if kind is None or not isinstance(kind, (str, list)) or where.endswith("/properties"):
            continue
        kinds = kind if isinstance(kind, list) else [kind]
        assert set(kinds) <= SCHEMA_TYPES, where
        if "required" in node and isinstance(node["required"], list):
            assert set(node["required"]) <= set(node.get("properties", {})), where


def test_the_document_is_in_the_callers_language(client, app):
    english = client.get("/api/v1/openapi.json", headers={"Accept-Language": "en"}).get_json()
    vietnamese = client.get("/api/v1/openapi.json", headers={"Accept-Language": "vi"}).get_json()
    with app.test_request_context(), force_locale("vi"):
        vi_title = gettext("Digital skills learning platform — data sharing API")
    assert vietnamese["info"]["title"] == vi_title
    assert english["info"]["title"] == "Digital skills learning platform — data sharing API"
    assert english["paths"].keys() == vietnamese["paths"].keys()


# ---------------------------------------------------------------- the page

@pytest.mark.parametrize("language", ["vi", "en"])
def test_reference_page_has_every_operation_problem_scope_and_event(client, app, language):
    with client.session_transaction() as session:
        session["lang"] = language                      # as the language button sets it
    response = client.get("/api/v1/docs", headers={"Accept-Language": "vi" if language == "en"
                                                   else "en"})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert f'<html lang="{language}">' in page
    anchors = ids(page)
    document = client.get("/api/v1/openapi.json",
                          headers={"Accept-Language": language}).get_json()
    for path, method, op in operations(document):
        assert f"op-{op['operationId']}" in anchors, op["operationId"]
        block = page.split(f'id="op-{op["operationId"]}"', 1)[1].split("</article>", 1)[0]
        assert f'data-method="{method.upper()}"' in block
        assert f'data-path="{path}"' in block
        assert f'data-scope="{op["x-scope"]}"' in block
        assert unescape(op["summary"]) in unescape(block)
    for slug, _title in PROBLEMS.values():
        assert f"problem-{slug}" in anchors, slug
    for scope in SCOPES:
        assert f'data-scope="{scope}"' in page
    for event in WebhookEvent:
        assert f'data-event="{event.value}"' in page
    for header in ("X-LMS-Event", "X-LMS-Delivery", "X-LMS-Timestamp", "X-LMS-Signature"):
        assert f"<code>{header}</code>" in page
    assert 'href="/api/v1/openapi.json"' in page
    assert "<script" not in page
    with app.test_request_context(), force_locale(language):
        assert gettext("API reference") in page
        assert gettext("Webhooks") in page


def test_problem_type_uris_point_at_anchors_of_the_page(client, api):
    body = api.get("/progress").get_json()      # no token: 401 problem
    assert body["status"] == 401
    url, _sep, anchor = body["type"].partition("#")
    assert url.endswith("/api/v1/docs")
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert anchor in ids(page)


def test_reference_page_needs_no_token_and_is_not_logged(client, dbs):
    from sqlalchemy import func, select

    from lms.api.models import ApiCall

    for path in ("/api/v1/docs", "/api/v1/openapi.json"):
        assert client.get(path, headers={"Authorization": "Bearer nonsense"}).status_code == 200
    assert dbs.scalar(select(func.count()).select_from(ApiCall)) == 0


def test_response_fields_resolve_references_and_show_nullable(client):
    page = client.get("/api/v1/docs", headers={"Accept-Language": "en"}).get_data(as_text=True)
    block = page.split('id="op-listProgress"', 1)[1].split("</article>", 1)[0]
    rows = dict(re.findall(r'data-field="([^"]+)" data-type="([^"]+)" data-nullable="(?:true|false)"',
                           block))
    # The page envelope, then the Enrolment items behind its $ref, then nested objects.
    assert rows["data"] == "array"
    assert rows["next_cursor"] == "string"
    assert rows["data[].person.employee_code"] == "string"
    assert rows["data[].completed_at"] == "string (date-time)"
    assert rows["links.next"] == "string (uri)"
    assert re.search(r'data-field="data\[\]\.completed_at" data-type="[^"]+" data-nullable="true"',
                     block)
    assert re.search(r'data-field="data\[\]\.enrolled_at" data-type="[^"]+" data-nullable="false"',
                     block)
    assert 'href="#problem-unauthorized"' in block


def test_reference_renders_any_document_shape():
    """Unit checks of the page's reading of schemas: oneOf with null, arrays, cycles,
    request bodies and examples."""
    spec = {
        "components": {"schemas": {
            "Node": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string", "description": "Its name"},
                "parent": {"oneOf": [{"$ref": "#/components/schemas/Node"}, {"type": "null"}]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "kind": {"type": "string", "enum": ["a", "b"]},
            }},
        }},
    }
    node = {"$ref": "#/components/schemas/Node"}
    assert type_of(spec, {"type": ["integer", "null"]}) == ("integer", True)
    assert type_of(spec, {"oneOf": [node, {"type": "null"}]}) == ("object", True)
    assert type_of(spec, {"type": "array", "items": {"type": "string"}}) == ("array of string", False)
    fields = fields_of(spec, node)
    names = [f.name for f in fields]
    assert names[:4] == ["name", "parent", "parent.name", "parent.parent"]
    assert len(names) < 60                                   # the cycle stops
    kind = next(f for f in fields if f.name == "kind")
    assert "a · b" in kind.description and not kind.required
    assert fields_of(spec, {"type": "array", "items": node})[0].name == "[].name"
    assert example_of(spec, node) == {"name": "…"}
    command = curl_example(spec, "https://lms.example/api/v1", "/units/{code}/people", "post",
                           [{"name": "code", "in": "path", "required": True,
                             "schema": {"type": "string"}},
                            {"name": "since", "in": "query", "required": True,
                             "schema": {"type": "string", "format": "date-time"}}],
                           {"type": "object", "required": ["note"],
                            "properties": {"note": {"type": "string", "example": "it's"}}})
    assert command.startswith('curl -sS "https://lms.example/api/v1/units/${CODE}/people'
                              '?since=2026-11-01T00:00:00Z"')
    assert "-X POST" in command and "Bearer $LMS_TOKEN" in command
    assert "'\\''" in command                                # a quote inside the body stays quoted


def test_rate_limits_are_given_in_words(app):
    with app.test_request_context(), force_locale("en"):
        assert rate_limits("600 per minute") == ["600 calls per minute"]
        assert rate_limits("10/second;1000/day") == ["10 calls per second", "1000 calls per day"]


def test_the_pages_verification_snippet_accepts_real_signatures_only(client):
    """The Python snippet of the webhooks section, run as a receiver would, against the
    signatures the platform really sends."""
    import time

    from lms.api.webhooks import sign

    page = client.get("/api/v1/docs").get_data(as_text=True)
    webhooks = page.split('id="webhooks"', 1)[1]
    code = unescape(re.search(r"<pre[^>]*><code>(import hashlib.*?)</code></pre>", webhooks,
                              re.S).group(1))
    namespace: dict[str, Any] = {}
    exec(compile(code, "reference-snippet", "exec"), namespace)   # noqa: S102 - our own page
    verify = namespace["verify"]
    body = '{"id": "d1", "type": "course.completed"}'.encode()
    now = int(time.time())

    def headers(secret: str, at: int) -> dict[str, str]:
        return {"X-LMS-Timestamp": str(at), "X-LMS-Signature": sign(secret, at, body)}

    assert verify("whsec_right", headers("whsec_right", now), body)
    assert not verify("whsec_right", headers("whsec_wrong", now), body)
    assert not verify("whsec_right", headers("whsec_right", now), body + b" ")
    assert not verify("whsec_right", headers("whsec_right", now - 301), body)   # a replay
    assert verify("whsec_right", headers("whsec_right", now - 240), body)
