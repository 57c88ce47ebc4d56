"""The unit head's dashboard: figures per sub-unit, every number a drill-down link, filters
kept in every link, exports, snapshot mode, scope, and a constant number of queries."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from flask import url_for
from flask_babel import gettext
from openpyxl import load_workbook

from lms.courses import services as learning
from lms.db import utcnow
from lms.org import services as org
from lms.org.models import Role, Unit, User
from lms.reports.services import take_snapshot
from tests.conftest import login


@dataclass
class Org:
    dept: Unit
    div_a: Unit
    div_b: Unit
    sibling: Unit
    head: User          # heads division A only
    dept_head: User
    people: dict[str, User]
    course: Any
    late_course: Any


def today():
    """The ministry's date (snapshots are taken as of a Hanoi day)."""
    return utcnow().astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()


def finish(dbs, person, course) -> None:
    for lesson in course.modules[0].lessons:
        learning.complete_lesson(dbs, person, lesson)


@pytest.fixture()
def org_(dbs, factory) -> Org:
    """Department HTQT with divisions A and B and one person placed directly in it; a sibling
    department. "Kỹ năng số" is assigned to the department (due in 30 days); "An toàn" to
    division A, due 5 days ago. Anh completed both, Bình started "Kỹ năng số"."""
    now = utcnow()
    dept = factory.unit("Vụ Hợp tác quốc tế", code="HTQT")
    div_a = factory.unit("Phòng Châu Á", parent=dept, code="HTQT-A", kind="division")
    div_b = factory.unit("Phòng Châu Âu", parent=dept, code="HTQT-B", kind="division")
    sibling = factory.unit("Vụ Lễ tân", code="LT")
    people = {
        "anh": factory.person("Nguyễn Văn Anh", unit=div_a, position="Chuyên viên"),
        "binh": factory.person("Trần Thị Bình", unit=div_a, position="Chuyên viên chính"),
        "cuong": factory.person("Lê Văn Cường", unit=div_b, position="Chuyên viên"),
        "dung": factory.person("Phạm Thị Dung", unit=dept, position="Phó Vụ trưởng"),
        "em": factory.person("Hoàng Văn Em", unit=sibling),
    }
    head = factory.unit_head(div_a, name="Đỗ Minh Hải", position="Trưởng phòng")
    dept_head = factory.unit_head(dept, name="Bùi Thu Hà", position="Vụ trưởng")
    course = factory.course("Kỹ năng số cơ bản")
    late_course = factory.course("An toàn thông tin")
    factory.assignment(course, unit=dept)
    factory.assignment(late_course, unit=div_a, start_at=now - timedelta(days=20),
                       due_at=now - timedelta(days=5))
    finish(dbs, people["anh"], course)
    finish(dbs, people["anh"], late_course)
    learning.complete_lesson(dbs, people["binh"], course.modules[0].lessons[0])
    return Org(dept, div_a, div_b, sibling, head, dept_head, people, course, late_course)


def get(client, url: str):
    """GET, with the body read and the response closed (a download is a temporary file)."""
    with client.get(url) as response:
        response.get_data()
        return response


def page_text(response) -> str:
    return unescape(response.get_data(as_text=True))


def links(response) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]+)"', response.get_data(as_text=True))]


def query_of(href: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()}


def row_cells(html: str, marker: str) -> list[str]:
    """The text of the cells of the table row that contains ``marker``."""
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S):
        if marker in row:
            cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
            return [re.sub(r"<[^>]+>", "", c).strip() for c in cells]
    raise AssertionError(f"no row with {marker}")


# ---------------------------------------------------------------- /reports and scope

def test_reports_opens_the_root_for_an_admin_and_the_headed_unit_for_a_head(client, factory, org_):
    admin = factory.admin()
    login(client, admin.email)
    response = get(client, "/reports")
    assert response.status_code == 302
    assert response.location.endswith(f"/reports/units/{factory.root.id}")
    login(client, org_.dept_head.email)
    assert get(client, "/reports").location.endswith(f"/reports/units/{org_.dept.id}")


