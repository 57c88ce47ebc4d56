"""Tokens, scopes, problems, rate limits and the log of every call."""
from __future__ import annotations

from flask_babel import force_locale, gettext
from sqlalchemy import select

from lms.api.clients import create_client, revoke_client, rotate_token
from lms.api.models import ApiCall, ApiClient
from lms.api.problems import PROBLEM_JSON


def test_no_token_a_wrong_one_or_another_scheme_gets_401_with_a_challenge(api, new_token):
    new_token(["progress:read"])
    for headers in ({}, {"Authorization": "Bearer lms_not-a-token"},
                    {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}):
        response = api.client.get("/api/v1/progress", headers=headers)
        assert response.status_code == 401
        assert response.mimetype == PROBLEM_JSON
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        body = response.get_json()
        assert body["status"] == 401 and body["type"].endswith("#problem-unauthorized")


def test_a_revoked_token_stops_working_and_a_rotated_one_is_replaced(api, dbs):
    client, token = create_client(dbs, None, "LGSP", ["progress:read"])
    dbs.flush()
    assert api.get("/progress", token).status_code == 200
    new = rotate_token(dbs, None, client)
    dbs.flush()
    assert api.get("/progress", token).status_code == 401
    assert api.get("/progress", new).status_code == 200
    revoke_client(dbs, None, client)
    dbs.flush()
    assert api.get("/progress", new).status_code == 401


def test_only_the_tokens_hash_is_stored(dbs):
    client, token = create_client(dbs, None, "HR", ["progress:read"])
    dbs.flush()
    stored = dbs.get(ApiClient, client.id)
    assert token not in (stored.token_sha256, stored.token_prefix)
    assert token.startswith(stored.token_prefix) and len(stored.token_prefix) < 16


def test_problems_speak_the_language_asked_for(api, new_token):
    token = new_token(["certificates:read"])
    details = {}
    for language in ("vi", "en"):
        api.language = language
        body = api.get("/progress", token).get_json()
        with force_locale(language):
            expected = gettext("This client does not have the scope %(scope)s. An administrator "
                               "can add it on the client's page.", scope="progress:read")
        assert body["detail"] == expected
        details[language] = body["detail"]
    assert details["vi"] != details["en"]


def test_too_many_calls_get_429_with_retry_after(api, app, new_token, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")
    token, other = new_token(["progress:read"]), new_token(["progress:read"], name="Báo cáo")
    statuses = [api.get("/progress", token).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = api.get("/progress", token)
    assert response.status_code == 429 and response.mimetype == PROBLEM_JSON
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.get_json()["type"].endswith("#problem-rate-limited")
    assert api.get("/progress", other).status_code == 200        # each token has its own budget


def test_every_call_is_logged_for_its_client_even_a_failed_one(api, dbs, new_token):
    token = new_token(["progress:read"], name="Hệ thống báo cáo")
    api.get("/progress?limit=5", token)
    api.get("/units/NOPE/progress", token)
    api.get("/people/X/certificates", token)
    client = dbs.scalar(select(ApiClient).where(ApiClient.name == "Hệ thống báo cáo"))
    calls = list(dbs.scalars(select(ApiCall).where(ApiCall.client_id == client.id)
                             .order_by(ApiCall.id)))
    assert [(c.method, c.path, c.status) for c in calls] == [
        ("GET", "/api/v1/progress?limit=5", 200), ("GET", "/api/v1/units/NOPE/progress", 404),
        ("GET", "/api/v1/people/X/certificates", 403)]
    assert calls[0].summary == "enrolments=0"
    dbs.refresh(client)
    assert client.last_used_at is not None


def test_a_call_the_view_did_not_finish_leaves_nothing_but_the_log(api, dbs, new_token):
    token = new_token(["staff:write"])
    response = api.client.post("/api/v1/staff/sync", data="{not json",
                               headers=api.headers(token, **{"Content-Type": "application/json"}))
    assert response.status_code == 400 and response.mimetype == PROBLEM_JSON
    assert dbs.scalar(select(ApiCall.status).order_by(ApiCall.id.desc()).limit(1)) == 400


def test_the_document_and_the_reference_need_no_token(api):
    assert api.client.get("/api/v1/openapi.json").status_code == 200
    assert api.client.get("/api/v1/docs").status_code == 200


def test_a_method_the_path_does_not_take_is_a_405_problem(api, new_token):
    token = new_token(["progress:read"])
    response = api.post("/progress", {}, token)
    assert response.status_code == 405 and response.mimetype == PROBLEM_JSON
    assert "GET" in response.headers["Allow"]


def test_the_call_log_keeps_the_configured_number_of_days(app, dbs, new_token, monkeypatch):
    from datetime import timedelta

    from lms.api.tasks import prune_call_log
    from lms.db import utcnow

    monkeypatch.setitem(app.config, "API_CALL_LOG_DAYS", 30)
    new_token(["progress:read"], name="Báo cáo")
    client_id = dbs.scalar(select(ApiClient.id).where(ApiClient.name == "Báo cáo"))
    now = utcnow()
    for days in (40, 31, 29, 1):
        dbs.add(ApiCall(client_id=client_id, created_at=now - timedelta(days=days), method="GET",
                        path=f"/api/v1/progress?d={days}", status=200))
    dbs.flush()
    assert prune_call_log(dbs, now).startswith("2 ")
    kept = sorted(dbs.scalars(select(ApiCall.path).where(ApiCall.client_id == client_id)))
    assert kept == ["/api/v1/progress?d=1", "/api/v1/progress?d=29"]
