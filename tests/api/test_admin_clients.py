"""The admins' API client pages: the list, a new client (its token shown once), a client's
page (editing, a new token, revoking, the call log with counts per status class).

Admins only. Tests read ids, data-* attributes, the database and the API itself, and compare
texts with gettext in the viewer's language — never English words.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import select

from lms.api.clients import create_client, hash_token
from lms.api.models import ApiCall, ApiClient
from lms.audit.models import AuditEvent
from lms.db import utcnow
from lms.org.models import Role
from lms.org.services import set_unit_active
from tests.conftest import login

UTC = timezone.utc


@pytest.fixture()
def admin(factory):
    return factory.admin(name="Quản Trị Viên", email="admin@mofa.example")


@pytest.fixture()
def signed_in(client, admin):
    login(client, admin.email)
    return client


def make_client(dbs, name="Hệ thống nhân sự", scopes=("progress:read",), unit=None):
    api_client, token = create_client(dbs, None, name, list(scopes), unit.id if unit else None)
    dbs.flush()
    return api_client, token


def add_calls(dbs, api_client, n, at, status=200, step=timedelta(seconds=1)):
    for i in range(n):
        dbs.add(ApiCall(client_id=api_client.id, created_at=at - i * step, method="GET",
                        path=f"/api/v1/progress?limit={i + 1}", status=status, duration_ms=12,
                        ip_address="10.0.0.7", summary=f"enrolments={i}"))
    dbs.flush()


def shown_token(page: str) -> str | None:
    match = re.search(r'<code class="api-token" id="new-token">([^<]+)</code>', page)
    return match.group(1) if match else None


def in_language(app, locale: str, text: str, **values) -> str:
    with app.test_request_context(), force_locale(locale):
        return gettext(text, **values)


def html(text: str) -> str:
    """A text as Jinja writes it (autoescaped)."""
    from markupsafe import escape

    return str(escape(text))


# ---------------------------------------------------------------- who may

def test_only_admins_see_and_manage_api_clients(client, dbs, factory, admin):
    api_client, _token = make_client(dbs)
    unit = factory.unit()
    people = [factory.person(email="hocvien@mofa.example"),
              factory.unit_head(unit, email="truong@mofa.example"),
              factory.person(email="giangvien@mofa.example", roles=((Role.TRAINER.value, None),))]
    base = f"/admin/api/clients/{api_client.id}"
    pages = ("/admin/api/clients", "/admin/api/clients/new", base, base + "?page=2")
    posts = {"/admin/api/clients/new": {"name": "X", "scopes": "progress:read"},
             base + "/edit": {"name": "X", "scopes": "progress:read"},
             base + "/rotate": {}, base + "/revoke": {"confirm": "y"}}
    for url in pages:
        assert client.get(url).status_code == 302                     # signed out: sign in
    for person in people:
        login(client, person.email)
        for url in pages:
            assert client.get(url).status_code == 403, (person.email, url)
        for url, data in posts.items():
            assert client.form(url, data).status_code == 403, (person.email, url)
    dbs.refresh(api_client)
    assert api_client.is_active and api_client.name == "Hệ thống nhân sự"
    assert dbs.scalar(select(ApiClient).where(ApiClient.name == "X")) is None
    login(client, admin.email)
    for url in pages:
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/api/clients/999999").status_code == 404


# ---------------------------------------------------------------- the list

def test_list_shows_each_client_with_its_calls_of_the_last_day(signed_in, dbs, factory):
    unit = factory.unit(name="Vụ Tổ chức cán bộ")
    hr, _t = make_client(dbs, "Nhân sự", ("staff:write", "progress:read"))
    lrs, _t = make_client(dbs, "Kho xAPI", ("progress:read",), unit=unit)
    old, _t = make_client(dbs, "Cũ", ("certificates:read",))
    old.revoked_at = utcnow()
    now = utcnow()
    add_calls(dbs, hr, 3, now)
    add_calls(dbs, hr, 2, now - timedelta(days=2))                   # older than a day
    add_calls(dbs, lrs, 1, now - timedelta(hours=23))
    page = signed_in.get("/admin/api/clients").get_data(as_text=True)
    rows = {int(i): (status, int(n)) for i, status, n in
            re.findall(r'<tr id="client-(\d+)" data-status="(\w+)" data-calls="(\d+)"', page)}
    assert rows == {hr.id: ("active", 3), lrs.id: ("active", 1), old.id: ("revoked", 0)}
    assert page.index(f'id="client-{hr.id}"') < page.index(f'id="client-{old.id}"')
    hr_row = page.split(f'id="client-{hr.id}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-scope="staff:write"' in hr_row and 'data-scope="progress:read"' in hr_row
    assert f"{hr.token_prefix}…" in hr_row
    lrs_row = page.split(f'id="client-{lrs.id}"', 1)[1].split("</tr>", 1)[0]
    assert html("Vụ Tổ chức cán bộ") in lrs_row
    assert f'href="/admin/api/clients/{lrs.id}"' in lrs_row


def test_list_runs_a_fixed_number_of_queries(signed_in, dbs, factory, count_queries):
    def run(n: int) -> int:
        for i in range(n):
            api_client, _t = make_client(dbs, f"Hệ thống {i}", unit=factory.unit())
            add_calls(dbs, api_client, 2, utcnow())
        with count_queries() as statements:
            assert signed_in.get("/admin/api/clients").status_code == 200
        return len(statements)

    assert run(2) == run(6)


# ---------------------------------------------------------------- a new client

def test_admin_creates_a_client_and_sees_its_token_once(signed_in, dbs, factory, api, look):
    unit = factory.unit()
    response = signed_in.form("/admin/api/clients/new", {
        "name": "  Kho dữ liệu học tập ", "scopes": ["progress:read", "certificates:read"],
        "unit_id": str(unit.id)})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    token = shown_token(page)
    assert token and token.startswith("lms_")
    created = look().scalar(select(ApiClient).where(ApiClient.token_sha256 == hash_token(token)))
    assert created.name == "Kho dữ liệu học tập"
    assert created.scopes == ["certificates:read", "progress:read"] and created.unit_id == unit.id
    assert f'data-client="{created.id}"' in page
    # Shown once: not in any address, cookie or later page.
    assert token not in (response.location or "")
    assert all(token not in value for _name, value in response.headers.items())
    again = signed_in.get(f"/admin/api/clients/{created.id}").get_data(as_text=True)
    assert shown_token(again) is None and token not in again
    assert token not in signed_in.get("/admin/api/clients").get_data(as_text=True)
    # The token works at once.
    assert api.get("/progress", token).status_code == 200
    assert look().scalar(select(AuditEvent.action).where(
        AuditEvent.target_type == "apiclient", AuditEvent.target_id == created.id)) == \
        "api_client.created"


def test_a_refused_client_shows_the_rule_in_the_admins_language(signed_in, app, dbs, factory,
                                                                  admin):
    unit = factory.unit()
    response = signed_in.form("/admin/api/clients/new", {
        "name": "Đồng bộ nhân sự", "scopes": ["staff:write"], "unit_id": str(unit.id)})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert shown_token(page) is None
    unit_error = re.search(r'<p class="error-text" id="unit_id-error">([^<]+)</p>', page)
    assert unit_error and unit_error.group(1) == html(in_language(
        app, admin.locale, "Staff sync changes the whole organisation: a client with it "
                           "cannot be limited to one unit."))
    response = signed_in.form("/admin/api/clients/new", {"name": "Không phạm vi", "unit_id": ""})
    scopes_error = re.search(r'<p class="error-text" id="scopes-error">([^<]+)</p>',
                             response.get_data(as_text=True))
    assert scopes_error and scopes_error.group(1) == html(
        in_language(app, admin.locale, "Choose at least one scope."))
    response = signed_in.form("/admin/api/clients/new", {"name": "", "scopes": ["progress:read"]})
    assert 'id="name-error"' in response.get_data(as_text=True)
    assert dbs.scalar(select(ApiClient)) is None


def test_the_form_offers_active_units_and_keeps_a_deactivated_one(signed_in, dbs, factory):
    active, closed = factory.unit(code="MO"), factory.unit(code="DONG")
    api_client, _t = make_client(dbs, unit=closed)
    set_unit_active(dbs, None, closed, False)
    dbs.flush()
    new_page = signed_in.get("/admin/api/clients/new").get_data(as_text=True)
    assert f'<option value="{active.id}">' in new_page
    assert f'value="{closed.id}"' not in new_page
    page = signed_in.get(f"/admin/api/clients/{api_client.id}").get_data(as_text=True)
    assert f'<option selected value="{closed.id}">' in page


# ---------------------------------------------------------------- a client's page

def test_admin_edits_a_client(signed_in, app, dbs, factory, admin, new_token, api, look):
    unit = factory.unit()
    api_client, token = make_client(dbs, scopes=("progress:read",), unit=unit)
    url = f"/admin/api/clients/{api_client.id}"
    page = signed_in.get(url).get_data(as_text=True)
    assert re.findall(r'<input checked id="scopes-\d" name="scopes" type="checkbox" value="([^"]+)"',
                      page) == ["progress:read"]
    assert f'<option selected value="{unit.id}">' in page
    response = signed_in.form(url + "/edit", {"name": "Kho xAPI", "scopes": ["certificates:read"],
                                              "unit_id": ""})
    assert response.status_code == 302 and response.location.endswith(url)
    saved = look().get(ApiClient, api_client.id)
    assert (saved.name, saved.scopes, saved.unit_id) == ("Kho xAPI", ["certificates:read"], None)
    assert api.get("/progress", token).status_code == 403               # scope taken away
    # A refused change leaves the client as it was and says why, next to the field.
    response = signed_in.form(url + "/edit", {"name": "Kho xAPI", "scopes": ["staff:write"],
                                              "unit_id": str(unit.id)})
    assert response.status_code == 200
    assert 'id="unit_id-error"' in response.get_data(as_text=True)
    assert look().get(ApiClient, api_client.id).scopes == ["certificates:read"]
    assert look().scalar(select(AuditEvent.details).where(
        AuditEvent.action == "api_client.updated", AuditEvent.target_id == api_client.id)) == {
        "changes": {"name": "Kho xAPI", "scopes": ["certificates:read"], "unit_id": None}}


def test_a_new_token_is_shown_once_and_the_old_one_stops_working(signed_in, dbs, api, look):
    api_client, old = make_client(dbs)
    assert api.get("/progress", old).status_code == 200
    response = signed_in.form(f"/admin/api/clients/{api_client.id}/rotate")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    new = shown_token(response.get_data(as_text=True))
    assert new and new != old
    assert api.get("/progress", old).status_code == 401
    assert api.get("/progress", new).status_code == 200
    assert look().get(ApiClient, api_client.id).token_prefix == new[:10]
    assert shown_token(signed_in.get(f"/admin/api/clients/{api_client.id}")
                       .get_data(as_text=True)) is None


def test_revoking_needs_confirmation_then_the_token_stops(signed_in, app, dbs, api, admin, look):
    api_client, token = make_client(dbs)
    url = f"/admin/api/clients/{api_client.id}"
    response = signed_in.form(url + "/revoke")                          # box not ticked
    assert response.status_code == 200
    error = re.search(r'<p class="error-text" id="confirm-error">([^<]+)</p>',
                      response.get_data(as_text=True))
    assert error and error.group(1) == html(in_language(app, admin.locale,
                                                        "Tick the box to confirm."))
    assert look().get(ApiClient, api_client.id).revoked_at is None
    assert api.get("/progress", token).status_code == 200
    response = signed_in.form(url + "/revoke", {"confirm": "y"})
    assert response.status_code == 302
    assert look().get(ApiClient, api_client.id).revoked_at is not None
    assert api.get("/progress", token).status_code == 401
    page = signed_in.get(url).get_data(as_text=True)
    assert 'data-status="revoked"' in page and 'id="revoke"' not in page
    assert 'id="rotate"' not in page and 'id="client-form"' not in page
    # A revoked client gets no new token.
    assert signed_in.form(url + "/rotate").status_code == 302
    assert look().get(ApiClient, api_client.id).token_sha256 == hash_token(token)
    assert look().scalars(select(AuditEvent.action).where(
        AuditEvent.target_id == api_client.id, AuditEvent.target_type == "apiclient")).all() \
        .count("api_client.revoked") == 1


def test_call_log_shows_the_latest_100_calls_a_page_at_a_time(signed_in, dbs, admin):
    api_client, _t = make_client(dbs)
    other, _t = make_client(dbs, "Khác")
    now = utcnow()
    add_calls(dbs, api_client, 130, now, step=timedelta(minutes=1))
    add_calls(dbs, other, 5, now)
    url = f"/admin/api/clients/{api_client.id}"
    calls = dbs.scalars(select(ApiCall).where(ApiCall.client_id == api_client.id)
                        .order_by(ApiCall.created_at.desc())).all()
    seen = []
    for page_number in (1, 2, 3, 4):
        page = signed_in.get(f"{url}?page={page_number}").get_data(as_text=True)
        seen += [int(i) for i in re.findall(r'<tr id="call-(\d+)"', page)]
    assert seen == [call.id for call in calls[:100]]
    page = signed_in.get(f"{url}?page=9").get_data(as_text=True)       # past the end: last page
    assert [int(i) for i in re.findall(r'<tr id="call-(\d+)"', page)] == [c.id for c in calls[75:100]]


def test_call_log_times_are_in_the_viewers_timezone(signed_in, dbs, admin):
    admin.timezone = "Asia/Tokyo"
    dbs.flush()
    api_client, _t = make_client(dbs)
    add_calls(dbs, api_client, 1, datetime(2026, 11, 24, 1, 2, 3, tzinfo=UTC))
    page = signed_in.get(f"/admin/api/clients/{api_client.id}").get_data(as_text=True)
    row = re.search(r'<tr id="call-\d+" data-status="200">(.*?)</tr>', page, re.S).group(1)
    assert "10:02:03" in row                     # 01:02:03 UTC is 10:02:03 in Tokyo
    assert "/api/v1/progress?limit=1" in row and "10.0.0.7" in row and "enrolments=0" in row


def test_calls_are_counted_per_status_class_over_a_day_and_a_week(signed_in, dbs):
    api_client, _t = make_client(dbs)
    now = utcnow()
    add_calls(dbs, api_client, 4, now, status=200)
    add_calls(dbs, api_client, 2, now, status=404)
    add_calls(dbs, api_client, 1, now, status=503)
    add_calls(dbs, api_client, 3, now - timedelta(days=3), status=200)
    add_calls(dbs, api_client, 1, now - timedelta(days=3), status=429)
    add_calls(dbs, api_client, 5, now - timedelta(days=8), status=200)   # older than a week
    page = signed_in.get(f"/admin/api/clients/{api_client.id}").get_data(as_text=True)

    def counts(period: str) -> dict[str, int]:
        row = page.split(f'data-period="{period}"', 1)[1].split("</tr>", 1)[0]
        return {cls: int(n) for cls, n in re.findall(r'data-class="(\w+)" data-count="(\d+)"', row)}

    assert counts("day") == {"2xx": 4, "3xx": 0, "4xx": 2, "5xx": 1, "all": 7}
    assert counts("week") == {"2xx": 7, "3xx": 0, "4xx": 3, "5xx": 1, "all": 11}


def test_client_page_runs_a_fixed_number_of_queries(signed_in, dbs, count_queries):
    api_client, _t = make_client(dbs)

    def run(n: int) -> int:
        add_calls(dbs, api_client, n, utcnow() - timedelta(hours=n))
        with count_queries() as statements:
            assert signed_in.get(f"/admin/api/clients/{api_client.id}").status_code == 200
        return len(statements)

    assert run(3) == run(40)
