"""While the database is unreachable (a restart of PostgreSQL, a cut network), people get the
friendly "briefly unavailable" page and other systems a 503 problem, both with Retry-After;
once the database is back the app serves again by itself."""
from __future__ import annotations

import logging

import pytest
from flask_babel import force_locale, gettext

from lms.errors import ERROR_TITLES
from tests.conftest import Client, login
from tests.ops.support import committed_app, database_unreachable


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    with committed_app(str(tmp_path_factory.mktemp("opsoutage")), "opsoutage") as ready:
        yield ready


@pytest.fixture()
def browser(committed):
    committed.app.test_client_class = Client
    return committed.app.test_client()


def title_503(app) -> str:
    with app.test_request_context(), force_locale("vi"):
        return gettext(str(ERROR_TITLES[503]._args[0]))


def test_a_signed_in_person_sees_the_friendly_503_page_then_the_page_again(committed, browser,
                                                                           caplog):
    login(browser, committed.email)
    assert browser.get("/learning").status_code == 200
    with database_unreachable(committed.app):
        with caplog.at_level(logging.WARNING, logger="lms.errors"):
            response = browser.get("/learning", headers={"X-Request-ID": "outage-1"})
        page = response.get_data(as_text=True)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "10"
        assert response.mimetype == "text/html"
        assert title_503(committed.app) in page
        assert 'data-request-id="outage-1"' in page
        assert response.headers["X-Request-ID"] == "outage-1"
        warnings = [r for r in caplog.records if r.name == "lms.errors"]
        assert len(warnings) == 1    # once per request, and no traceback storm
        assert warnings[0].levelno == logging.WARNING and warnings[0].exc_info is None
        assert committed.app.test_client().get("/readyz").status_code == 503
        assert committed.app.test_client().get("/healthz").status_code == 200
    response = browser.get("/learning")
    assert response.status_code == 200       # recovered, still signed in


def test_a_visitor_sees_the_friendly_503_page_on_a_public_page(committed, browser):
    with database_unreachable(committed.app):
        response = browser.get("/movement")
        assert response.status_code == 503
        assert title_503(committed.app) in response.get_data(as_text=True)
    assert browser.get("/movement").status_code == 200


def test_the_api_answers_a_503_problem_then_serves_again(committed):
    api = committed.app.test_client()
    headers = {"Authorization": f"Bearer {committed.api_token}", "Accept-Language": "en"}
    url = "/api/v1/people/OPS1/certificates"
    assert api.get(url, headers=headers).status_code == 200
    with database_unreachable(committed.app):
        response = api.get(url, headers=headers)
        assert response.status_code == 503
        assert response.mimetype == "application/problem+json"
        # at least 10 s (the rate limiter's headers may raise it to its window's reset)
        assert int(response.headers["Retry-After"]) >= 10
        body = response.get_json()
        assert body["status"] == 503 and body["type"].endswith("#problem-unavailable")
    assert api.get(url, headers=headers).status_code == 200


def test_a_query_error_is_still_a_500_not_a_503():
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from lms.errors import is_database_unavailable

    assert not is_database_unavailable(ProgrammingError("SELECT", {}, Exception(
        'relation "nothing" does not exist')))
    assert not is_database_unavailable(OperationalError("SELECT", {}, Exception(
        "database is locked")))
    assert is_database_unavailable(OperationalError("SELECT", {}, Exception(
        "server closed the connection unexpectedly")))
