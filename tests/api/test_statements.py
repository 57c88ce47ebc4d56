"""xAPI statements: completed, passed and failed in a period, stable ids, scoped readers."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lms.db import utcnow
from tests.api.support import populated_ministry

VERB = "http://adlnet.gov/expapi/verbs/"


@pytest.fixture()
def ministry(dbs, factory):
    return populated_ministry(dbs, factory)


def since(minutes: int = 10) -> str:
    return (utcnow() - timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def pull(api, token, query: str) -> list[dict]:
    statements, url = [], f"/api/v1/statements?{query}"
    while url:
        body = api.client.get(url, headers=api.headers(token)).get_json()
        statements.extend(body["statements"])
        url = body["more"]
    return statements


def test_the_period_gives_a_completion_a_pass_and_a_fail_as_xapi(api, ministry, new_token):
    token = new_token(["progress:read"])
    statements = pull(api, token, f"since={since()}")
    verbs = sorted((s["verb"]["id"].removeprefix(VERB), s["actor"]["account"]["name"])
                   for s in statements)
    assert verbs == sorted([("completed", ministry.learner.employee_code),
                            ("passed", ministry.learner.employee_code),
                            ("failed", ministry.colleague.employee_code)])
    passed = next(s for s in statements if s["verb"]["id"].endswith("passed"))
    assert passed["result"]["success"] is True and passed["result"]["score"]["scaled"] == 1
    assert passed["context"]["contextActivities"]["parent"][0]["id"].endswith(
        f"/courses/{ministry.course.slug}")
    failed = next(s for s in statements if s["verb"]["id"].endswith("failed"))
    assert failed["result"]["success"] is False and failed["result"]["score"]["scaled"] == 0
    completed = next(s for s in statements if s["verb"]["id"].endswith("completed"))
    assert completed["object"]["definition"]["type"].endswith("/activities/course")
    assert all(s["version"] == "1.0.3" for s in statements)
    timestamps = [s["timestamp"] for s in statements]
    assert timestamps == sorted(timestamps)


def test_pulling_again_gives_the_same_ids_so_an_lrs_keeps_each_once(api, ministry, new_token):
    token = new_token(["progress:read"])
    first = pull(api, token, f"since={since()}&limit=1")
    second = pull(api, token, f"since={since()}&limit=2")
    assert [s["id"] for s in first] == [s["id"] for s in second]
    assert len({s["id"] for s in first}) == 3


def test_verbs_and_the_period_bounds_narrow_the_statements(api, ministry, new_token):
    token = new_token(["progress:read"])
    only_failed = pull(api, token, f"since={since()}&verb=failed")
    assert [s["verb"]["id"] for s in only_failed] == [VERB + "failed"]
    assert pull(api, token, f"since={since(60)}&until={since(30)}") == []
    response = api.get("/statements?verb=attempted&since=" + since(), token)
    assert response.status_code == 400
    assert api.get("/statements", token).status_code == 400       # since is required


def test_a_client_scoped_to_another_department_gets_none_of_these_people(
        api, ministry, new_token):
    outsider = new_token(["progress:read"], unit=ministry.sibling)
    assert pull(api, outsider, f"since={since()}") == []
    insider = new_token(["progress:read"], unit=ministry.division)
    assert len(pull(api, insider, f"since={since()}")) == 3


def test_a_page_of_statements_costs_the_same_queries_whatever_its_size(
        api, ministry, new_token, count_queries):
    token = new_token(["progress:read"])
    api.get(f"/statements?since={since()}&limit=1", token)
    counts = []
    for limit in (1, 3):
        with count_queries() as statements:
            body = api.get(f"/statements?since={since()}&limit={limit}", token).get_json()
        assert len(body["statements"]) == limit
        counts.append(len(statements))
    assert counts[1] - counts[0] <= 1      # a page with both kinds loads each kind once
    assert counts[1] <= 8
