"""Forced and voluntary password changes."""
from sqlalchemy import select

from lms.auth.models import UserSession
from lms.auth.passwords import hash_password, verify_password
from tests.conftest import PASSWORD, login

NEW = "mat-khau-moi-2026"


def test_first_sign_in_after_an_admin_set_the_password_forces_a_change(client, factory, dbs):
    person = factory.person(email="a@mofa.example", password="tam-thoi-12345",
                            must_change_password=True)
    response = login(client, "a@mofa.example", "tam-thoi-12345")
    assert response.location.endswith("/account/password")
    assert client.get("/org/units").location.endswith("/account/password")
    assert client.get("/").location.endswith("/account/password")
    response = client.form("/account/password", {
        "current_password": "tam-thoi-12345", "new_password": NEW, "confirm_password": NEW})
    assert response.status_code == 302 and response.location == "/"
    dbs.refresh(person)
    assert person.must_change_password is False
    assert client.get("/").status_code == 200


def test_admin_sets_a_temporary_password_through_the_person_page(make_client, factory, dbs):
    admin = factory.admin(email="admin@mofa.example")
    person = factory.person(email="a@mofa.example", password=None)
    browser = make_client()
    login(browser, admin.email)
    browser.form(f"/org/people/{person.id}/password", {"password": "tam-thoi-12345"})
    dbs.refresh(person)
    assert person.must_change_password and verify_password(person.password_hash, "tam-thoi-12345")
    learner = make_client()
    assert login(learner, "a@mofa.example", "tam-thoi-12345").location.endswith("/account/password")


def test_password_change_ends_sessions_on_other_devices_but_keeps_this_one(make_client, factory, dbs):
    person = factory.person(email="a@mofa.example")
    here, elsewhere = make_client(), make_client()
    login(here, "a@mofa.example")
    login(elsewhere, "a@mofa.example")
    here.form("/account/password", {"current_password": PASSWORD, "new_password": NEW,
                                    "confirm_password": NEW})
    assert here.get("/account").status_code == 200
    assert elsewhere.get("/account").status_code == 302
    open_sessions = dbs.scalars(select(UserSession).where(
        UserSession.user_id == person.id, UserSession.ended_at.is_(None))).all()
    assert len(open_sessions) == 1


def test_weak_or_mismatched_new_passwords_are_refused_with_reasons(client, factory, dbs):
    person = factory.person(email="nhung@mofa.example", code="BNG00077")
    login(client, "nhung@mofa.example")
    for password in ["short1", "onlyletterslong", "1234567890", "nhung-2025-abc", "x-bng00077-9a"]:
        response = client.form("/account/password", {
            "current_password": PASSWORD, "new_password": password, "confirm_password": password})
        assert response.status_code == 200, password
        assert 'aria-invalid="true"' in response.get_data(as_text=True), password
    response = client.form("/account/password", {
        "current_password": PASSWORD, "new_password": NEW, "confirm_password": NEW + "x"})
    assert response.status_code == 200
    response = client.form("/account/password", {
        "current_password": "wrong-one-123", "new_password": NEW, "confirm_password": NEW})
    assert response.status_code == 200
    dbs.refresh(person)
    assert verify_password(person.password_hash, PASSWORD)


def test_policy_messages_are_specific(app, dbs):
    import pytest
    from flask_babel import force_locale

    from lms.auth.passwords import check_password_policy
    from lms.errors import DomainError

    cases = [("short1", "at least 10", "ít nhất 10"),
             ("onlyletterslong", "letters and digits", "chữ"),
             ("nhung-2025-abc", "e-mail", "thư điện tử"),
             ("1234567890", "letters and digits", "chữ")]
    for password, english, vietnamese in cases:
        for locale, fragment in (("en", english), ("vi", vietnamese)):
            with force_locale(locale), pytest.raises(DomainError) as err:
                check_password_policy(password, email="nhung@mofa.example", employee_code="BNG1")
            assert fragment in err.value.message, (locale, err.value.message)
    check_password_policy(NEW, email="nhung@mofa.example", employee_code="BNG1")


def test_passwords_are_stored_as_argon2id(app, dbs):
    stored = hash_password(NEW)
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, NEW) and not verify_password(stored, NEW + "x")
    assert not verify_password(None, NEW) and not verify_password("garbage", NEW)


def test_staff_change_their_language_and_timezone(client, factory, dbs):
    person = factory.person(email="a@mofa.example")
    login(client, "a@mofa.example")
    response = client.form("/account", {"locale": "en", "timezone": "Europe/Paris"})
    assert response.status_code == 302
    dbs.refresh(person)
    assert (person.locale, person.timezone) == ("en", "Europe/Paris")
    page = client.get("/account").get_data(as_text=True)
    assert '<html lang="en">' in page and "My account" in page


def test_unknown_timezone_is_refused(client, factory, dbs):
    person = factory.person(email="a@mofa.example")
    login(client, "a@mofa.example")
    response = client.form("/account", {"locale": "vi", "timezone": "Mars/Olympus"})
    assert response.status_code == 200
    dbs.refresh(person)
    assert person.timezone == "Asia/Ho_Chi_Minh"
