"""The movement's public page: overall figures, the emulation table, no personal data."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import url_for
from sqlalchemy import select

from lms.courses import services as learning
from lms.courses.models import Enrolment
from lms.db import utcnow
from lms.org import services as org
from lms.org.models import User
from lms.reports import public
from lms.reports.public import DepartmentRank, compute_movement, rank_departments
from tests.conftest import login

SECRET_NAMES = ("Quách Tĩnh Độc Nhất", "Hoàng Dung Bí Mật", "Âu Dương Phong Ẩn Danh",
                "Tạ Tốn Kín Đáo", "Lý Mạc Sầu Riêng Tư")


@pytest.fixture(autouse=True)
def fresh_cache():
    public.clear_cache()
    yield
    public.clear_cache()


@pytest.fixture()
def ministry(dbs, factory):
    """Four departments: "Vụ Một" completed everything, "Vụ Hai" half, "Vụ Ba" nothing, and
    "Vụ Bốn" has no assigned training. People have distinctive names and e-mails."""
    depts = {name: factory.unit(name, code=code) for name, code in (
        ("Vụ Một", "D1"), ("Vụ Hai", "D2"), ("Vụ Ba", "D3"), ("Vụ Bốn", "D4"))}
    division = factory.unit("Phòng Hai-A", parent=depts["Vụ Hai"], code="D2A", kind="division")
    course = factory.course("Chuyển đổi số")
    people = {
        "d1a": factory.person(SECRET_NAMES[0], unit=depts["Vụ Một"], email="doc.nhat@secret.example"),
        "d1b": factory.person(SECRET_NAMES[1], unit=depts["Vụ Một"], email="bi.mat@secret.example"),
        "d2a": factory.person(SECRET_NAMES[2], unit=division, email="an.danh@secret.example"),
        "d2b": factory.person(SECRET_NAMES[3], unit=depts["Vụ Hai"], email="kin.dao@secret.example"),
        "d3a": factory.person(SECRET_NAMES[4], unit=depts["Vụ Ba"], email="rieng.tu@secret.example"),
        "d3b": factory.person("Người Rời Đi", unit=depts["Vụ Ba"]),
        "d4a": factory.person("Người Vụ Bốn", unit=depts["Vụ Bốn"]),
    }
    for name in ("Vụ Một", "Vụ Hai", "Vụ Ba"):
        factory.assignment(course, unit=depts[name])
    lessons = course.modules[0].lessons
    for key in ("d1a", "d1b", "d2a"):
        for lesson in lessons:
            learning.complete_lesson(dbs, people[key], lesson)
    learning.open_lesson(dbs, people["d3a"], lessons[0])            # started only
    learning.open_lesson(dbs, people["d4a"], factory.course("Tự học").modules[0].lessons[0])
    org.set_person_active(dbs, None, people["d3b"], False)
    dbs.flush()
    return depts, people


def brute_force(dbs):
    """The page's overall figures, counted in Python from every row."""
    active = {u.id for u in dbs.scalars(select(User)) if u.is_active}
    enrolments = [e for e in dbs.scalars(select(Enrolment)) if e.user_id in active]
    assigned = [e for e in enrolments if e.source == "assigned"]
    started = {e.user_id for e in enrolments if e.started_at or e.completed_at}
    return {"active": len(active), "participants": len(started), "assigned": len(assigned),
            "completed": sum(1 for e in assigned if e.completed_at),
            "certificates": sum(1 for e in assigned if e.certified_at)}


# ---------------------------------------------------------------- the figures

def test_overall_figures_match_a_brute_force_count(dbs, factory, ministry):
    figures = compute_movement(dbs)
    expected = brute_force(dbs)
    assert (figures.active_staff, figures.participants, figures.assigned, figures.completed) == (
        expected["active"], expected["participants"], expected["assigned"], expected["completed"])
    assert figures.participants == 5           # three completed, one started, one self-learner
    assert figures.completion_pct == round(100 * 3 / expected["assigned"], 1)
    assert figures.participation_pct == round(100 * 5 / expected["active"], 1)


def test_departments_are_ranked_by_completion_rate(dbs, ministry):
    departments = compute_movement(dbs).departments
    listed = [(d.rank, d.name, d.headcount, d.completion_pct) for d in departments]
    assert listed[:4] == [(1, "Vụ Một", 2, 100.0), (2, "Vụ Hai", 2, 50.0),
                          (3, "Vụ Ba", 1, 0.0), (None, "Vụ Bốn", 1, None)]