def test_a_trainer_opens_the_root_too(client, factory, org_):
    trainer = factory.person(roles=((Role.TRAINER.value, None),))
    login(client, trainer.email)
    assert get(client, "/reports").location.endswith(f"/reports/units/{factory.root.id}")
    assert get(client, f"/reports/units/{org_.sibling.id}").status_code == 200


def test_a_learner_gets_403_and_anonymous_is_sent_to_sign_in(client, org_):
    response = get(client, "/reports")
    assert response.status_code == 302 and "/login" in response.location
    assert "/login" in get(client, f"/reports/units/{org_.dept.id}").location
    login(client, org_.people["anh"].email)
    assert get(client, "/reports").status_code == 403
    assert get(client, f"/reports/units/{org_.div_a.id}").status_code == 403


def report_urls(unit_id: int) -> list[str]:
    base = f"/reports/units/{unit_id}"
    return [base, f"{base}/people", f"{base}/people?status=overdue", f"{base}/monthly.pdf",
            *[f"{base}/export.{kind}?view={view}" for kind in ("csv", "xlsx")
              for view in ("dashboard", "people", "behind")]]


def test_a_division_head_gets_403_on_a_sibling_division_and_on_the_department(client, org_):
    login(client, org_.head.email)
    for unit in (org_.div_b, org_.dept, org_.sibling):
        for url in report_urls(unit.id):
            assert get(client, url).status_code == 403, url


def test_a_division_head_opens_every_report_of_their_own_division(client, org_):
    login(client, org_.head.email)
    for url in report_urls(org_.div_a.id):
        assert get(client, url).status_code == 200, url


def test_an_unknown_unit_is_404(client, factory, org_):
    login(client, factory.admin().email)
    assert get(client, "/reports/units/999999").status_code == 404
    assert get(client, "/reports/units/999999/people").status_code == 404


# ---------------------------------------------------------------- figures and drill-downs

def test_the_department_dashboard_shows_each_division_and_the_people_placed_directly(
        client, org_):
    login(client, org_.dept_head.email)
    response = get(client, f"/reports/units/{org_.dept.id}")
    assert response.status_code == 200
    html = page_text(response)
    # People, Assigned, Completed, %, On track, Overdue, Not started, Avg score, Certificates
    assert row_cells(html, "Phòng Châu Á")[1:8] == ["3", "6", "2", "33,3%", "2", "2", "3"]
    assert row_cells(html, "Phòng Châu Âu")[1:8] == ["1", "1", "0", "0%", "1", "0", "1"]
    own = row_cells(html, gettext("Placed directly in this unit"))
    assert own[1:8] == ["2", "2", "0", "0%", "2", "0", "2"]     # Dung and the head
    assert row_cells(html, gettext("Total"))[1:8] == ["6", "9", "2", "22,2%", "5", "2", "6"]


def test_every_number_of_a_sub_unit_row_drills_down(client, org_):
    login(client, org_.dept_head.email)
    response = get(client, f"/reports/units/{org_.dept.id}")
    hrefs = links(response)
    a = org_.div_a.id
    assert f"/reports/units/{a}" in hrefs                                # name -> its dashboard
    assert f"/reports/units/{a}/people" in hrefs                         # headcount
    assert f"/reports/units/{a}/people?status=completed" in hrefs
    assert f"/reports/units/{a}/people?status=on_track" in hrefs
    assert f"/reports/units/{a}/behind?list=overdue" in hrefs
    assert f"/reports/units/{a}/behind?list=not_started" in hrefs
    own = org_.dept.id
    assert f"/reports/units/{own}/people?direct=1&status=not_started" in hrefs
    for href in hrefs:      # everything the page links to opens for this head
        if href.startswith("/reports/units/") and "export" not in href and "monthly" not in href:
            assert get(client, href).status_code == 200, href


