"""Who is behind: the overdue and not-started lists of a unit head's subtree."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import url_for
from openpyxl import load_workbook

from lms.courses import services as learning
from lms.db import utcnow
from lms.mentoring.models import Mentorship
from lms.org import services as org
from lms.org.models import Unit, User
from lms.reports.behind import (
    NOT_STARTED,
    OVERDUE,
    Sort,
    behind_counts,
    behind_export_rows,
    behind_header,
    behind_page,
    behind_query,
    days_overdue,
    parse_sort,
)
from lms.reports.figures import Filters
from tests.conftest import login


@dataclass
class Org:
    dept: Unit
    div_a: Unit
    div_b: Unit
    sibling: Unit
    people: dict[str, User]
    courses: dict[str, Any]
    mentor: User


@pytest.fixture()
def org_(dbs, factory) -> Org:
    """A department with two divisions and a sibling department.

    Course "old" is assigned to the department and was due 5 days ago, course "new" is due in
    30 days, course "older" was assigned to division A only and was due 10 days ago.
    """
    now = utcnow()
    dept = factory.unit("Vụ Hợp tác quốc tế", code="HTQT")
    div_a = factory.unit("Phòng Châu Á", parent=dept, code="HTQT-A", kind="division")
    div_b = factory.unit("Phòng Châu Âu", parent=dept, code="HTQT-B", kind="division")
    sibling = factory.unit("Vụ Lễ tân", code="LT")
    people = {
        "anh": factory.person("Nguyễn Văn Anh", unit=div_a, position="Chuyên viên"),
        "binh": factory.person("Trần Thị Bình", unit=div_b, position="Chuyên viên chính"),
        "cuong": factory.person("Lê Văn Cường", unit=div_a, position="Chuyên viên"),
        "dung": factory.person("Phạm Thị Dung", unit=div_a),          # leaves
        "em": factory.person("Hoàng Văn Em", unit=sibling),           # concurrent post in B
        "giang": factory.person("Vũ Thị Giang", unit=sibling),        # never in the lists
    }
    mentor = factory.person("Đỗ Minh Hải", unit=sibling)
    other_mentor = factory.person("Bùi Thu Hà", unit=sibling)
    org.add_concurrent_post(dbs, None, people["em"], div_b.id, "Phó trưởng phòng")
    courses = {"old": factory.course("An toàn thông tin"), "new": factory.course("Chữ ký số"),
               "older": factory.course("Bảo mật thư điện tử"), "self": factory.course("Tự học")}
    factory.assignment(courses["old"], unit=dept, start_at=now - timedelta(days=20),
                       due_at=now - timedelta(days=5))
    factory.assignment(courses["new"], unit=dept)
    factory.assignment(courses["older"], unit=div_a, start_at=now - timedelta(days=30),
                       due_at=now - timedelta(days=10))
    learning.enrol(dbs, people["anh"], courses["self"])                 # self-enrolled: not listed
    lessons = courses["old"].modules[0].lessons
    learning.open_lesson(dbs, people["binh"], lessons[0])               # started, not finished
    learning.complete_lesson(dbs, people["binh"], lessons[0])
    for lesson in lessons:
        learning.complete_lesson(dbs, people["cuong"], lesson)          # completed
    org.set_person_active(dbs, None, people["dung"], False)
    dbs.add_all([
        Mentorship(mentor_id=mentor.id, mentee_id=people["anh"].id),
        Mentorship(mentor_id=other_mentor.id, mentee_id=people["binh"].id,
                   started_at=now - timedelta(days=60), ended_at=now - timedelta(days=30)),
        Mentorship(mentor_id=mentor.id, mentee_id=people["em"].id,
                   started_at=now - timedelta(days=60), ended_at=now - timedelta(days=40)),
        Mentorship(mentor_id=other_mentor.id, mentee_id=people["em"].id,
                   started_at=now - timedelta(days=40)),
    ])
    dbs.flush()
    return Org(dept, div_a, div_b, sibling, people, courses, mentor)


def rows(dbs, unit, list_kind, sort: Sort | None = None, filters: Filters | None = None):
    return dbs.execute(behind_query(unit, filters or Filters(), list_kind, sort, utcnow())).all()


def pairs(result) -> set[tuple[str, str]]:
    return {(r.full_name, r.course_title) for r in result}


# ---------------------------------------------------------------- the lists

def test_overdue_lists_assigned_training_past_due_and_not_completed(dbs, org_):
    assert pairs(rows(dbs, org_.dept, OVERDUE)) == {
        ("Nguyễn Văn Anh", "An toàn thông tin"), ("Nguyễn Văn Anh", "Bảo mật thư điện tử"),
        ("Trần Thị Bình", "An toàn thông tin"),        # started but not completed
        ("Lê Văn Cường", "Bảo mật thư điện tử"),       # completed "old", not "older"
        ("Hoàng Văn Em", "An toàn thông tin"),         # through the concurrent post
    }


def test_not_started_lists_training_never_opened_whatever_the_due_date(dbs, org_):
    assert pairs(rows(dbs, org_.dept, NOT_STARTED)) == {
        ("Nguyễn Văn Anh", "An toàn thông tin"), ("Nguyễn Văn Anh", "Chữ ký số"),
        ("Nguyễn Văn Anh", "Bảo mật thư điện tử"),
        ("Trần Thị Bình", "Chữ ký số"),
        ("Lê Văn Cường", "Chữ ký số"), ("Lê Văn Cường", "Bảo mật thư điện tử"),
        ("Hoàng Văn Em", "An toàn thông tin"), ("Hoàng Văn Em", "Chữ ký số"),
    }


def test_people_who_left_and_self_enrolments_and_other_units_are_not_listed(dbs, org_):
    names = {r.full_name for kind in (OVERDUE, NOT_STARTED) for r in rows(dbs, org_.dept, kind)}
    assert "Phạm Thị Dung" not in names          # left
    assert "Vũ Thị Giang" not in names           # sibling department
    assert ("Nguyễn Văn Anh", "Tự học") not in pairs(rows(dbs, org_.dept, NOT_STARTED))


def test_concurrent_post_holder_is_listed_in_the_post_unit_under_their_home_unit(dbs, org_):
    in_b = rows(dbs, org_.div_b, OVERDUE)
    assert pairs(in_b) == {("Trần Thị Bình", "An toàn thông tin"),
                           ("Hoàng Văn Em", "An toàn thông tin")}
    em = next(r for r in in_b if r.full_name == "Hoàng Văn Em")
    assert em.unit_name == "Vụ Lễ tân"
    assert "Hoàng Văn Em" not in {r.full_name for r in rows(dbs, org_.div_a, OVERDUE)}


def test_a_post_that_ended_no_longer_lists_the_person(dbs, org_):
    post = org_.people["em"].posts[0]
    org.end_concurrent_post(dbs, None, post)
    dbs.flush()
    assert "Hoàng Văn Em" not in {r.full_name for r in rows(dbs, org_.div_b, NOT_STARTED)}


def test_each_row_shows_the_current_mentor_only(dbs, org_):
    mentors = {r.full_name: r.mentor_name for r in rows(dbs, org_.dept, OVERDUE)}
    assert mentors == {"Nguyễn Văn Anh": "Đỗ Minh Hải", "Trần Thị Bình": None,
                       "Lê Văn Cường": None, "Hoàng Văn Em": "Bùi Thu Hà"}


def test_row_values_progress_position_and_days_overdue(dbs, org_):
    page = behind_page(dbs, org_.dept, Filters(), OVERDUE, parse_sort(OVERDUE, None, None),
                       utcnow())
    binh = next(r for r in page.items if r.full_name == "Trần Thị Bình")
    assert binh.progress_pct == 33 and binh.position == "Chuyên viên chính"
    assert binh.started_at is not None and binh.last_activity_at is not None
    assert binh.days_overdue == 5
    assert {r.days_overdue for r in page.items if r.course_title == "Bảo mật thư điện tử"} == {10}


def test_days_overdue_counts_calendar_days_in_the_viewer_timezone():
    now = utcnow().replace(hour=1, minute=0)                  # 08:00 in Hanoi
    assert days_overdue(now + timedelta(hours=1), now, "Asia/Ho_Chi_Minh") is None
    # 23:00 UTC yesterday is 06:00 today in Hanoi.
    assert days_overdue(now - timedelta(hours=2), now, "Asia/Ho_Chi_Minh") == 0
    assert days_overdue(now - timedelta(hours=2), now, "UTC") == 1
    assert days_overdue(None, now, "UTC") is None


def test_filters_narrow_the_lists(dbs, org_):
    only_old = Filters(course_id=org_.courses["old"].id)
    assert {r.course_title for r in rows(dbs, org_.dept, NOT_STARTED, filters=only_old)} == {
        "An toàn thông tin"}
    seniors = Filters(position="Chuyên viên chính")
    assert pairs(rows(dbs, org_.dept, OVERDUE, filters=seniors)) == {
        ("Trần Thị Bình", "An toàn thông tin")}
    today = utcnow().date()
    due_soon = Filters(due_from=today + timedelta(days=20), due_to=today + timedelta(days=40))
    assert {r.course_title for r in rows(dbs, org_.dept, NOT_STARTED, filters=due_soon)} == {
        "Chữ ký số"}


def test_counts_match_the_lists(dbs, org_):
    counts = behind_counts(dbs, org_.dept, Filters(), utcnow())
    assert counts == {OVERDUE: len(rows(dbs, org_.dept, OVERDUE)),
                      NOT_STARTED: len(rows(dbs, org_.dept, NOT_STARTED))} == {
        OVERDUE: 5, NOT_STARTED: 8}


# ---------------------------------------------------------------- sorting

def test_overdue_list_puts_the_most_overdue_first_by_default(dbs, org_):
    result = rows(dbs, org_.dept, OVERDUE)
    assert [r.course_title for r in result[:2]] == ["Bảo mật thư điện tử"] * 2
    assert [r.due_at for r in result] == sorted(r.due_at for r in result)


@pytest.mark.parametrize("key", ["name", "unit", "course", "due", "progress", "mentor"])
def test_every_sort_orders_both_ways(dbs, org_, key):
    def value(r):
        return {"name": r.full_name.rsplit(" ", 1)[-1], "unit": r.unit_name,
                "course": r.course_title, "due": r.due_at, "progress": r.progress_pct,
                "mentor": r.mentor_name}[key]

    up = rows(dbs, org_.dept, NOT_STARTED, Sort(key, False))
    down = rows(dbs, org_.dept, NOT_STARTED, Sort(key, True))
    present = [value(r) for r in up if value(r) is not None]
    assert present == sorted(present)
    present = [value(r) for r in down if value(r) is not None]
    assert present == sorted(present, reverse=True)
    # Blanks (no mentor) come last both ways.
    for result in (up, down):
        blanks = [value(r) is None for r in result]
        assert blanks == sorted(blanks)


def test_name_sort_follows_the_vietnamese_roster_order_by_given_name(dbs, org_):
    names = [r.full_name for r in rows(dbs, org_.dept, NOT_STARTED, Sort("name", False))]
    order = list(dict.fromkeys(names))
    assert order == ["Nguyễn Văn Anh", "Trần Thị Bình", "Lê Văn Cường", "Hoàng Văn Em"]


def test_unknown_sort_and_list_fall_back_to_defaults():
    from lms.reports.behind import behind_params

    assert behind_params({"list": "nonsense", "sort": "salary", "dir": "sideways"}) == (
        OVERDUE, Sort("due", False))
    assert behind_params({"list": "not_started", "sort": "mentor", "dir": "desc"}) == (
        NOT_STARTED, Sort("mentor", True))


# ---------------------------------------------------------------- export rows

def test_export_rows_are_plain_local_values_in_the_page_order(dbs, org_, app):
    now = utcnow()
    with app.test_request_context():
        header = behind_header()
        exported = list(behind_export_rows(dbs, org_.dept, Filters(), OVERDUE, None, now))
    assert len(header) == len(exported[0]) == 10
    listed = rows(dbs, org_.dept, OVERDUE)
    assert [(e[0], e[1]) for e in exported] == [(r.employee_code, r.full_name) for r in listed]
    anh = next(e for e in exported if e[1] == "Nguyễn Văn Anh")
    assert anh[2] == "Phòng Châu Á" and anh[9] == "Đỗ Minh Hải"
    assert anh[6] == 10 and isinstance(anh[7], int)
    binh = next(e for e in exported if e[1] == "Trần Thị Bình")
    assert binh[8].tzinfo is None and binh[9] == ""
    assert binh[5] == (now - timedelta(days=5)).astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Ho_Chi_Minh")).date()


# ---------------------------------------------------------------- the page

def behind_url(unit, **args):
    return url_for("reports.behind", unit_id=unit.id, **args)


def test_unit_head_sees_the_overdue_list_with_mentors_and_links(client, dbs, factory, org_):
    head = factory.unit_head(org_.dept)
    login(client, head.email)
    response = client.get(behind_url(org_.dept))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for name in ("Nguyễn Văn Anh", "Trần Thị Bình", "Lê Văn Cường", "Hoàng Văn Em",
                 "Đỗ Minh Hải", "Bùi Thu Hà"):
        assert name in html
    assert "Phạm Thị Dung" not in html and "Vũ Thị Giang" not in html
    anh = org_.people["anh"]
    assert url_for("courses.person_learning", person_id=anh.id) in html
    assert url_for("quizzes.person_quizzes", course_id=org_.courses["old"].id,
                   user_id=anh.id) in html
    # Tabs carry both counts (the head is staff of the unit too); exports keep list and sort.
    counts = behind_counts(dbs, org_.dept, Filters(), utcnow())
    assert counts[NOT_STARTED] == 8 + 2
    assert re.search(r'list=not_started"[^>]*>[^<]*<span class="badge[^"]*">10<', html)
    assert re.search(r'list=overdue"[^>]*>[^<]*<span class="badge[^"]*">5<', html)
    assert 'view=behind' in html and 'list=overdue' in html


def test_concurrent_post_holder_has_no_attempts_link_for_a_head_of_the_post_unit_only(
        client, dbs, factory, org_):
    head = factory.unit_head(org_.div_b)
    login(client, head.email)
    html = client.get(behind_url(org_.div_b)).get_data(as_text=True)
    em = org_.people["em"]
    assert url_for("courses.person_learning", person_id=em.id) in html
    # Attempts and extra time are for the heads of the person's own unit.
    assert url_for("quizzes.person_quizzes", course_id=org_.courses["old"].id,
                   user_id=em.id) not in html


def test_not_started_tab_and_sort_links_keep_the_filters(client, dbs, factory, org_):
    admin = factory.admin()
    login(client, admin.email)
    course = org_.courses["new"].id
    html = client.get(behind_url(org_.dept, list="not_started", course=course, sort="name",
                                 dir="asc")).get_data(as_text=True)
    table = html[html.index("<table"):]
    assert table.count("Chữ ký số") == 4
    assert "Bảo mật thư điện tử" not in table
    assert f'<option value="{course}" selected>' in html          # the filter form shows it
    sort_links = re.findall(r'<th scope="col"[^>]*>\s*<a href="([^"]+)"', html)
    assert len(sort_links) == 6
    assert all(f"course={course}" in link.replace("&amp;", "&") for link in sort_links)
    assert any("sort=name" in link and "dir=desc" in link for link in sort_links)
    assert 'aria-sort="ascending"' in html


def test_bad_filter_values_are_ignored_with_a_message(client, dbs, factory, org_):
    login(client, factory.admin().email)
    response = client.get(behind_url(org_.dept, course="abc", due_from="yesterday", page="x"))
    assert response.status_code == 200
    assert "Nguyễn Văn Anh" in response.get_data(as_text=True)
    assert 'flash--warning' in response.get_data(as_text=True)


def test_page_runs_a_fixed_number_of_queries(client, dbs, factory, org_, count_queries):
    login(client, factory.admin().email)
    url = behind_url(org_.dept, list="not_started")
    client.get(url)
    with count_queries() as before:
        client.get(url)
    for n in range(6):
        factory.person(f"Người Mới {n}", unit=org_.div_a)   # each enrolled in 3 assignments
    dbs.flush()
    with count_queries() as after:
        html = client.get(url).get_data(as_text=True)
    assert "Người Mới 5" in html
    assert len(after) == len(before)


def test_pagination_splits_long_lists(client, dbs, factory, org_, monkeypatch):
    import lms.reports.views.behind as view

    monkeypatch.setattr(view, "PER_PAGE", 3)
    login(client, factory.admin().email)
    first = client.get(behind_url(org_.dept, list="not_started")).get_data(as_text=True)
    third = client.get(behind_url(org_.dept, list="not_started", page=3)).get_data(as_text=True)
    listed = [r.full_name for r in rows(dbs, org_.dept, NOT_STARTED)]
    assert listed[0] in first and 'rel="next"' in first
    assert 'rel="prev"' in third and 'rel="next"' not in third


# ---------------------------------------------------------------- scope

def test_head_of_a_sibling_unit_gets_403_on_the_page_and_the_export(client, dbs, factory, org_):
    head = factory.unit_head(org_.sibling)
    login(client, head.email)
    assert client.get(behind_url(org_.dept)).status_code == 403
    assert client.get(behind_url(org_.dept, list="not_started")).status_code == 403
    for kind in ("csv", "xlsx"):
        url = url_for("reports.export", unit_id=org_.dept.id, kind=kind, view="behind",
                      list="overdue")
        assert client.get(url).status_code == 403


def test_head_of_a_division_cannot_open_the_department_above(client, dbs, factory, org_):
    login(client, factory.unit_head(org_.div_a).email)
    assert client.get(behind_url(org_.dept)).status_code == 403
    assert client.get(behind_url(org_.div_a)).status_code == 200


def test_plain_learner_gets_403_unknown_unit_404_anonymous_sign_in(client, dbs, factory, org_):
    assert "/login" in client.get(behind_url(org_.dept)).location
    login(client, org_.people["anh"].email)
    assert client.get(behind_url(org_.dept)).status_code == 403
    assert client.get(url_for("reports.behind", unit_id=999999)).status_code == 404


# ---------------------------------------------------------------- the export endpoint

def test_xlsx_export_of_the_overdue_list_has_the_page_rows(client, dbs, factory, org_):
    login(client, factory.unit_head(org_.dept).email)
    with client.get(url_for("reports.export", unit_id=org_.dept.id, kind="xlsx", view="behind",
                            list="overdue", sort="name", dir="desc")) as response:
        assert response.status_code == 200
        book = load_workbook(io.BytesIO(response.data), read_only=True)
    table = list(book.active.iter_rows(values_only=True))
    book.close()
    with client.application.test_request_context():
        assert list(table[0]) == behind_header()
    expected = [r.full_name for r in rows(dbs, org_.dept, OVERDUE, Sort("name", True))]
    assert [row[1] for row in table[1:]] == expected


def test_the_assignment_filter_lists_only_decisions_that_can_concern_the_unit(dbs, factory):
    from lms.assignments import services as assigning
    from lms.reports.queries import filter_options
    from tests.assignments.test_services import data

    dept = factory.unit("Vụ Hợp tác quốc tế", code="HTQT")
    division = factory.unit("Phòng Đa phương", parent=dept, code="HTQT-DP", kind="division")
    sibling = factory.unit("Phòng Song phương", parent=dept, code="HTQT-SP", kind="division")
    other = factory.unit("Cục Lãnh sự", code="CLS")
    in_division = factory.person("Trần Thị Bình", unit=division)
    elsewhere = factory.person("Lê Văn Cường", unit=other)
    course = factory.course()
    made = {number: assigning.create_assignment(dbs, None, data(course, decision_number=number, **extra))
            for number, extra in (
                ("1/QĐ-BNG", {"kind": "everyone"}),
                ("2/QĐ-BNG", {"unit": dept}),
                ("3/QĐ-BNG", {"unit": division}),
                ("4/QĐ-BNG", {"unit": sibling}),
                ("5/QĐ-BNG", {"unit": other}),
                ("6/QĐ-BNG", {"kind": "people", "people_ids": [in_division.id]}),
                ("7/QĐ-BNG", {"kind": "people", "people_ids": [elsewhere.id]}),
                ("8/QĐ-BNG", {"kind": "role", "target_role": "mentor", "unit": other}))}

    def listed(unit) -> set[str]:
        ids = {assignment_id for assignment_id, _label in filter_options(dbs, unit).assignments}
        return {number for number, assignment in made.items() if assignment.id in ids}

    assert listed(division) == {"1/QĐ-BNG", "2/QĐ-BNG", "3/QĐ-BNG", "6/QĐ-BNG"}
    assert listed(dept) == {"1/QĐ-BNG", "2/QĐ-BNG", "3/QĐ-BNG", "4/QĐ-BNG", "6/QĐ-BNG"}
    assert listed(other) == {"1/QĐ-BNG", "5/QĐ-BNG", "7/QĐ-BNG", "8/QĐ-BNG"}
    assert listed(factory.root) == set(made)
