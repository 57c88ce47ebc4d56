"""The notification centre: a person reads their notifications newest first, opens one
(it is marked read and takes them to the page it is about, never to another site), marks
them all read; every page knows how many are unread with one COUNT.

The UI is Vietnamese and not translated yet: the tests read ids, data-* attributes and
the database, never English words.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import render_template_string
from sqlalchemy import func, select

from lms.db import utcnow
from lms.mentoring import help as helping
from lms.notify import services
from lms.notify.models import Notification
from lms.urls import local_path
from tests.conftest import login


def listed(page: str) -> list[tuple[int, str]]:
    """(id, "true"/"false" unread) of each notification on the page, in order."""
    return [(int(n), unread) for n, unread in re.findall(
        r'<li class="notice-item[^"]*" id="notification-(\d+)"[^>]*data-unread="(\w+)"', page)]


def unread(dbs, person) -> int:
    return dbs.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == person.id, Notification.read_at.is_(None)))


@pytest.fixture()
def people(factory):
    unit = factory.unit("Vụ Tổ chức Cán bộ")
    return {"reader": factory.person("Nguyễn Thị Hồng Nhung", unit=unit),
            "other": factory.person("Bùi Thanh Sơn", unit=unit),
            "mentor": factory.mentor(unit, name="Đặng Quốc Việt")}


def send(dbs, person, minutes_ago: int, kind: str = "note", **fields) -> Notification:
    services.notify(dbs, [person.id], kind, at=utcnow() - timedelta(minutes=minutes_ago),
                    **fields)
    return dbs.scalars(select(Notification).where(Notification.user_id == person.id)
                       .order_by(Notification.id.desc())).first()


# ---------------------------------------------------------------- the list

def test_the_centre_lists_my_notifications_newest_first_with_the_unread_marked(
        client, dbs, people):
    reader = people["reader"]
    old = send(dbs, reader, 60, body="Tin cũ")
    new = send(dbs, reader, 5, body="Tin mới")
    middle = send(dbs, reader, 30, body="Tin giữa")
    services.mark_read(dbs, reader.id, [middle.id])
    send(dbs, people["other"], 1, body="Tin của người khác")
    login(client, reader.email)
    page = client.get("/notifications").get_data(as_text=True)
    assert listed(page) == [(new.id, "true"), (middle.id, "false"), (old.id, "true")]
    assert "Tin của người khác" not in page
    assert 'id="unread-count" data-unread="2"' in page and 'id="read-all"' in page


def test_each_notification_says_what_its_kind_says_in_the_readers_words(client, dbs, people):
    reader, mentor = people["reader"], people["mentor"]
    services.notify(dbs, [reader.id], "help_reply", actor=mentor,
                    params={"name": mentor.full_name, "place": "Chữ ký số — Bài 1", "request_id": 7})
    services.notify(dbs, [reader.id], "nudge", actor=mentor, body="Em nhớ hoàn thành bài 2 nhé.",
                    params={"mentor": mentor.full_name})
    login(client, reader.email)
    page = client.get("/notifications").get_data(as_text=True)
    assert 'data-kind="help_reply"' in page and 'data-kind="nudge"' in page
    assert mentor.full_name in page and "Chữ ký số — Bài 1" in page
    assert "Em nhớ hoàn thành bài 2 nhé." in page


def test_an_empty_centre_says_so(client, people):
    login(client, people["reader"].email)
    page = client.get("/notifications").get_data(as_text=True)
    assert 'id="no-notifications"' in page and 'id="read-all"' not in page


def test_the_list_is_paginated_with_a_fixed_number_of_queries(
        client, dbs, people, app, monkeypatch, count_queries):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 4)
    reader = people["reader"]
    login(client, reader.email)
    counts = {}
    for n in (2, 6):
        while unread(dbs, reader) < n:
            send(dbs, reader, 100 - unread(dbs, reader), body=f"Tin {unread(dbs, reader)}")
        client.get("/notifications")
        with count_queries() as queries:
            page = client.get("/notifications").get_data(as_text=True)
        assert len(listed(page)) == min(n, 4)
        counts[n] = len(queries)
    assert counts[2] == counts[6], counts
    second = client.get("/notifications?page=2").get_data(as_text=True)
    assert len(listed(second)) == 2


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/notifications")
    assert response.status_code == 302 and "/login" in response.location


# ---------------------------------------------------------------- opening one

def test_opening_a_notification_marks_it_read_and_goes_to_the_thread(client, dbs, factory, people):
    reader, mentor = people["reader"], people["mentor"]
    factory.pair(mentor, reader)
    course = factory.course(lessons=1)
    request = helping.ask_for_help(dbs, reader, "Làm sao bật xác thực hai lớp?",
                                   helping.Escalation(), lesson=course.modules[0].lessons[0])
    notice = dbs.scalar(select(Notification).where(Notification.user_id == mentor.id))
    login(client, mentor.email)
    response = client.form(f"/notifications/{notice.id}/open")
    assert response.status_code == 302 and response.location.endswith(f"/help/{request.id}")
    dbs.refresh(notice)
    assert notice.read_at is not None
    assert client.get(response.location).status_code == 200


@pytest.mark.parametrize("link", [
    "https://evil.example/phish", "//evil.example/phish", "/\\evil.example", "\\\\evil.example",
    "javascript:alert(1)", "evil.example", "/ok\r\nLocation: https://evil.example", ""])
def test_a_notification_never_sends_anyone_off_site(client, dbs, people, link):
    notice = send(dbs, people["reader"], 1, kind="unknown-kind", link=link)
    login(client, people["reader"].email)
    response = client.form(f"/notifications/{notice.id}/open")
    assert response.status_code == 302
    assert response.location in ("/notifications", "http://localhost/notifications")
    dbs.refresh(notice)
    assert notice.read_at is not None


def test_a_local_link_of_an_unknown_kind_is_followed(client, dbs, people):
    notice = send(dbs, people["reader"], 1, kind="unknown-kind", link="/learning?tab=assigned")
    login(client, people["reader"].email)
    response = client.form(f"/notifications/{notice.id}/open")
    assert response.location.endswith("/learning?tab=assigned")


def test_local_paths_only():
    assert local_path("/help/3") == "/help/3"
    assert local_path("/learning?x=1#top") == "/learning?x=1#top"
    for bad in (None, "", "help/3", "//x.example", "/\\x.example", "https://x.example/",
                "/a\nb", "/a\x7fb"):
        assert local_path(bad) is None, bad


def test_somebody_elses_notification_is_404_and_stays_unread(client, dbs, people):
    theirs = send(dbs, people["other"], 1, body="Riêng tư")
    login(client, people["reader"].email)
    assert client.form(f"/notifications/{theirs.id}/open").status_code == 404
    assert client.form("/notifications/999999/open").status_code == 404
    assert client.get(f"/notifications/{theirs.id}/open").status_code == 405
    dbs.refresh(theirs)
    assert theirs.read_at is None


# ---------------------------------------------------------------- all read, the count

def test_mark_all_read_touches_only_my_notifications(client, dbs, people):
    reader, other = people["reader"], people["other"]
    for i in range(3):
        send(dbs, reader, i, body=f"Tin {i}")
    send(dbs, other, 1, body="Tin của Sơn")
    login(client, reader.email)
    response = client.form("/notifications/read-all")
    assert response.status_code == 302 and response.location.endswith("/notifications")
    assert unread(dbs, reader) == 0 and unread(dbs, other) == 1
    page = client.get("/notifications").get_data(as_text=True)
    assert {state for _id, state in listed(page)} == {"false"}
    assert 'id="unread-count" data-unread="0"' in page and 'id="read-all"' not in page
    assert client.form("/notifications/read-all").status_code == 302   # again: harmless


def test_every_page_knows_the_unread_count_with_one_count_query(
        client, dbs, people, count_queries):
    reader = people["reader"]
    for i in range(3):
        send(dbs, reader, i, body=f"Tin {i}")
    login(client, reader.email)
    with count_queries() as queries:
        assert client.get("/learning").status_code == 200
    assert len([q for q in queries if "notifications" in q]) == 1
    page = client.get("/notifications").get_data(as_text=True)
    assert 'data-unread="3"' in page


def test_templates_see_zero_unread_for_visitors_and_the_count_for_the_signed_in(app, dbs, people):
    template = "{{ unread_notifications }}"
    with app.test_request_context("/"):
        assert render_template_string(template) == "0"
    send(dbs, people["reader"], 1, body="Tin")
    from flask_login import login_user

    with app.test_request_context("/"):
        login_user(people["reader"])
        assert render_template_string(template) == "1"
