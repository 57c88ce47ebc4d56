"""Concurrent posts (kiêm nhiệm) on a person's page: an admin adds a post in another unit
and ends it; while it lasts, that unit's head sees the person and the training assigned
there reaches them; an ended post stays in the history.

The pages are read in English (switched after signing in).
"""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select

from lms.courses.services import enrolment_for
from lms.org.models import ConcurrentPost
from tests.conftest import login


def sign_in(client, person):
    login(client, person.email)
    client.form("/language/en", {"next": "/"})
    return client


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def posts_section(page: str) -> str:
    match = re.search(r'<section class="panel" id="posts".*?</section>', page, re.S)
    assert match, "no concurrent posts section"
    return match.group(0)


@pytest.fixture()
def setting(factory):
    consular = factory.unit("Cục Lãnh sự", code="CLS")
    protocol = factory.unit("Cục Lễ tân", code="LT")
    press = factory.unit("Vụ Thông tin báo chí", code="TTBC")
    return {
        "admin": factory.admin(email="admin@mofa.example"),
        "person": factory.person("Nguyễn Thu Hà", unit=consular, email="ha@mofa.example"),
        "consular": consular, "protocol": protocol,
        "protocol_head": factory.unit_head(protocol, email="head.lt@mofa.example"),
        "press_head": factory.unit_head(press, email="head.ttbc@mofa.example"),
    }


def test_an_admin_adds_and_ends_a_post_and_the_other_heads_view_follows(
        client, make_client, dbs, setting):
    person, protocol = setting["person"], setting["protocol"]
    url = f"/org/people/{person.id}"
    head = sign_in(make_client(), setting["protocol_head"])
    stranger = sign_in(make_client(), setting["press_head"])
    assert head.get(url).status_code == 403

    sign_in(client, setting["admin"])
    section = posts_section(text(client.get(url)))
    assert f'action="/org/people/{person.id}/posts"' in section
    assert str(person.unit_id) not in re.findall(r'<option value="(\d+)"', section)

    response = client.form(f"/org/people/{person.id}/posts",
                           {"post_unit_id": protocol.id, "post_position": "Phó Cục trưởng"})
    assert response.status_code == 302 and response.location.endswith(f"{url}#posts")
    page = text(client.get(url))
    assert "now also holds a post in Cục Lễ tân" in page
    section = posts_section(page)
    assert "Cục Lễ tân — Phó Cục trưởng" in section and "since" in section
    post = dbs.scalar(select(ConcurrentPost).where(ConcurrentPost.user_id == person.id))

    assert head.get(url).status_code == 200
    assert stranger.get(url).status_code == 403
    assert f"/org/posts/{post.id}/end" not in text(head.get(url))   # heads only read

    response = client.form(f"/org/posts/{post.id}/end")
    assert response.status_code == 302
    section = posts_section(text(client.get(url)))
    assert "Cục Lễ tân" in section and "ended" in section
    assert f"/org/posts/{post.id}/end" not in section
    assert head.get(url).status_code == 403
    dbs.refresh(post)
    assert post.ended_at is not None


def test_a_post_in_the_own_unit_or_twice_is_refused(client, dbs, setting):
    person, protocol = setting["person"], setting["protocol"]
    sign_in(client, setting["admin"])
    client.form(f"/org/people/{person.id}/posts", {"post_unit_id": person.unit_id})
    assert "This is already the person's own unit." in text(client.get(f"/org/people/{person.id}"))
    client.form(f"/org/people/{person.id}/posts", {"post_unit_id": protocol.id})
    client.form(f"/org/people/{person.id}/posts", {"post_unit_id": protocol.id})
    assert "already holds a post in that unit" in text(client.get(f"/org/people/{person.id}"))
    client.form(f"/org/people/{person.id}/posts", {"post_unit_id": ""})
    assert dbs.scalar(select(func.count()).select_from(ConcurrentPost)) == 1


def test_only_admins_add_or_end_posts(client, dbs, factory, setting):
    person, protocol = setting["person"], setting["protocol"]
    post_count = dbs.scalar(select(func.count()).select_from(ConcurrentPost))
    sign_in(client, setting["protocol_head"])
    assert client.form(f"/org/people/{person.id}/posts",
                       {"post_unit_id": protocol.id}).status_code == 403
    assert dbs.scalar(select(func.count()).select_from(ConcurrentPost)) == post_count

    from lms.org import services
    post = services.add_concurrent_post(dbs, None, person, protocol.id)
    page = text(client.get(f"/org/people/{person.id}"))
    assert "Cục Lễ tân" in posts_section(page) and f"/org/posts/{post.id}/end" not in page
    assert client.form(f"/org/posts/{post.id}/end").status_code == 403
    assert client.form("/org/posts/999999/end").status_code in (403, 404)
    dbs.refresh(post)
    assert post.ended_at is None


def test_a_post_brings_the_training_assigned_to_that_unit(client, dbs, factory, setting):
    person, protocol = setting["person"], setting["protocol"]
    course = factory.course()
    factory.assignment(course, unit=protocol)
    assert enrolment_for(dbs, person.id, course.id) is None

    sign_in(client, setting["admin"])
    client.form(f"/org/people/{person.id}/posts", {"post_unit_id": protocol.id})

    enrolment = enrolment_for(dbs, person.id, course.id)
    assert enrolment is not None and enrolment.source == "assigned"
