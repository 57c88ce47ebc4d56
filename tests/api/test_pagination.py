"""Contracts of the feeds: cursor pages cover every item once, in order, whatever the page
size; updated_since returns exactly what changed at or after the moment; cursors survive
items changing between pages."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from lms.courses import services as learning
from lms.courses.models import Enrolment
from lms.db import utcnow


@pytest.fixture()
def crowd(dbs, factory):
    """17 people in a division, each enrolled in three courses (51 enrolments)."""
    unit = factory.unit("Phòng Tổng hợp", code="TH")
    courses = [factory.course(f"Khoá {i}", lessons=1) for i in range(3)]
    people = [factory.person(f"Người số {i}", unit=unit) for i in range(17)]
    for course in courses:
        for person in people:
            learning.enrol(dbs, person, course)
    dbs.flush()
    return unit, courses, people


def all_enrolment_ids(dbs) -> list[int]:
    return sorted(dbs.scalars(select(Enrolment.id)))


@pytest.mark.parametrize("limit", [1, 7, 50, 500])
def test_following_next_cursor_lists_every_enrolment_once_in_order(api, dbs, crowd, new_token,
                                                                   limit):
    token = new_token(["progress:read"])
    items = api.pages(f"/progress?limit={limit}", token)
    ids = [item["id"] for item in items]
    assert sorted(ids) == all_enrolment_ids(dbs)
    assert len(ids) == len(set(ids))
    keys = [(item["updated_at"], item["id"]) for item in items]
    assert keys == sorted(keys)


def test_a_page_says_where_the_next_one_is_and_the_last_says_none(api, crowd, new_token):
    token = new_token(["progress:read"])
    first = api.get("/progress?limit=50", token).get_json()
    assert len(first["data"]) == 50 and first["next_cursor"]
    assert first["links"]["next"].endswith(f"cursor={first['next_cursor']}")
    assert "limit=50" in first["links"]["next"]
    last = api.get(f"/progress?limit=50&cursor={first['next_cursor']}", token).get_json()
    assert len(last["data"]) == 1
    assert last["next_cursor"] is None and last["links"]["next"] is None


def test_updated_since_returns_exactly_what_changed_at_or_after_it(api, dbs, crowd, new_token):
    _unit, courses, people = crowd
    token = new_token(["progress:read"])
    everything = api.pages("/progress?limit=20", token)
    assert len(everything) == 51
    mark = utcnow() + timedelta(seconds=1)
    later = mark + timedelta(minutes=5)
    changed = [people[3], people[9]]
    for person in changed:          # two learners start a course after the mark
        dbs.execute(update(Enrolment).where(Enrolment.user_id == person.id,
                                            Enrolment.course_id == courses[1].id)
                    .values(updated_at=later, progress_pct=50))
    dbs.flush()
    since = mark.isoformat().replace("+00:00", "Z")
    fresh = api.pages(f"/progress?limit=1&updated_since={since}", token)
    assert sorted(item["person"]["employee_code"] for item in fresh) == sorted(
        p.employee_code for p in changed)
    assert all(item["progress_pct"] == 50 for item in fresh)
    # The largest updated_at received is the next pull's mark: the same items come again
    # (at that very moment), nothing older.
    newest = max(item["updated_at"] for item in fresh)
    again = api.pages(f"/progress?updated_since={newest}", token)
    assert {item["id"] for item in again} == {item["id"] for item in fresh}


def test_a_real_change_moves_the_enrolment_to_the_end_of_the_feed(api, dbs, crowd, new_token):
    _unit, courses, people = crowd
    token = new_token(["progress:read"])
    before = utcnow()
    learning.complete_lesson(dbs, people[0], courses[0].modules[0].lessons[0])
    dbs.flush()
    items = api.pages("/progress?limit=10", token)
    assert items[-1]["person"]["employee_code"] == people[0].employee_code
    assert items[-1]["status"] == "completed"
    since = before.isoformat()
    fresh = api.pages(f"/progress?updated_since={since.replace('+', '%2B')}", token)
    assert [item["id"] for item in fresh] == [items[-1]["id"]]


def test_an_item_changed_between_two_pages_is_neither_lost_nor_listed_twice_in_a_pass(
        api, dbs, crowd, new_token):
    _unit, courses, people = crowd
    token = new_token(["progress:read"])
    first = api.get("/progress?limit=10", token).get_json()
    moved = first["data"][0]["id"]          # already read; it changes now
    dbs.execute(update(Enrolment).where(Enrolment.id == moved)
                .values(updated_at=utcnow() + timedelta(minutes=1)))
    dbs.flush()
    rest = api.pages(f"/progress?limit=10&cursor={first['next_cursor']}", token)
    ids = [item["id"] for item in first["data"]] + [item["id"] for item in rest]
    assert set(ids) == set(all_enrolment_ids(dbs))
    assert ids.count(moved) == 2            # read again, with its new state, at the end
    assert rest[-1]["id"] == moved


def test_course_and_person_feeds_paginate_the_same_way(api, crowd, new_token):
    unit, courses, people = crowd
    token = new_token(["progress:read"])
    course_items = api.pages(f"/courses/{courses[2].slug}/progress?limit=4", token)
    assert len(course_items) == 17 and {i["course"]["slug"] for i in course_items} == {courses[2].slug}
    person_items = api.pages(f"/people/{people[5].employee_code}/progress?limit=2", token)
    assert len(person_items) == 3
    assert {i["person"]["employee_code"] for i in person_items} == {people[5].employee_code}
    unit_items = api.pages(f"/progress?unit={unit.code}&course={courses[0].slug}&limit=5", token)
    assert len(unit_items) == 17


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=abc", "cursor=nonsense",
                                   "updated_since=yesterday", "updated_since=2026-11-01T00:00:00"])
def test_bad_parameters_get_a_400_problem_that_says_what_to_send(api, crowd, new_token, query):
    token = new_token(["progress:read"])
    response = api.get(f"/progress?{query}", token)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 400 and body["detail"] and body["type"].endswith("#problem-bad-request")


def test_a_cursor_of_another_shape_is_refused(api, crowd, new_token):
    from lms.api.pagination import encode_cursor

    token = new_token(["progress:read"])
    for forged in (encode_cursor([1, 2, 3]), encode_cursor(["2026-01-01T00:00:00", 1]),
                   encode_cursor(["2026-01-01T00:00:00+00:00", "1"])):
        assert api.get(f"/progress?cursor={forged}", token).status_code == 400


def test_a_page_costs_the_same_queries_whatever_its_size(api, dbs, crowd, new_token,
                                                         count_queries):
    token = new_token(["progress:read"])
    api.get("/progress?limit=1", token)       # the first call also notes when the client was used
    counts = []
    for limit in (2, 40):
        with count_queries() as statements:
            assert api.get(f"/progress?limit={limit}", token).status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 6
    counts = []
    for limit in (1, 3):
        with count_queries() as statements:
            assert api.get(f"/statements?since=2020-01-01T00:00:00Z&limit={limit}",
                           token).status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 8
