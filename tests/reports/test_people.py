"""The people list of a unit report: everyone of the subtree (concurrent posts included) with
their own figures, status filters, sorting, pages, and the same count as the dashboard."""
from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import unquote_plus

import pytest
from sqlalchemy import update

from lms.courses import services as learning
from lms.courses.models import Enrolment
from lms.db import utcnow
from lms.org import services as org
from lms.reports.figures import Filters
from lms.reports.queries import people_page
from lms.reports.services import unit_report
from tests.conftest import login


@pytest.fixture()
def org_(dbs, factory):
    """Division A of department HTQT: Anh completed both assigned courses (quiz 80 %), Bình
    started one and is late on the other, Cường did nothing; Em sits in a sibling department
    and holds a concurrent post in A; Dung left."""
    now = utcnow()
    dept = factory.unit("Vụ Hợp tác quốc tế", code="HTQT")
    div_a = factory.unit("Phòng Châu Á", parent=dept, code="HTQT-A", kind="division")
    div_b = factory.unit("Phòng Châu Âu", parent=dept, code="HTQT-B", kind="division")
    sibling = factory.unit("Vụ Lễ tân", code="LT")
    people = {
        "anh": factory.person("Nguyễn Văn Anh", unit=div_a, position="Chuyên viên"),
        "binh": factory.person("Trần Thị Bình", unit=div_a, position="Chuyên viên chính"),
        "cuong": factory.person("Lê Văn Cường", unit=div_a, position="Chuyên viên"),
        "dung": factory.person("Phạm Thị Dung", unit=div_a),
        "em": factory.person("Hoàng Văn Em", unit=sibling),
        "giang": factory.person("Vũ Thị Giang", unit=div_b),
    }
    org.add_concurrent_post(dbs, None, people["em"], div_a.id, "Phó trưởng phòng")
    course = factory.course("Kỹ năng số cơ bản")
    late = factory.course("An toàn thông tin")
    factory.assignment(course, unit=dept)
    factory.assignment(late, unit=div_a, start_at=now - timedelta(days=20),
                       due_at=now - timedelta(days=5))
    for c in (course, late):
        for lesson in c.modules[0].lessons:
            learning.complete_lesson(dbs, people["anh"], lesson)
    learning.complete_lesson(dbs, people["binh"], course.modules[0].lessons[0])
    # As quiz grading records it: Anh's average counted score in the course.
    dbs.execute(update(Enrolment).where(Enrolment.user_id == people["anh"].id,
                                        Enrolment.course_id == course.id).values(quiz_score=80.0))
    org.set_person_active(dbs, None, people["dung"], False)
    head = factory.unit_head(div_a, name="Đỗ Minh Hải")
    return dict(dept=dept, div_a=div_a, div_b=div_b, sibling=sibling, people=people,
                course=course, late=late, head=head)


def names(page) -> list[str]:
    return [p.full_name for p in page.items]


def listing(dbs, viewer, unit, status="all", sort="name", descending=False, filters=None,
            page=1, per_page=50, direct=False):
    return people_page(dbs, viewer, unit, filters or Filters(), status, sort, descending, page,
                       per_page, utcnow(), direct)


def test_the_list_has_everyone_of_the_subtree_with_their_own_figures(dbs, org_):
    page = listing(dbs, org_["head"], org_["div_a"])
    by_name = {p.full_name: p for p in page.items}
    assert set(by_name) == {"Nguyễn Văn Anh", "Trần Thị Bình", "Lê Văn Cường", "Hoàng Văn Em",
                            "Đỗ Minh Hải"}
    anh, binh, em = by_name["Nguyễn Văn Anh"], by_name["Trần Thị Bình"], by_name["Hoàng Văn Em"]
    assert (anh.assigned, anh.completed, anh.overdue, anh.completion_pct) == (2, 2, 0, 100.0)
    assert anh.average_score == 80.0 and anh.last_activity_at is not None
    assert (binh.assigned, binh.started, binh.completed, binh.overdue) == (2, 1, 0, 1)
    assert em.in_unit is False and em.unit.name == "Vụ Lễ tân"      # there by a concurrent post
    assert anh.in_unit is True


def test_the_count_matches_the_dashboard_headcount(dbs, factory, org_):
    admin = factory.admin()
    for unit in (org_["div_a"], org_["dept"]):
        assert listing(dbs, admin, unit).total == unit_report(dbs, unit).total.headcount


@pytest.mark.parametrize("status, expected", [
    ("completed", {"Nguyễn Văn Anh"}),
    ("in_progress", {"Trần Thị Bình"}),
    ("not_started", {"Trần Thị Bình", "Lê Văn Cường", "Hoàng Văn Em", "Đỗ Minh Hải"}),
    ("overdue", {"Trần Thị Bình", "Lê Văn Cường", "Hoàng Văn Em"}),   # the head came later
    ("on_track", {"Trần Thị Bình", "Lê Văn Cường", "Hoàng Văn Em", "Đỗ Minh Hải"}),
])
def test_a_status_keeps_people_with_some_assigned_training_in_that_state(
        dbs, org_, status, expected):
    page = listing(dbs, org_["head"], org_["div_a"], status=status)
    assert set(names(page)) == expected
    assert page.total == len(expected)


