"""schemathesis against the served OpenAPI document: every operation, with valid tokens,
gets no 5xx and no answer that breaks the document (status, content type, headers, body).

Generated cases mostly hit unknown codes (404 problems) or bad parameters (400 problems);
the known-good cases below make sure every operation's 200 answer is validated too.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from lms.api.clients import SCOPES
from lms.db import utcnow
from tests.api.support import populated_ministry

EXAMPLES_PER_OPERATION = 40


@pytest.fixture()
def ministry(dbs, factory):
    return populated_ministry(dbs, factory)


@pytest.fixture()
def schema(app, client):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def operations(schema) -> list:
    found = [result.ok() for result in schema.get_all_operations()]
    assert found, "the document lists no operation"
    return found


def check_generated_requests(operation, headers: dict[str, str]) -> None:
    # A body the schema allows may still break a rule no schema can say (an unknown unit
    # code, an e-mail taken by someone else): the sync answers 422, as documented.
    excluded = [positive_data_acceptance] if operation.method.upper() == "POST" else []

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              derandomize=True, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case) -> None:
        # A cursor is opaque (only ours are valid): tests/api/test_pagination.py covers it.
        if case.query:
            case.query.pop("cursor", None)
        response = case.call(headers=headers)
        assert response.status_code < 500, (operation.label, response.text)
        case.validate_response(response, headers=headers, excluded_checks=excluded)

    check()


def test_every_operation_answers_as_documented_for_generated_requests(schema, ministry, new_token):
    token = new_token(list(SCOPES))
    headers = {"Authorization": f"Bearer {token}"}
    for operation in operations(schema):
        check_generated_requests(operation, headers)


def known_good_cases(ministry) -> dict[str, dict]:
    since = (utcnow() - timedelta(days=30)).isoformat()
    return {
        "GET /units/{code}/progress": {"path_parameters": {"code": ministry.dept.code}},
        "GET /progress": {"query": {"limit": 2, "unit": ministry.dept.code}},
        "GET /people/{employee_code}/progress": {
            "path_parameters": {"employee_code": ministry.learner.employee_code}},
        "GET /courses/{slug}/progress": {"path_parameters": {"slug": ministry.course.slug}},
        "GET /certificates/{code}": {"path_parameters": {"code": ministry.certificate.code}},
        "GET /people/{employee_code}/certificates": {
            "path_parameters": {"employee_code": ministry.learner.employee_code}},
        "GET /statements": {"query": {"since": since, "limit": 2}},
        "POST /staff/sync": {"body": {"people": [{
            "employee_code": ministry.learner.employee_code, "full_name": ministry.learner.full_name,
            "email": ministry.learner.email, "unit_code": ministry.learner.unit.code}]}},
    }


def test_every_operation_answers_200_as_documented_for_real_data(schema, ministry, new_token):
    token = new_token(list(SCOPES))
    headers = {"Authorization": f"Bearer {token}"}
    cases = known_good_cases(ministry)
    labels = {operation.label for operation in operations(schema)}
    assert labels == set(cases), "each operation needs a known-good case here"
    for operation in operations(schema):
        case = operation.Case(**cases[operation.label])
        response = case.call(headers=headers)
        assert response.status_code == 200, (operation.label, response.text)
        case.validate_response(response, headers=headers)


def test_problems_without_a_token_match_the_document(schema, ministry):
    for operation in operations(schema):
        case = operation.Case(**known_good_cases(ministry)[operation.label])
        response = case.call()
        assert response.status_code == 401
        assert response.headers["content-type"][0].startswith("application/problem+json")
        case.validate_response(response)


@given(st.text(max_size=30))
@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_malformed_cursor_is_a_400_problem_never_a_500(api, new_token, cursor):
    token = new_token(["progress:read"])
    response = api.client.get("/api/v1/progress", query_string={"cursor": cursor or "x"},
                              headers=api.headers(token))
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert response.mimetype == "application/problem+json"