def test_the_breadcrumb_lists_only_the_units_the_viewer_may_open(client, factory, org_):
    login(client, org_.head.email)
    html = get(client, f"/reports/units/{org_.div_a.id}").get_data(as_text=True)
    crumbs = re.search(r'<nav class="breadcrumbs".*?</nav>', html, re.S).group(0)
    assert "Vụ Hợp tác quốc tế" not in unescape(crumbs)
    assert f"/reports/units/{org_.dept.id}" not in crumbs
    login(client, factory.admin().email)
    html = get(client, f"/reports/units/{org_.div_a.id}").get_data(as_text=True)
    crumbs = unescape(re.search(r'<nav class="breadcrumbs".*?</nav>', html, re.S).group(0))
    assert f'href="/reports/units/{factory.root.id}"' in crumbs
    assert f'href="/reports/units/{org_.dept.id}"' in crumbs
    assert crumbs.index("Bộ Ngoại giao") < crumbs.index("Vụ Hợp tác quốc tế") \
        < crumbs.index("Phòng Châu Á")


def test_the_filters_are_kept_in_every_link_export_and_the_pdf(client, org_):
    login(client, org_.dept_head.email)
    response = get(client, f"/reports/units/{org_.dept.id}?course={org_.course.id}"
                          "&due_from=2020-01-01&due_to=2099-12-31&position=Chuyên viên")
    assert response.status_code == 200
    html = page_text(response)
    assert row_cells(html, gettext("Total"))[1:4] == ["2", "2", "1"]     # Chuyên viên only
    wanted = {"course": str(org_.course.id), "due_from": "2020-01-01", "due_to": "2099-12-31",
              "position": "Chuyên viên"}
    report_links = [h for h in links(response) if h.startswith("/reports/units/")]
    exports = [h for h in report_links if "/export." in h]
    assert {query_of(h)["view"] for h in exports} == {"dashboard"}
    assert any("/monthly.pdf" in h for h in report_links)
    month_form = re.search(r'<form method="get" action="([^"]+)" class="panel month-form".*?</form>',
                           html, re.S)
    assert month_form.group(1) == f"/reports/units/{org_.dept.id}/monthly.pdf"
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', month_form.group(0)))
    assert hidden == wanted
    clear = f"/reports/units/{org_.dept.id}"      # the "clear the filters" link
    for href in report_links:
        if href != clear:
            assert {k: query_of(href).get(k) for k in wanted} == wanted, href


def test_bad_filter_values_are_ignored_with_a_message(client, org_):
    login(client, org_.dept_head.email)
    response = get(client, f"/reports/units/{org_.dept.id}?due_from=31/13/2025&course=abc"
                          "&due_to=2025-02-30&snapshot=x")
    assert response.status_code == 200
    html = page_text(response)
    assert "flash--warning" in response.get_data(as_text=True)
    assert row_cells(html, gettext("Total"))[1:3] == ["6", "9"]           # unfiltered
    response = get(client, f"/reports/units/{org_.dept.id}?due_from=2025-06-30&due_to=2025-06-01")
    assert response.status_code == 200
    assert gettext("The date range ends before it starts; it was ignored.") in page_text(response)


def test_dates_typed_the_vietnamese_way_are_understood(client, org_):
    login(client, org_.dept_head.email)
    far = (utcnow() + timedelta(days=365)).strftime("%d/%m/%Y")
    response = get(client, f"/reports/units/{org_.dept.id}?due_from=01/01/2020&due_to={far}")
    assert "flash--warning" not in response.get_data(as_text=True)
    assert query_of([h for h in links(response) if "/export.csv" in h][0])["due_from"] == \
        "2020-01-01"