def test_filters_narrow_the_training_counted_and_position_the_people(dbs, org_):
    only_course = Filters(course_id=org_["course"].id)
    page = listing(dbs, org_["head"], org_["div_a"], filters=only_course, status="overdue")
    assert page.total == 0                 # the late course is filtered out
    page = listing(dbs, org_["head"], org_["div_a"], filters=Filters(position="Chuyên viên"))
    assert set(names(page)) == {"Nguyễn Văn Anh", "Lê Văn Cường", "Hoàng Văn Em", "Đỗ Minh Hải"}


def test_sorting_by_completion_overdue_and_unit(dbs, org_):
    page = listing(dbs, org_["head"], org_["div_a"], sort="completion")
    assert names(page)[-1] == "Nguyễn Văn Anh"
    page = listing(dbs, org_["head"], org_["div_a"], sort="completion", descending=True)
    assert names(page)[0] == "Nguyễn Văn Anh"
    page = listing(dbs, org_["head"], org_["div_a"], sort="overdue", descending=True)
    assert set(names(page)[:3]) == {"Trần Thị Bình", "Lê Văn Cường", "Hoàng Văn Em"}
    page = listing(dbs, org_["head"], org_["div_a"], sort="unit")
    assert names(page)[-1] == "Hoàng Văn Em"              # home unit "Vụ Lễ tân" sorts last


def test_people_with_nothing_assigned_come_last_either_way(dbs, factory):
    other = factory.unit("Vụ Khác")
    team = factory.unit("Phòng Một", parent=other, kind="division")
    factory.person("Lý Văn Rảnh", unit=other)
    factory.person("Tạ Thị Bận", unit=team)
    factory.assignment(factory.course(), unit=team)
    admin = factory.admin()
    for descending in (False, True):
        page = listing(dbs, admin, other, sort="completion", descending=descending)
        assert names(page) == ["Tạ Thị Bận", "Lý Văn Rảnh"]


def test_pages_split_the_list(dbs, org_):
    first = listing(dbs, org_["head"], org_["div_a"], per_page=2)
    third = listing(dbs, org_["head"], org_["div_a"], per_page=2, page=3)
    beyond = listing(dbs, org_["head"], org_["div_a"], per_page=2, page=99)
    assert (first.total, first.pages, len(first.items), len(third.items)) == (5, 3, 2, 1)
    assert beyond.page == 3 and names(beyond) == names(third)


def test_direct_lists_only_the_people_of_the_unit_itself(dbs, factory, org_):
    factory.person("Phạm Văn Vụ", unit=org_["dept"])
    admin = factory.admin()
    assert names(listing(dbs, admin, org_["dept"], direct=True)) == ["Phạm Văn Vụ"]
    assert listing(dbs, admin, org_["dept"]).total == 7


# ---------------------------------------------------------------- the page

def test_the_page_links_each_person_to_their_courses(client, org_):
    login(client, org_["head"].email)
    response = client.get(f"/reports/units/{org_['div_a'].id}/people?sort=name")
    assert response.status_code == 200
    html = unescape(response.get_data(as_text=True))
    anh = org_["people"]["anh"]
    assert f'href="/learning/people/{anh.id}"' in html
    assert client.get(f"/learning/people/{anh.id}").status_code == 200
    em = org_["people"]["em"]
    assert client.get(f"/learning/people/{em.id}").status_code == 200   # concurrent post
    assert "Phạm Thị Dung" not in html                                    # left


def test_the_status_tabs_and_sort_links_keep_the_filters(client, org_):
    login(client, org_["head"].email)
    url = (f"/reports/units/{org_['div_a'].id}/people?status=overdue&position=Chuyên viên"
           f"&course={org_['late'].id}")
    html = unescape(client.get(url).get_data(as_text=True))
    people_links = [unquote_plus(h) for h in re.findall(r'href="([^"]+)"', html) if "/people?" in h]
    clear = f"/reports/units/{org_['div_a'].id}/people?sort=name&dir=asc&status=overdue"
    assert clear in people_links                       # the "clear the filters" link
    people_links.remove(clear)
    assert len(people_links) >= 8                      # status tabs and sortable headers
    for href in people_links:
        if "page=" not in href:
            assert "position=Chuyên viên" in href and f"course={org_['late'].id}" in href, href
    assert "Lê Văn Cường" in html and "Trần Thị Bình" not in html


def test_bad_parameters_fall_back_quietly(client, org_):
    login(client, org_["head"].email)
    response = client.get(f"/reports/units/{org_['div_a'].id}/people?status=x&sort=y&dir=z"
                          f"&page=abc&due_to=tomorrow")
    assert response.status_code == 200
    assert "flash--warning" in response.get_data(as_text=True)


def test_the_people_page_runs_a_fixed_number_of_queries(client, factory, org_, count_queries):
    login(client, org_["head"].email)
    url = f"/reports/units/{org_['div_a'].id}/people"
    client.get(url)
    with count_queries() as few:
        client.get(url)
    for n in range(12):
        factory.person(f"Người Thử {n}", unit=org_["div_a"])
    factory.assignment(org_["course"], unit=org_["div_a"])
    with count_queries() as more:
        client.get(url)
    assert len(few) == len(more)
