"""The reports' scope tests, run against the API too: a client scoped to a unit reads what
that unit's head reads in the pages — the same answer for every unit and person, and the
same figures — and nothing else. (The classic hole is an API path that skips a check the
page has; here both ask the same rules.)"""
from __future__ import annotations

import pytest

from lms.org import services as org
from lms.org.models import Role
from tests.conftest import login
from tests.reports.test_dashboard import get, org_  # noqa: F401  (the reports' fixture)

VIEWERS = {"head": "div_a", "dept_head": "dept"}     # page viewer -> the unit the client is scoped to
UNITS = ("dept", "div_a", "div_b", "sibling")


@pytest.fixture()
def tokens(new_token, org_):  # noqa: F811
    return {viewer: new_token(["progress:read", "certificates:read"], unit=getattr(org_, unit))
            for viewer, unit in VIEWERS.items()}


@pytest.mark.parametrize("viewer", sorted(VIEWERS))
@pytest.mark.parametrize("unit_name", UNITS)
def test_a_scoped_client_opens_a_unit_report_exactly_when_its_head_does(
        client, api, org_, tokens, viewer, unit_name):  # noqa: F811
    unit = getattr(org_, unit_name)
    login(client, getattr(org_, viewer).email)
    page = get(client, f"/reports/units/{unit.id}").status_code
    through_api = api.get(f"/units/{unit.code}/progress", tokens[viewer]).status_code
    feed = api.get(f"/progress?unit={unit.code}", tokens[viewer]).status_code
    statements = api.get(f"/statements?since=2020-01-01T00:00:00Z&unit={unit.code}",
                         tokens[viewer]).status_code
    assert page in (200, 403)
    assert through_api == feed == statements == page


@pytest.mark.parametrize("viewer", sorted(VIEWERS))
@pytest.mark.parametrize("person_name", ["anh", "binh", "cuong", "dung", "em"])
def test_a_scoped_client_reads_a_persons_learning_exactly_when_its_head_does(
        client, api, org_, tokens, viewer, person_name):  # noqa: F811
    person = org_.people[person_name]
    login(client, getattr(org_, viewer).email)
    page = get(client, f"/learning/people/{person.id}").status_code
    progress = api.get(f"/people/{person.employee_code}/progress", tokens[viewer]).status_code
    certificates = api.get(f"/people/{person.employee_code}/certificates",
                           tokens[viewer]).status_code
    assert page in (200, 403)
    assert progress == certificates == page


def test_a_client_scoped_to_one_division_cannot_read_the_sibling_division_or_the_department(
        api, org_, tokens):  # noqa: F811
    token = tokens["head"]
    for unit in (org_.div_b, org_.dept, org_.sibling):
        response = api.get(f"/units/{unit.code}/progress", token)
        assert response.status_code == 403
        assert response.mimetype == "application/problem+json"
    codes = {item["person"]["employee_code"] for item in api.pages("/progress", token)}
    # Division A's people, each enrolled through the department's assignment; nobody else.
    assert codes == {org_.people["anh"].employee_code, org_.people["binh"].employee_code,
                     org_.head.employee_code}


def test_the_api_figures_are_the_dashboards(api, org_, tokens):  # noqa: F811
    """The same numbers as tests/reports/test_dashboard's department dashboard."""
    body = api.get(f"/units/{org_.dept.code}/progress", tokens["dept_head"]).get_json()
    total = body["total"]
    assert (total["headcount"], total["assigned"], total["completed"], total["completion_pct"],
            total["on_track"], total["overdue"], total["not_started"]) == (6, 9, 2, 22.2, 5, 2, 6)
    rows = {row["unit"]["code"]: row["figures"] for row in body["sub_units"]}
    assert (rows["HTQT-A"]["headcount"], rows["HTQT-A"]["assigned"],
            rows["HTQT-A"]["completed"]) == (3, 6, 2)
    assert (rows["HTQT-B"]["headcount"], rows["HTQT-B"]["assigned"]) == (1, 1)
    assert (body["own"]["headcount"], body["own"]["assigned"]) == (2, 2)
    filtered = api.get(f"/units/{org_.dept.code}/progress?course={org_.late_course.slug}",
                       tokens["dept_head"]).get_json()
    assert filtered["total"]["assigned"] == 3 and filtered["total"]["overdue"] == 2


def test_a_concurrent_post_opens_the_person_to_the_head_of_the_post_unit_in_both(
        client, api, dbs, org_, new_token):  # noqa: F811
    em = org_.people["em"]                      # placed in the sibling department
    org.add_concurrent_post(dbs, None, em, org_.div_b.id, "Phó trưởng phòng")
    head_b = org_.people["cuong"]
    org.grant_role(dbs, None, head_b, Role.UNIT_HEAD.value, org_.div_b.id)
    token = new_token(["progress:read"], unit=org_.div_b)
    login(client, head_b.email)
    assert get(client, f"/learning/people/{em.id}").status_code == 200
    assert api.get(f"/people/{em.employee_code}/progress", token).status_code == 200
    codes = {item["person"]["employee_code"] for item in api.pages("/progress", token)}
    assert em.employee_code in codes


def test_an_unscoped_client_reads_every_unit_like_a_trainer(api, org_, new_token):  # noqa: F811
    token = new_token(["progress:read"])
    for unit_name in UNITS:
        assert api.get(f"/units/{getattr(org_, unit_name).code}/progress", token).status_code == 200


def test_scopes_gate_each_part_of_the_api(api, org_, new_token):  # noqa: F811
    only_certificates = new_token(["certificates:read"])
    response = api.get(f"/units/{org_.dept.code}/progress", only_certificates)
    assert response.status_code == 403
    assert response.get_json()["required_scope"] == "progress:read"
    assert api.get("/statements?since=2020-01-01T00:00:00Z", only_certificates).status_code == 403
    only_progress = new_token(["progress:read"])
    person = org_.people["anh"]
    response = api.get(f"/people/{person.employee_code}/certificates", only_progress)
    assert response.status_code == 403
    assert response.get_json()["required_scope"] == "certificates:read"
    assert api.post("/staff/sync", {"people": []}, only_progress).status_code == 403


def test_unknown_units_people_and_courses_are_404_problems(api, org_, new_token):  # noqa: F811
    token = new_token(["progress:read", "certificates:read"])
    for path in ("/units/NOPE/progress", "/people/NOPE/progress", "/courses/nope/progress",
                 "/progress?unit=NOPE", "/progress?course=nope", "/people/NOPE/certificates",
                 "/certificates/not-a-code", "/nothing/here"):
        response = api.get(path, token)
        assert response.status_code == 404, path
        assert response.mimetype == "application/problem+json", path