def test_the_charts_are_inline_svg_with_a_title(client, org_):
    login(client, org_.dept_head.email)
    html = get(client, f"/reports/units/{org_.dept.id}").get_data(as_text=True)
    main = html.split('<main', 1)[1]      # the header's bell is an icon, not a chart
    svgs = re.findall(r"<svg .*?</svg>", main, re.S)
    assert len(svgs) == 2
    assert all('role="img"' in s and "<title" in s for s in svgs)
    assert "Phòng Châu Á" in unescape(svgs[0]) and "33,3%" in svgs[0]
    assert "<polyline" in svgs[1]


# ---------------------------------------------------------------- exports

def test_the_dashboard_exports_the_same_figures_as_csv_and_xlsx(client, org_):
    login(client, org_.dept_head.email)
    response = get(client, f"/reports/units/{org_.dept.id}/export.csv?view=dashboard")
    assert response.status_code == 200
    assert response.data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert table[0][0] == gettext("Code")
    by_code = {row[0]: row for row in table[1:]}
    assert by_code["HTQT-A"][3:7] == ["3", "6", "2", "33.3"]
    assert table[-1][2] == gettext("Total") and table[-1][3:6] == ["6", "9", "2"]
    response = get(client, f"/reports/units/{org_.dept.id}/export.xlsx?view=dashboard"
                          f"&position=Chuyên viên")
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[-1][3:6] == (2, 3, 2)


def test_people_and_behind_exports_have_the_rows_of_their_pages(client, org_):
    login(client, org_.dept_head.email)
    response = get(client, f"/reports/units/{org_.dept.id}/export.xlsx?view=people&status=overdue")
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert [r[1] for r in rows[1:]] == ["Trần Thị Bình", "Đỗ Minh Hải"]
    response = get(client, f"/reports/units/{org_.dept.id}/export.csv?view=behind&list=overdue")
    table = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert sorted(r[1] for r in table[1:]) == ["Trần Thị Bình", "Đỗ Minh Hải"]


def test_an_unknown_export_view_is_404(client, org_):
    login(client, org_.dept_head.email)
    assert get(client, f"/reports/units/{org_.dept.id}/export.csv?view=secret").status_code == 404
    assert get(client, f"/reports/units/{org_.dept.id}/export.pdf?view=people").status_code == 404


# ---------------------------------------------------------------- snapshots

def test_a_snapshot_shows_the_frozen_figures_as_of_its_date(client, dbs, factory, org_):
    snapshot = take_snapshot(dbs, today(), label="trước")
    finish(dbs, org_.people["cuong"], org_.course)       # after the snapshot
    login(client, org_.dept_head.email)
    live = page_text(get(client, f"/reports/units/{org_.dept.id}"))
    assert row_cells(live, "Phòng Châu Âu")[3] == "1"
    response = get(client, f"/reports/units/{org_.dept.id}?snapshot={snapshot.id}")
    html = page_text(response)
    assert "snapshot-banner" in html
    assert gettext("As of %(date)s", date=snapshot.as_of.strftime("%d/%m/%Y")) in html
    assert row_cells(html, "Phòng Châu Âu")[3] == "0"
    # Frozen numbers are not links to today's lists; sub-unit names keep the snapshot mode.
    assert f"/reports/units/{org_.div_b.id}/people" not in links(response)
    assert f"/reports/units/{org_.div_b.id}?snapshot={snapshot.id}" in links(response)
    export = get(client, f"/reports/units/{org_.dept.id}/export.csv?view=dashboard"
                        f"&snapshot={snapshot.id}")
    table = list(csv.reader(io.StringIO(export.data.decode("utf-8-sig"))))
    assert {r[0]: r for r in table[1:]}["HTQT-B"][5] == "0"


def test_compare_adds_the_change_in_completion_points(client, dbs, org_):
    snapshot = take_snapshot(dbs, today())
    finish(dbs, org_.people["cuong"], org_.course)
    login(client, org_.dept_head.email)
    html = page_text(get(client, f"/reports/units/{org_.dept.id}?compare={snapshot.id}"))
    assert gettext("Change (points)") in html
    assert row_cells(html, "Phòng Châu Âu")[5] == "+100"
    assert row_cells(html, "Phòng Châu Á")[5] == "0"
    assert row_cells(html, gettext("Total"))[5] == "+11,1"     # 2/9 -> 3/9 completed


