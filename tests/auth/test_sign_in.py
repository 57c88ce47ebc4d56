"""Signing in and out: the stories of a learner at the login page."""
from datetime import timedelta

from sqlalchemy import select

from lms.auth.models import UserSession
from lms.db import utcnow
from lms.org.models import User
from tests.conftest import PASSWORD, login


def test_staff_sign_in_with_email_or_employee_code(client, factory):
    factory.person(email="hong.nhung@mofa.example", code="BNG00042")
    assert login(client, "Hong.Nhung@mofa.example").status_code == 302
    client.form("/logout")
    assert login(client, "bng00042").status_code == 302
    assert client.get("/").status_code == 200


def test_wrong_password_gets_a_clear_message_and_no_session(client, factory):
    factory.person(email="a@mofa.example")
    response = login(client, "a@mofa.example", "not-the-password1")
    assert response.status_code == 401
    assert "The e-mail/employee code or the password is wrong." in response.get_data(as_text=True) \
        or "không đúng" in response.get_data(as_text=True)
    assert client.get("/org/units").status_code == 302  # still signed out


def test_unknown_account_gets_the_same_message_as_a_wrong_password(client, factory):
    factory.person(email="a@mofa.example")
    wrong = login(client, "a@mofa.example", "not-the-password1").get_data(as_text=True)
    unknown = login(client, "nobody@mofa.example", "not-the-password1").get_data(as_text=True)
    assert _alert(wrong) == _alert(unknown)


def _alert(html: str) -> str:
    start = html.index('role="alert"')
    return html[start:html.index("</div>", start)]


def test_account_locks_after_repeated_failures_even_for_the_right_password(client, factory, dbs, app):
    person = factory.person(email="a@mofa.example")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        login(client, "a@mofa.example", "not-the-password1")
    response = login(client, "a@mofa.example", PASSWORD)
    assert response.status_code == 401
    dbs.refresh(person)
    assert person.locked_until is not None and person.locked_until > utcnow()
    assert ("locked" in response.get_data(as_text=True)
            or "khóa" in response.get_data(as_text=True))


def test_a_lock_expires_by_itself(client, factory, dbs):
    person = factory.person(email="a@mofa.example")
    person.locked_until = utcnow() - timedelta(seconds=1)
    dbs.flush()
    assert login(client, "a@mofa.example").status_code == 302


def test_deactivated_account_cannot_sign_in(client, factory, dbs):
    person = factory.person(email="a@mofa.example")
    person.is_active = False
    dbs.flush()
    response = login(client, "a@mofa.example")
    assert response.status_code == 401
    text = response.get_data(as_text=True)
    assert "deactivated" in text or "ngừng kích hoạt" in text


def test_sign_in_per_address_is_rate_limited_with_a_clear_page(client, factory, app):
    factory.person(email="a@mofa.example")
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        statuses = [login(client, f"x{i}@mofa.example", "wrong-pass-123").status_code
                    for i in range(4)]
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3] == 429


def test_a_form_without_csrf_token_is_refused(client, factory):
    factory.person(email="a@mofa.example")
    response = client.post("/login", data={"login": "a@mofa.example", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/org/units").status_code == 302


def test_a_new_session_id_is_made_at_every_sign_in(client, factory, dbs):
    person = factory.person(email="a@mofa.example")
    login(client, "a@mofa.example")
    client.form("/logout")
    login(client, "a@mofa.example")
    hashes = dbs.scalars(select(UserSession.token_hash).where(UserSession.user_id == person.id)).all()
    assert len(hashes) == 2 and len(set(hashes)) == 2


def test_signing_out_ends_the_session_on_every_device(make_client, factory):
    factory.person(email="a@mofa.example")
    office, phone = make_client(), make_client()
    login(office, "a@mofa.example")
    login(phone, "a@mofa.example")
    assert phone.get("/account").status_code == 200
    office.form("/logout")
    assert office.get("/account").status_code == 302
    assert phone.get("/account").status_code == 302


def test_a_copied_cookie_is_useless_after_sign_out(make_client, factory, app):
    factory.person(email="a@mofa.example")
    browser = make_client()
    login(browser, "a@mofa.example")
    cookie = browser.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    browser.form("/logout")
    thief = make_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    assert thief.get("/account").status_code == 302


def test_session_ends_after_idle_timeout(client, factory, dbs, app):
    person = factory.person(email="a@mofa.example")
    login(client, "a@mofa.example")
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
    row = dbs.scalar(select(UserSession).where(UserSession.user_id == person.id))
    row.last_seen_at = utcnow() - idle - timedelta(seconds=5)
    dbs.flush()
    response = client.get("/account")
    assert response.status_code == 302 and "/login" in response.location
    dbs.refresh(row)
    assert row.ended_reason == "idle"


def test_session_ends_at_its_absolute_lifetime_even_when_active(client, factory, dbs):
    person = factory.person(email="a@mofa.example")
    login(client, "a@mofa.example")
    row = dbs.scalar(select(UserSession).where(UserSession.user_id == person.id))
    row.expires_at = utcnow() - timedelta(seconds=1)
    dbs.flush()
    assert client.get("/account").status_code == 302
    dbs.refresh(row)
    assert row.ended_reason == "expired"


def test_deactivation_ends_the_persons_sessions(make_client, factory, dbs):
    admin = factory.admin(email="admin@mofa.example")
    person = factory.person(email="a@mofa.example")
    learner, admin_browser = make_client(), make_client()
    login(learner, "a@mofa.example")
    login(admin_browser, admin.email)
    admin_browser.form(f"/org/people/{person.id}/deactivate")
    assert learner.get("/account").status_code == 302
    dbs.refresh(person)
    assert person.is_active is False


def test_only_same_site_paths_are_followed_after_sign_in(client, factory):
    factory.person(email="a@mofa.example")
    client.refresh_csrf("/login")
    response = client.form("/login?next=https://evil.example/x",
                           {"login": "a@mofa.example", "password": PASSWORD})
    assert response.location == "/"
    client.refresh_csrf("/account")
    client.form("/logout")
    client.refresh_csrf("/login")
    response = client.form("/login?next=/account", {"login": "a@mofa.example", "password": PASSWORD})
    assert response.location == "/account"


def test_last_sign_in_time_is_recorded(client, factory, dbs):
    person = factory.person(email="a@mofa.example")
    login(client, "a@mofa.example")
    dbs.refresh(person)
    assert person.last_login_at is not None and utcnow() - person.last_login_at < timedelta(minutes=1)


def test_session_cookie_is_httponly_and_samesite_lax(client, factory, app):
    factory.person(email="a@mofa.example")
    client.refresh_csrf("/login")
    response = client.form("/login", {"login": "a@mofa.example", "password": PASSWORD})
    cookie = next(h for h in response.headers.getlist("Set-Cookie")
                  if h.startswith(app.config["SESSION_COOKIE_NAME"]))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # only with LMS_HTTPS=1


def test_users_are_looked_up_not_trusted_from_the_cookie(client, factory, dbs):
    person = factory.person(email="a@mofa.example")
    login(client, "a@mofa.example")
    with client.session_transaction() as session:
        session["_user_id"] = str(person.id + 999)
    assert client.get("/account").status_code == 302
    assert dbs.get(User, person.id).is_active
