"""A person chooses, on their account page, how each category of notifications reaches them
by e-mail: immediately, in one e-mail a day, or not at all — except mandatory training,
whose notices cannot be switched off. The tests read input names, values and the database.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from lms.notify import digests
from lms.notify.models import NotificationPreference, OutboxEmail
from lms.notify.services import notify
from tests.conftest import login

INPUT_RE = re.compile(r"<input\b[^>]*>")


def radios(page: str) -> dict[str, dict[str, bool]]:
    """{group name: {value: checked}} of the page's radio inputs."""
    groups: dict[str, dict[str, bool]] = {}
    for tag in INPUT_RE.findall(page):
        if 'type="radio"' not in tag:
            continue
        name = re.search(r'name="([^"]+)"', tag).group(1)
        value = re.search(r'value="([^"]+)"', tag).group(1)
        groups.setdefault(name, {})[value] = bool(re.search(r"\schecked\b", tag))
    return groups


def saved(dbs, person) -> dict[str, str]:
    return dict(dbs.execute(select(NotificationPreference.category, NotificationPreference.mode)
                            .where(NotificationPreference.user_id == person.id)).all())


@pytest.fixture()
def person(factory):
    return factory.person("Nguyễn Thị Hồng Nhung")


def test_account_page_offers_each_category_and_no_off_for_mandatory_training(client, person):
    login(client, person.email)
    page = client.get("/account").get_data(as_text=True)
    assert 'id="email-preferences"' in page
    groups = radios(page)
    assert groups["email_training"] == {"immediate": True, "digest": False}
    for category in ("certificates", "mentoring", "reports"):
        assert groups[f"email_{category}"] == {"immediate": True, "digest": False, "off": False}
    assert 'data-category="training"' in page


def test_saved_choices_are_kept_and_shown_again(client, dbs, look, person):
    login(client, person.email)
    response = client.form("/account/notifications", {
        "email_training": "digest", "email_certificates": "off",
        "email_mentoring": "immediate", "email_reports": "digest"})
    assert response.status_code == 302 and response.location.endswith("/account#email-preferences")
    assert saved(look(), person) == {"training": "digest", "certificates": "off",
                                     "mentoring": "immediate", "reports": "digest"}
    groups = radios(client.get("/account").get_data(as_text=True))
    assert groups["email_certificates"]["off"] and not groups["email_certificates"]["immediate"]
    assert groups["email_training"]["digest"] and groups["email_reports"]["digest"]
    # Changing one's mind updates the same rows.
    client.form("/account/notifications", {
        "email_training": "immediate", "email_certificates": "immediate",
        "email_mentoring": "off", "email_reports": "digest"})
    assert saved(look(), person) == {"training": "immediate", "certificates": "immediate",
                                     "mentoring": "off", "reports": "digest"}


def test_mandatory_training_e_mail_cannot_be_switched_off(client, dbs, look, person):
    login(client, person.email)
    response = client.form("/account/notifications", {
        "email_training": "off", "email_certificates": "off",
        "email_mentoring": "immediate", "email_reports": "immediate"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="email_training-error"' in page
    assert saved(look(), person) == {}


def test_an_unknown_choice_is_refused_and_nothing_is_saved(client, dbs, look, person):
    login(client, person.email)
    response = client.form("/account/notifications", {
        "email_training": "immediate", "email_certificates": "weekly",
        "email_mentoring": "immediate", "email_reports": "immediate"})
    assert response.status_code == 400
    assert 'id="email_certificates-error"' in response.get_data(as_text=True)
    assert saved(look(), person) == {}


def test_signed_out_visitors_are_sent_to_sign_in(client, dbs, look, person):
    response = client.get("/account")
    assert response.status_code == 302 and "/login" in response.location
    response = client.form("/account/notifications", {"email_certificates": "off"})
    assert response.status_code == 302 and "/login" in response.location
    assert saved(look(), person) == {}


def test_the_saved_choice_decides_what_is_e_mailed(client, dbs, factory, person):
    digests.register_kinds()
    login(client, person.email)
    client.form("/account/notifications", {
        "email_training": "immediate", "email_certificates": "immediate",
        "email_mentoring": "immediate", "email_reports": "off"})
    other = factory.person()
    unit = factory.unit()
    notify(dbs, [person.id, other.id], "weekly_digest", params={"unit_id": unit.id, "unit": "X"})
    mailed = list(dbs.scalars(select(OutboxEmail.user_id).where(OutboxEmail.kind == "weekly_digest")))
    assert mailed == [other.id]
