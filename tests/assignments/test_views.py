"""The assignment pages: an admin or trainer assigns training by decision to a department,
a unit head within their own units; the detail page shows the progress; the decision's PDF
opens for those concerned; learning paths are put together without JavaScript; learners
see the decision behind their assigned courses in "My learning".

The pages are read in English (switched after signing in), so the assertions do not
depend on the Vietnamese catalog.
"""
from __future__ import annotations

import io
import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from lms.assignments import services
from lms.assignments.models import Assignment, LearningPath
from lms.courses import services as learning
from lms.courses.models import Enrolment
from lms.db import utcnow
from lms.org.models import Role
from tests.conftest import login

PDF = b"%PDF-1.4\n% quyet dinh 1637\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def sign_in(client, person):
    """Sign in and read the pages in English."""
    login(client, person.email)
    client.form("/language/en", {"next": "/"})
    return client


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def count(dbs, model) -> int:
    return dbs.scalar(select(func.count()).select_from(model))


def download(client, url: str):
    """GET a file and close the response (sent from disk)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def field_error(page: str, field: str) -> str:
    match = re.search(rf'<p class="error-text" id="{field}-error">(.*?)</p>', page, re.S)
    return match.group(1) if match else ""


def option_values(page: str, select_id: str) -> list[str]:
    match = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert match, f"no select {select_id}"
    return re.findall(r'<option[^>]*value="([^"]*)"', match.group(1))


@pytest.fixture()
def ministry(factory):
    """A department with two divisions, another department, and their staff."""
    dept = factory.unit("Vụ Hợp tác quốc tế", code="HTQT")
    div_a = factory.unit("Phòng Đa phương", parent=dept, code="HTQT-DP", kind="division")
    div_b = factory.unit("Phòng Song phương", parent=dept, code="HTQT-SP", kind="division")
    other = factory.unit("Cục Lãnh sự", code="CLS")
    staff = [factory.person(f"Cán Bộ {i}", unit=unit, code=f"CB{i:03d}",
                            email=f"cb{i}@mofa.example")
             for i, unit in enumerate((dept, div_a, div_a, div_b, other), start=1)]
    return {"dept": dept, "div_a": div_a, "div_b": div_b, "other": other, "staff": staff}


@pytest.fixture()
def admin(factory):
    return factory.admin(name="Trần Minh Quân", email="admin@mofa.example")


@pytest.fixture()
def trainer(factory):
    return factory.person(name="Lê Thu Hương", email="trainer@mofa.example",
                          roles=((Role.TRAINER.value, None),))


@pytest.fixture()
def head(factory, ministry):
    return factory.unit_head(ministry["dept"], name="Đỗ Văn Trưởng", email="head@mofa.example")


@pytest.fixture()
def course(factory):
    return factory.course(title="Chữ ký số trong văn bản điện tử", lessons=1)


def assign_form(course=None, **overrides) -> dict:
    today = utcnow().date()
    data = {
        "title": "Bồi dưỡng kỹ năng số 2025", "decision_number": "1637/QĐ-BNG",
        "decision_date": "05/06/2025", "training": f"course:{course.id}" if course else "",
        "target_kind": "unit", "target_unit_id": "", "target_role": "mentor", "people": "",
        "start_date": today.isoformat(), "due_date": (today + timedelta(days=30)).isoformat(),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# ---------------------------------------------------------------- who may open the pages

def test_a_learner_may_not_assign_training(client, factory, ministry, course, admin):
    learner = ministry["staff"][0]
    assignment = factory.assignment(course, unit=ministry["other"])
    login(client, learner.email)
    for url in ("/assignments", "/assignments/new", "/learning-paths", "/learning-paths/new",
                f"/assignments/{assignment.id}"):
        assert client.get(url).status_code == 403, url
    assert client.form("/assignments/new", assign_form(course)).status_code == 403
    assert client.form(f"/assignments/{assignment.id}/close").status_code == 403
    assert client.get(f"/assignments/{assignment.id}/decision.pdf").status_code == 403


def test_a_unit_head_cannot_see_or_close_assignments_outside_their_units(
        client, factory, dbs, ministry, course, head):
    outside = factory.assignment(course, unit=ministry["other"], title="Ngoài phạm vi")
    inside = factory.assignment(course, unit=ministry["div_a"], title="Trong phạm vi")
    sign_in(client, head)

    listing = text(client.get("/assignments"))
    assert "Trong phạm vi" in listing and "Ngoài phạm vi" not in listing
    assert client.get(f"/assignments/{inside.id}").status_code == 200
    assert client.get(f"/assignments/{outside.id}").status_code == 403
    assert client.form(f"/assignments/{outside.id}/close").status_code == 403
    dbs.refresh(outside)
    assert outside.is_active
    # learning paths: admins and trainers
    path = LearningPath(title="Lộ trình kỹ năng số")
    dbs.add(path)
    dbs.flush()
    for url in ("/learning-paths", "/learning-paths/new", f"/learning-paths/{path.id}"):
        assert client.get(url).status_code == 403, url
    assert client.form(f"/learning-paths/{path.id}", {"title": "Đổi tên"}).status_code == 403
    dbs.refresh(path)
    assert path.title == "Lộ trình kỹ năng số"


# ---------------------------------------------------------------- assigning

def test_an_admin_assigns_a_course_to_a_department_by_decision(client, dbs, ministry, course,
                                                              admin):
    sign_in(client, admin)
    page = text(client.get("/assignments/new"))
    assert re.search(r'<input[^>]*name="target_kind"[^>]*value="everyone"', page)
    assert str(ministry["other"].id) in option_values(page, "target_unit_id")
    assert f"course:{course.id}" in page
    assert 'src="/static/assignments.js"' in page and "<script>" not in page

    response = client.form("/assignments/new", assign_form(
        course, target_unit_id=ministry["dept"].id,
        decision_file=(io.BytesIO(PDF), "QĐ 1637.pdf")), content_type="multipart/form-data")

    assert response.status_code == 302, field_error(text(response), "title")
    assignment = dbs.scalar(select(Assignment))
    assert response.location.endswith(f"/assignments/{assignment.id}")
    assert (assignment.decision_number, assignment.target_unit_id, assignment.created_by_id) == (
        "1637/QĐ-BNG", ministry["dept"].id, admin.id)
    assert assignment.decision_date.isoformat() == "2025-06-05"
    enrolled = set(dbs.scalars(select(Enrolment.user_id).where(
        Enrolment.assignment_id == assignment.id)))
    assert enrolled == {p.id for p in ministry["staff"][:4]}

    detail = text(client.get(response.location))
    assert "4 people were enrolled" in detail
    assert "1637/QĐ-BNG" in detail and "Jun 5, 2025" in detail
    assert f"/assignments/{assignment.id}/decision.pdf" in detail
    assert f"/assignments/{assignment.id}/close" in detail
    pdf = download(client, f"/assignments/{assignment.id}/decision.pdf")
    assert (pdf.status_code, pdf.mimetype, pdf.data) == (200, "application/pdf", PDF)
    assert "private" in pdf.headers["Cache-Control"]


def test_the_due_date_is_the_end_of_that_day_in_the_assigners_timezone(client, dbs, ministry,
                                                                       course, admin):
    sign_in(client, admin)
    client.form("/assignments/new", assign_form(
        course, target_unit_id=ministry["dept"].id, start_date="01/07/2099",
        due_date="31/07/2099"))
    assignment = dbs.scalar(select(Assignment))
    # Asia/Ho_Chi_Minh is UTC+7: 31/07 23:59:59 there is 31/07 16:59:59 UTC.
    assert assignment.due_at.isoformat().startswith("2099-07-31T16:59:59")
    assert assignment.start_at.isoformat().startswith("2099-06-30T17:00:00")


def test_vietnamese_pages_show_dates_as_day_month_year(client, factory, ministry, course, admin):
    assignment = factory.assignment(course, unit=ministry["dept"])
    login(client, admin.email)
    page = text(client.get("/assignments"))
    assert assignment.decision_date.strftime("%d/%m/%Y") in page


def test_a_trainer_assigns_a_list_of_people_by_code_or_email(client, dbs, ministry, course,
                                                            trainer):
    staff = ministry["staff"]
    sign_in(client, trainer)
    response = client.form("/assignments/new", assign_form(
        course, target_kind="people", target_unit_id=ministry["other"].id,
        people=f"cb001\n  {staff[4].email.upper()} \n\nCB001; CB004"))
    assert response.status_code == 302
    assignment = dbs.scalar(select(Assignment))
    assert assignment.target_unit_id is None   # a unit chosen for another target is ignored
    assert set(dbs.scalars(select(Enrolment.user_id))) == {staff[0].id, staff[3].id, staff[4].id}
    assert "3 people" in text(client.get(response.location))


def test_unknown_people_are_listed_and_nobody_is_assigned(client, dbs, ministry, course, admin):
    sign_in(client, admin)
    response = client.form("/assignments/new", assign_form(
        course, target_kind="people", people="CB001\nCB999\nai@nowhere.example"))
    assert response.status_code == 200
    error = field_error(text(response), "people")
    assert "CB999" in error and "ai@nowhere.example" in error and "CB001" not in error
    assert count(dbs, Assignment) == 0 and count(dbs, Enrolment) == 0


@pytest.mark.parametrize("overrides, field", [
    ({"decision_file": (b"PK\x03\x04 word", "quyet-dinh.docx")}, "decision_file"),
    ({"due_date": "01/01/2020"}, "due_date"),
    ({"start_date": "2099-02-01", "due_date": "2099-01-01"}, "due_date"),
    ({"decision_date": "31/02/2025"}, "decision_date"),
    ({"training": ""}, "training"),
    ({"training": "course:999999"}, "training"),
    ({"title": ""}, "title"),
    ({"target_unit_id": ""}, "target_unit_id"),
])
def test_mistakes_are_shown_on_their_field_and_nothing_is_assigned(
        client, dbs, ministry, course, admin, overrides, field):
    sign_in(client, admin)
    data = assign_form(course, **{"target_unit_id": ministry["dept"].id, **overrides})
    if "decision_file" in data:
        content, name = data["decision_file"]
        data["decision_file"] = (io.BytesIO(content), name)
    response = client.form("/assignments/new", data, content_type="multipart/form-data")
    assert response.status_code == 200
    assert field_error(text(response), field), field
    assert count(dbs, Assignment) == 0


def test_a_too_large_decision_is_refused_in_the_users_language(app, client, dbs, ministry,
                                                               course, admin, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_DECISION_BYTES", 1024 * 1024)
    login(client, admin.email)   # Vietnamese
    fields = assign_form(course, target_unit_id=ministry["dept"].id,
                         csrf_token=client.csrf_token,
                         decision_file=FileStorage(io.BytesIO(PDF + b"0" * 1024 * 1024), "lon.pdf"))
    # Encoded in memory: the test client would spool a large body to a temporary file
    # that it never closes (a ResourceWarning, an error under this suite's settings).
    boundary, body = encode_multipart({k: str(v) if isinstance(v, int) else v
                                       for k, v in fields.items()})
    response = client.post("/assignments/new", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")
    from flask_babel import force_locale, gettext
    with force_locale("vi"):
        expected = gettext("The decision's PDF is larger than %(mb)s MB.", mb=1)
    assert expected in field_error(text(response), "decision_file")
    assert count(dbs, Assignment) == 0


def test_a_unit_head_is_offered_only_their_units_and_may_assign_there(
        client, dbs, ministry, course, head):
    sign_in(client, head)
    page = text(client.get("/assignments/new"))
    units = [v for v in option_values(page, "target_unit_id") if v]
    assert sorted(units) == sorted(str(ministry[k].id) for k in ("dept", "div_a", "div_b"))
    assert 'value="everyone"' not in page

    refused = client.form("/assignments/new", assign_form(
        course, target_unit_id=ministry["other"].id))
    assert refused.status_code == 200 and field_error(text(refused), "target_unit_id")
    refused = client.form("/assignments/new", assign_form(course, target_kind="people",
                                                          people="CB001\nCB005"))
    assert "Cán Bộ 5" in field_error(text(refused), "people")
    assert count(dbs, Assignment) == 0

    done = client.form("/assignments/new", assign_form(course, target_unit_id=ministry["div_a"].id))
    assert done.status_code == 302
    assert count(dbs, Enrolment) == 2


def test_closing_stops_newcomers_being_enrolled(client, dbs, factory, ministry, course, admin):
    assignment = factory.assignment(course, unit=ministry["dept"])
    sign_in(client, admin)
    response = client.form(f"/assignments/{assignment.id}/close")
    assert response.status_code == 302
    dbs.refresh(assignment)
    assert not assignment.is_active
    newcomer = factory.person(unit=ministry["div_a"])
    assert learning.enrolment_for(dbs, newcomer.id, course.id) is None
    page = text(client.get(f"/assignments/{assignment.id}"))
    assert "Closed" in page and f"/assignments/{assignment.id}/close" not in page


# ---------------------------------------------------------------- the detail and the list

def test_the_detail_counts_each_course_of_a_path_in_order(client, dbs, factory, ministry, admin):
    first, second = factory.course("Khoá Một", lessons=1), factory.course("Khoá Hai", lessons=1)
    path = services.save_learning_path(dbs, None, "Lộ trình số", "", [second.id, first.id])
    assignment = factory.assignment(None, unit=ministry["div_a"], path_id=path.id)
    done, started = ministry["staff"][1], ministry["staff"][2]
    for lesson in second.modules[0].lessons:
        learning.complete_lesson(dbs, done, lesson)
    learning.open_lesson(dbs, started, second.modules[0].lessons[0])
    sign_in(client, admin)

    page = text(client.get(f"/assignments/{assignment.id}"))
    assert page.index("Khoá Hai") < page.index("Khoá Một")
    rows = re.findall(r"<tr>(.*?)</tr>", page.split("<tbody>", 1)[1], re.S)
    numbers = [re.findall(r'class="num[^"]*">(?:<strong[^>]*>)?([\d.]+)', row) for row in rows]
    #            #   enrolled completed in progress not started overdue completion
    assert numbers[0] == ["1", "2", "1", "1", "0", "0", "50"]
    assert numbers[1] == ["2", "2", "0", "0", "2", "0", "0"]
    if "reports.dashboard" in client.application.view_functions:
        assert f"/reports/units/{ministry['div_a'].id}?assignment={assignment.id}" in page


def test_the_list_runs_a_fixed_number_of_queries(client, factory, ministry, course, admin,
                                                 count_queries):
    sign_in(client, admin)
    counts = []
    for n in (1, 6):
        while len(counts) < n:
            factory.assignment(course, unit=ministry["div_a"])
            counts.append(None)
        client.get("/assignments")
        with count_queries() as queries:
            page = client.get("/assignments")
        assert page.status_code == 200
        counts[n - 1] = len(queries)
    assert counts[0] == counts[5], counts


def test_the_list_shows_progress_newest_first(client, dbs, factory, ministry, course, admin):
    older = factory.assignment(course, unit=ministry["div_a"], title="Cũ hơn")
    other_course = factory.course("Khoá khác", lessons=1)
    newer = factory.assignment(other_course, kind="everyone", title="Mới hơn")
    newer.created_at = older.created_at + timedelta(minutes=1)
    dbs.flush()
    for lesson in course.modules[0].lessons:
        learning.complete_lesson(dbs, ministry["staff"][1], lesson)
    sign_in(client, admin)
    page = text(client.get("/assignments"))
    assert page.index("Mới hơn") < page.index("Cũ hơn")
    assert "Everyone" in page and "50 %" in page.replace("\xa0", " ")


# ---------------------------------------------------------------- the decision's PDF

def test_the_decision_opens_for_those_it_enrols_only(client, dbs, factory, ministry, course,
                                                    admin):
    from lms.assignments import services as assigning

    data = assigning.AssignmentData(
        title="Có văn bản", decision_number="99/QĐ-BNG", decision_date=utcnow().date(),
        start_at=utcnow(), due_at=utcnow() + timedelta(days=10), target_kind="unit",
        course_id=course.id, target_unit_id=ministry["div_b"].id)
    assignment = assigning.create_assignment(dbs, admin, data, decision_pdf=PDF,
                                             decision_filename="qd.pdf")
    bare = factory.assignment(factory.course("Không văn bản"), unit=ministry["div_b"])
    enrolled, outsider = ministry["staff"][3], ministry["staff"][4]

    login(client, enrolled.email)
    assert download(client, f"/assignments/{assignment.id}/decision.pdf").data == PDF
    learning_page = text(client.get("/learning"))
    assert "99/QĐ-BNG" in learning_page
    assert f"/assignments/{assignment.id}/decision.pdf" in learning_page
    assert client.get(f"/assignments/{bare.id}/decision.pdf").status_code == 404
    login(client, outsider.email)
    assert client.get(f"/assignments/{assignment.id}/decision.pdf").status_code == 403
    assert client.get("/assignments/999999/decision.pdf").status_code == 404


# ---------------------------------------------------------------- "My learning"

def test_my_learning_shows_the_decision_and_the_path_order_in_fixed_queries(
        client, dbs, factory, ministry, admin, count_queries):
    learner = ministry["staff"][1]
    courses = [factory.course(f"Bước {i}", lessons=1) for i in range(1, 5)]
    sign_in(client, learner)
    client.get("/learning")
    with count_queries() as queries:
        client.get("/learning")
    before = len(queries)

    path = services.save_learning_path(dbs, None, "Lộ trình bốn bước", "",
                                       [c.id for c in reversed(courses)])
    factory.assignment(None, unit=ministry["dept"], path_id=path.id,
                       decision_number="1637/QĐ-BNG")
    factory.assignment(factory.course("Riêng lẻ", lessons=1), unit=ministry["div_a"])
    client.get("/learning")
    with count_queries() as queries:
        page = text(client.get("/learning"))
    assert len(queries) == before
    assert "Course 1 of 4 in “Lộ trình bốn bước”" in page
    positions = [page.index(f"Bước {i}") for i in (4, 3, 2, 1)]
    assert positions == sorted(positions)
    assert "Assigned by decision 1637/QĐ-BNG of" in page


# ---------------------------------------------------------------- learning paths

def path_form(title: str, positions: dict, **extra) -> dict:
    data = {"title": title, "description": "Ba khoá cơ bản."}
    data.update({f"course_ids-{course.id}": str(n) for course, n in positions.items()})
    data.update(extra)
    return data


def test_a_trainer_builds_and_reorders_a_learning_path(client, dbs, factory, trainer):
    one, two, three = (factory.course(t, lessons=1) for t in ("Khoá A", "Khoá B", "Khoá C"))
    draft = factory.course("Bản nháp", publish=False)
    sign_in(client, trainer)
    page = text(client.get("/learning-paths/new"))
    assert f'name="course_ids-{one.id}"' in page and "Bản nháp" not in page

    response = client.form("/learning-paths/new", path_form(
        "Lộ trình số cơ bản", {three: 1, one: 2, two: ""}))
    assert response.status_code == 302
    path = dbs.scalar(select(LearningPath))
    assert [s.course_id for s in path.steps] == [three.id, one.id]
    listing = text(client.get("/learning-paths"))
    assert listing.index("Khoá C") < listing.index("Khoá A")

    edit = text(client.get(f"/learning-paths/{path.id}"))
    assert f'name="course_ids-{three.id}" value="1"' in edit
    response = client.form(f"/learning-paths/{path.id}", path_form(
        "Lộ trình số cơ bản", {one: 1, two: 2, three: 3}))
    assert response.status_code == 302
    dbs.expire_all()
    assert [s.course_id for s in dbs.get(LearningPath, path.id).steps] == [one.id, two.id, three.id]

    bad = client.form(f"/learning-paths/{path.id}", path_form("Lộ trình", {one: "x"}))
    assert bad.status_code == 200 and field_error(text(bad), "course_ids")
    bad = client.form("/learning-paths/new", path_form("Trống", {one: ""}))
    assert bad.status_code == 200 and field_error(text(bad), "course_ids")
    bad = client.form("/learning-paths/new", path_form("Có nháp", {draft: 1}))
    assert bad.status_code == 200 and field_error(text(bad), "course_ids")
    assert count(dbs, LearningPath) == 1


def test_a_path_can_be_assigned_from_the_form(client, dbs, factory, ministry, admin):
    first, second = factory.course("Một", lessons=1), factory.course("Hai", lessons=1)
    path = services.save_learning_path(dbs, None, "Lộ trình", "", [first.id, second.id])
    sign_in(client, admin)
    assert f'value="path:{path.id}"' in text(client.get("/assignments/new"))
    response = client.form("/assignments/new", assign_form(
        None, training=f"path:{path.id}", target_unit_id=ministry["div_b"].id))
    assert response.status_code == 302
    assert count(dbs, Enrolment) == 2
    assert dbs.scalar(select(Assignment.path_id)) == path.id