def test_equal_rates_share_a_rank_and_the_next_rank_skips():
    def dept(code, completed, assigned):
        return DepartmentRank(None, 0, code, code, "", 10, assigned, completed)

    ranked = rank_departments([dept("A", 1, 4), dept("B", 3, 4), dept("C", 2, 8),
                               dept("D", 0, 0), dept("E", 6, 8)])
    # Within a tie, the department with more training assigned is listed first.
    assert [(d.code, d.rank) for d in ranked] == [
        ("E", 1), ("B", 1), ("C", 3), ("A", 3), ("D", None)]


def test_a_leaver_is_not_counted(dbs, ministry):
    before = compute_movement(dbs)
    _depts, people = ministry
    org.set_person_active(dbs, None, people["d1a"], False)
    dbs.flush()
    after = compute_movement(dbs)
    assert after.active_staff == before.active_staff - 1
    assert after.participants == before.participants - 1
    assert after.departments[0].headcount == 1


# ---------------------------------------------------------------- the cache

def test_figures_are_cached_for_five_minutes_then_recomputed(dbs, factory, ministry):
    clock = [1000.0]
    first = public.movement_figures(dbs, key="app", clock=lambda: clock[0])
    factory.person("Người Đến Sau")
    clock[0] += 299
    assert public.movement_figures(dbs, key="app", clock=lambda: clock[0]) is first
    assert public.movement_figures(dbs, key="other app", clock=lambda: clock[0]) is not first
    clock[0] += 2
    again = public.movement_figures(dbs, key="app", clock=lambda: clock[0])
    assert again.active_staff == first.active_staff + 1


def test_clearing_the_cache_recomputes(dbs, factory, ministry):
    first = public.movement_figures(dbs, key="app")
    factory.person("Người Đến Sau")
    public.clear_cache()
    assert public.movement_figures(dbs, key="app").active_staff == first.active_staff + 1


def test_a_second_visit_does_not_query_the_enrolments(client, app, ministry, count_queries,
                                                     monkeypatch):
    monkeypatch.setitem(app.config, "MOVEMENT_CACHE_SECONDS", 300)
    assert client.get(url_for("reports.movement")).status_code == 200
    with count_queries() as statements:
        assert client.get(url_for("reports.movement")).status_code == 200
    assert not [s for s in statements if "enrolments" in s]


# ---------------------------------------------------------------- the page

def test_public_page_needs_no_sign_in_and_shows_no_personal_data(client, dbs, ministry):
    response = client.get(url_for("reports.movement"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for name in SECRET_NAMES + ("Người Rời Đi", "Người Vụ Bốn"):
        assert name not in html
    assert "@secret.example" not in html and "mofa.example" not in html
    _depts, people = ministry
    assert all(p.employee_code not in html for p in people.values())
    assert f'href="{url_for("auth.login")}"' in html                     # a Sign in button
    assert f'action="{url_for("certificates.verify_form")}"' in html     # certificate check
    assert 'name="serial"' in html


def test_page_lists_departments_in_rank_order_with_figures(client, dbs, ministry):
    html = client.get(url_for("reports.movement")).get_data(as_text=True)
    table = html[html.index('class="emulation"'):]
    positions = [table.index(f">{name}<") for name in ("Vụ Một", "Vụ Hai", "Vụ Ba", "Vụ Bốn")]
    assert positions == sorted(positions)
    assert "Phòng Hai-A" not in table                       # departments only, not divisions
    assert re.search(r">\s*100\s*%\s*<", table) and re.search(r">\s*50\s*%\s*<", table)
    assert table.count("<svg") == 4 and table.count("<title>") == 4


def test_signed_in_visitor_gets_a_link_to_their_learning(client, dbs, factory, ministry):
    login(client, factory.person("Người Đã Đăng Nhập").email)
    html = client.get(url_for("reports.movement")).get_data(as_text=True)
    assert url_for("courses.my_learning") in html
    assert "Người Đã Đăng Nhập" in html                     # only their own name, in the menu
    assert all(name not in html for name in SECRET_NAMES)


def test_page_without_any_organisation_still_answers(client, dbs):
    from unittest import mock

    with mock.patch.object(public, "root_unit", return_value=None):
        response = client.get(url_for("reports.movement"))
    assert response.status_code == 200
    assert 'name="serial"' in response.get_data(as_text=True)


def test_figures_as_of_is_the_computation_time(dbs, ministry):
    now = utcnow()
    figures = compute_movement(dbs, now=now)
    assert figures.computed_at == now
    assert compute_movement(dbs, now=now + timedelta(days=400)).completed == figures.completed