def test_a_snapshot_without_the_unit_falls_back_to_today_with_a_note(client, dbs, factory, org_):
    snapshot = take_snapshot(dbs, today())
    newer = factory.unit("Phòng Mới", parent=org_.dept, code="HTQT-M", kind="division")
    login(client, org_.dept_head.email)
    response = get(client, f"/reports/units/{newer.id}?snapshot={snapshot.id}")
    assert response.status_code == 200
    html = page_text(response)
    assert "snapshot-banner" not in html
    assert gettext("This unit has no figures in that snapshot; the current figures are shown.") \
        in html


# ---------------------------------------------------------------- queries

def build_org(dbs, factory, divisions: int, people_each: int, course):
    dept = factory.unit("Vụ Tổng hợp")
    units = [factory.unit(f"Phòng {i}", parent=dept, kind="division") for i in range(divisions)]
    for unit in units:
        for _ in range(people_each):
            factory.person(unit=unit)
    extra = factory.person(unit=dept)
    org.add_concurrent_post(dbs, None, extra, units[0].id, "Kiêm nhiệm")
    factory.assignment(course, unit=dept)
    return dept


#: Statements a dashboard may run, whatever the size of the organisation: the figures (one
#: GROUP BY per kind over the listed units), the weekly line, the mentoring panel, the
#: filter choices, and what every page runs (session, roles, unread notifications).
DASHBOARD_STATEMENTS = 20


def test_the_ministry_and_department_dashboards_run_a_fixed_number_of_queries(
        client, dbs, factory, count_queries):
    """Three levels (ministry, departments, divisions): the ministry's dashboard and a
    department's run as many statements for 3 people as for 70, within a fixed budget."""
    course = factory.course()
    small = build_org(dbs, factory, divisions=1, people_each=1, course=course)
    take_snapshot(dbs, today())
    login(client, factory.admin().email)

    def statements(unit) -> int:
        get(client, f"/reports/units/{unit.id}")                 # warm caches
        with count_queries() as run:
            assert get(client, f"/reports/units/{unit.id}").status_code == 200
        return len(run)

    before = {"ministry": statements(factory.root), "department": statements(small)}
    large = build_org(dbs, factory, divisions=6, people_each=5, course=course)
    for _ in range(3):
        build_org(dbs, factory, divisions=2, people_each=3, course=course)
    after = {"ministry": statements(factory.root), "department": statements(large)}
    assert after == before
    assert max(after.values()) <= DASHBOARD_STATEMENTS, after


def test_the_people_page_runs_the_same_number_of_queries_whatever_the_size(
        client, dbs, factory, count_queries):
    course = factory.course()
    small = build_org(dbs, factory, divisions=1, people_each=1, course=course)
    large = build_org(dbs, factory, divisions=6, people_each=5, course=course)
    login(client, factory.admin().email)
    counts = []
    for unit in (small, large):
        with count_queries() as statements:
            assert get(client, f"/reports/units/{unit.id}/people").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_url_helpers_build_the_agreed_routes(app):
    with app.test_request_context():
        assert url_for("reports.index") == "/reports"
        assert url_for("reports.dashboard", unit_id=3) == "/reports/units/3"
        assert url_for("reports.people", unit_id=3) == "/reports/units/3/people"
        assert url_for("reports.export", unit_id=3, kind="xlsx", view="people") == \
            "/reports/units/3/export.xlsx?view=people"
        assert url_for("reports.monthly_pdf", unit_id=3, month="2025-06") == \
            "/reports/units/3/monthly.pdf?month=2025-06"
        assert url_for("reports.snapshots") == "/reports/snapshots"
