"""Staff sync: the HR system sends units and people, all or nothing, by the CSV import's rules."""
from __future__ import annotations

from typing import Any

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from lms.api.clients import create_client
from lms.api.staff import MAX_PEOPLE
from lms.audit.models import AuditEvent
from lms.errors import DomainError
from lms.org import importer
from lms.org.models import Unit, User

SYNC = "/staff/sync"


@pytest.fixture()
def token(new_token):
    return new_token(["staff:write"])


@pytest.fixture()
def dept(factory):
    return factory.unit(code="VP", name="Văn phòng Bộ")


def person(code: str, unit: str = "VP", **extra: Any) -> dict[str, Any]:
    return {"employee_code": code, "full_name": f"Nguyễn Văn {code}",
            "email": f"{code.lower()}@mofa.example", "unit_code": unit, **extra}


def people_count(dbs) -> int:
    return dbs.scalar(select(func.count()).select_from(User))


def unit_count(dbs) -> int:
    return dbs.scalar(select(func.count()).select_from(Unit))


def problem(response, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.get_json()


def by_pointer(body: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for error in body["errors"]:
        found.setdefault(error["pointer"], []).append(error)
    return found


# ---------------------------------------------------------------- counts and idempotency

def test_new_people_are_created_without_a_password_and_counted(api, dbs, dept, token):
    response = api.post(SYNC, {"people": [person("CB001"), person("CB002", position="Chuyên viên")]},
                        token)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["dry_run"] is False
    assert body["people"] == {"created": 2, "updated": 0, "unchanged": 0, "deactivated": 0,
                              "reactivated": 0}
    assert body["units"] == {"created": 0, "updated": 0, "unchanged": 0}
    assert body["items"] == [{"pointer": "/people/0", "status": "created", "code": "CB001"},
                             {"pointer": "/people/1", "status": "created", "code": "CB002"}]
    created = dbs.scalar(select(User).where(User.employee_code == "CB002"))
    assert created.unit_id == dept.id and created.position == "Chuyên viên"
    assert created.password_hash is None and created.must_change_password


def test_updates_and_unchanged_people_are_told_apart(api, dbs, factory, dept, token):
    same = factory.person(code="CB001", unit=dept, name="Nguyễn Văn CB001",
                          email="cb001@mofa.example")
    moved = factory.person(code="CB002", name="Nguyễn Văn CB002", email="cb002@mofa.example")
    response = api.post(SYNC, {"people": [person("CB001"), person("CB002"), person("CB003")]},
                        token)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["people"] == {"created": 1, "updated": 1, "unchanged": 1, "deactivated": 0,
                              "reactivated": 0}
    assert [item["status"] for item in body["items"]] == ["unchanged", "updated", "created"]
    dbs.expire_all()
    assert dbs.get(User, moved.id).unit_id == dept.id
    assert dbs.get(User, same.id).position == "Chuyên viên"  # no position sent: kept


def test_sending_the_same_body_twice_changes_nothing_the_second_time(api, dbs, dept, token):
    body = {"units": [{"code": "CNTT", "name": "Trung tâm CNTT", "parent_code": "VP",
                       "kind": "division"}],
            "people": [person("CB001", unit="CNTT"), person("CB002", active=False)]}
    first = api.post(SYNC, body, token)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["units"]["created"] == 1
    events = dbs.scalar(select(func.count()).select_from(AuditEvent))
    second = api.post(SYNC, body, token).get_json()
    assert second["units"] == {"created": 0, "updated": 0, "unchanged": 1}
    assert second["people"] == {"created": 0, "updated": 0, "unchanged": 2, "deactivated": 0,
                                "reactivated": 0}
    assert {item["status"] for item in second["items"]} == {"unchanged"}
    # only the second call's own record is added
    assert dbs.scalar(select(func.count()).select_from(AuditEvent)) == events + 1


def test_the_sync_is_audited_once_with_its_counts_and_the_clients_name(api, dbs, dept, new_token):
    token = new_token(["staff:write"], name="HRM Bộ")
    api.post(SYNC, {"people": [person("CB001")]}, token)
    event = dbs.scalar(select(AuditEvent).where(AuditEvent.action == "staff.synced"))
    assert event.actor_id is None
    assert event.details["client"] == "HRM Bộ"
    assert event.details["people"]["created"] == 1 and event.details["units"]["created"] == 0


# ---------------------------------------------------------------- all or nothing

def test_one_bad_person_among_good_ones_writes_nothing_and_every_error_has_a_pointer(
        api, dbs, factory, dept, token):
    factory.person(code="CB900", email="taken@mofa.example")
    before = people_count(dbs)
    response = api.post(SYNC, {
        "units": [{"code": "MOI", "name": "Đơn vị mới", "parent_code": "VP"}],
        "people": [person("CB001"), person("CB002", email="taken@mofa.example"), person("CB003"),
                   person("CB004", unit="KHONGCO", full_name="")],
    }, token)
    body = problem(response)
    errors = by_pointer(body)
    assert set(errors) == {"/people/1", "/people/3"}
    assert [e["field"] for e in errors["/people/1"]] == ["email"]
    assert {e["field"] for e in errors["/people/3"]} == {"full_name", "unit_code"}
    assert all(e["detail"] for e in body["errors"])
    dbs.expire_all()
    assert people_count(dbs) == before
    assert dbs.scalar(select(Unit).where(Unit.code == "MOI")) is None
    assert dbs.scalar(select(AuditEvent).where(AuditEvent.action == "staff.synced")) is None


def test_the_csv_imports_rule_and_message_apply(api, dbs, factory, dept, token):
    owner = factory.person(code="CB900", email="taken@mofa.example")
    item = person("CB001", email="taken@mofa.example")
    row = importer.row_from_mapping(1, item)
    with force_locale(api.language):
        importer.check_rows(dbs, [row])
    body = problem(api.post(SYNC, {"people": [item]}, token))
    assert [e["detail"] for e in body["errors"]] == row.problems
    assert owner.employee_code in body["errors"][0]["detail"]


def test_duplicates_within_the_body_point_at_the_first_item(api, dbs, dept, token):
    body = problem(api.post(SYNC, {"people": [
        person("CB001"), person("cb001", email="other@mofa.example"),
        person("CB002", email="CB001@mofa.example")]}, token))
    errors = by_pointer(body)
    assert [e["field"] for e in errors["/people/1"]] == ["employee_code"]
    assert [e["field"] for e in errors["/people/2"]] == ["email"]
    assert all("/people/0" in e["detail"] for e in body["errors"])


def test_a_person_in_a_deactivated_unit_is_refused(api, dbs, factory, token):
    from lms.org.services import set_unit_active

    closed = factory.unit(code="DONG")
    set_unit_active(dbs, None, closed, False)
    body = problem(api.post(SYNC, {"people": [person("CB001", unit="DONG")]}, token))
    assert body["errors"][0]["field"] == "unit_code"


# ---------------------------------------------------------------- units

def test_a_new_unit_and_its_people_in_one_call(api, dbs, dept, token):
    response = api.post(SYNC, {
        "units": [{"code": "cntt", "name": "Trung tâm Công nghệ thông tin",
                   "name_en": "IT Centre", "parent_code": "VP"}],
        "people": [person("CB001", unit="CNTT"), person("CB002", unit="cntt")],
    }, token)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["units"]["created"] == 1 and body["people"]["created"] == 2
    assert body["items"][0] == {"pointer": "/units/0", "status": "created", "code": "CNTT"}
    unit = dbs.scalar(select(Unit).where(Unit.code == "CNTT"))
    assert unit.parent_id == dept.id and unit.path.startswith(dept.path)
    assert unit.timezone == dept.timezone
    assert {p.unit_id for p in dbs.scalars(select(User).where(
        User.employee_code.in_(["CB001", "CB002"])))} == {unit.id}


def test_a_parent_may_come_after_its_child(api, dbs, dept, token):
    response = api.post(SYNC, {"units": [
        {"code": "PHONG-A", "name": "Phòng A", "parent_code": "CUC"},
        {"code": "CUC", "name": "Cục mới", "parent_code": "VP", "kind": "department"},
        {"code": "TO-1", "name": "Tổ 1", "parent_code": "PHONG-A"},
    ]}, token)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["units"]["created"] == 3
    cuc, room, team = (dbs.scalar(select(Unit).where(Unit.code == code))
                       for code in ("CUC", "PHONG-A", "TO-1"))
    assert room.parent_id == cuc.id and team.parent_id == room.id
    assert team.path.startswith(cuc.path)


def test_units_are_updated_and_moved_by_code(api, dbs, factory, dept, token):
    other = factory.unit(code="KHAC")
    unit = factory.unit(code="P1", name="Phòng 1", parent=dept)
    body = api.post(SYNC, {"units": [
        {"code": "P1", "name": "Phòng Một", "parent_code": "KHAC"},
        {"code": "VP", "name": dept.name},
    ]}, token).get_json()
    assert body["units"] == {"created": 0, "updated": 1, "unchanged": 1}
    dbs.expire_all()
    unit = dbs.get(Unit, unit.id)
    assert unit.name == "Phòng Một" and unit.parent_id == other.id
    assert unit.path.startswith(dbs.get(Unit, other.id).path)


def test_unit_problems_are_item_errors_and_nothing_is_written(api, dbs, dept, token):
    before = unit_count(dbs)
    body = problem(api.post(SYNC, {"units": [
        {"code": "MOI-1", "name": "Mới 1", "parent_code": "VP"},
        {"code": "MOI-2", "name": "Mới 2", "parent_code": "KHONG-CO"},
        {"code": "MOI-3", "name": "Mới 3"},
        {"code": "MOI-4", "name": "Mới 4", "parent_code": "VP", "kind": "planet"},
        {"code": "MOI-1", "name": "Lặp", "parent_code": "VP"},
        {"code": "VP", "name": "Văn phòng", "parent_code": "MOI-1"},
    ]}, token))
    errors = by_pointer(body)
    assert {pointer: [e["field"] for e in found] for pointer, found in errors.items()} == {
        "/units/1": ["parent_code"], "/units/2": ["parent_code"], "/units/3": ["kind"],
        "/units/4": ["code"],
        "/units/5": ["parent_code"]}   # under its own new sub-unit
    assert unit_count(dbs) == before


def test_a_unit_cannot_be_moved_under_its_own_sub_unit(api, dbs, factory, dept, token):
    child = factory.unit(code="CON", parent=dept)
    body = problem(api.post(SYNC, {"units": [
        {"code": "VP", "name": dept.name, "parent_code": child.code}]}, token))
    assert body["errors"][0]["pointer"] == "/units/0"
    assert body["errors"][0]["field"] == "parent_code"


# ---------------------------------------------------------------- dry run, activity

def test_a_dry_run_reports_without_writing(api, dbs, dept, token):
    before = (people_count(dbs), unit_count(dbs))
    response = api.post(SYNC, {"dry_run": True,
                               "units": [{"code": "MOI", "name": "Mới", "parent_code": "VP"}],
                               "people": [person("CB001", unit="MOI")]}, token)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["dry_run"] is True
    assert body["units"]["created"] == 1 and body["people"]["created"] == 1
    dbs.expire_all()
    assert (people_count(dbs), unit_count(dbs)) == before
    assert dbs.scalar(select(AuditEvent).where(AuditEvent.action == "staff.synced")) is None


def test_active_false_deactivates_and_true_reactivates(api, dbs, factory, dept, token):
    someone = factory.person(code="CB001", unit=dept, name="Nguyễn Văn CB001",
                             email="cb001@mofa.example", position="")
    body = api.post(SYNC, {"people": [person("CB001", active=False)]}, token).get_json()
    assert body["people"]["deactivated"] == 1
    assert body["items"][0]["status"] == "deactivated"
    dbs.expire_all()
    assert dbs.get(User, someone.id).is_active is False
    again = api.post(SYNC, {"people": [person("CB001", active=False)]}, token).get_json()
    assert again["people"]["unchanged"] == 1
    # Without "active" the state is left as it is.
    api.post(SYNC, {"people": [person("CB001")]}, token)
    dbs.expire_all()
    assert dbs.get(User, someone.id).is_active is False
    back = api.post(SYNC, {"people": [person("CB001", active=True)]}, token).get_json()
    assert back["people"]["reactivated"] == 1
    dbs.expire_all()
    assert dbs.get(User, someone.id).is_active is True


# ---------------------------------------------------------------- who may call

def test_a_client_without_staff_write_gets_403(api, dept, new_token):
    response = api.post(SYNC, {"people": [person("CB001")]}, new_token(["progress:read"]))
    assert problem(response, 403)["required_scope"] == "staff:write"


def test_a_call_without_a_token_gets_401(api, dept):
    problem(api.post(SYNC, {"people": [person("CB001")]}), 401)


def test_a_unit_scoped_client_cannot_have_staff_write(dbs, dept):
    with pytest.raises(DomainError) as caught:
        create_client(dbs, None, "HR của Văn phòng", ["staff:write"], dept.id)
    assert caught.value.field == "unit_id"


# ---------------------------------------------------------------- malformed bodies

def test_malformed_json_is_a_400_problem(api, dept, token):
    response = api.client.post("/api/v1" + SYNC, data="{people: [",
                               headers=api.headers(token, **{"Content-Type": "application/json"}))
    problem(response, 400)


def test_a_body_that_is_not_json_is_a_415_problem(api, dept, token):
    response = api.client.post("/api/v1" + SYNC, data="people", headers=api.headers(token))
    problem(response, 415)


@pytest.mark.parametrize("body, pointer", [
    ({"people": "CB001"}, "/people"),
    ({"units": {"code": "X"}}, "/units"),
    ({"people": [person("CB001")], "dry_run": "yes"}, "/dry_run"),
    ({"people": [person("CB001")], "extra": 1}, "/extra"),
])
def test_a_body_of_the_wrong_shape_is_a_422_problem(api, dept, token, body, pointer):
    assert [e["pointer"] for e in problem(api.post(SYNC, body, token))["errors"]] == [pointer]


def test_items_with_wrong_types_are_reported_with_the_other_problems(api, dbs, dept, token):
    before = people_count(dbs)
    body = problem(api.post(SYNC, {
        "units": [{"code": "MOI", "name": 12, "parent_code": "VP"}, "MOI-2"],
        "people": [person("CB001", full_name=["Nguyễn"]), person("CB002", active="no"),
                   person("CB003", email="bad\u0000@mofa.example"), person("CB004", nickname="A"),
                   person("CB005", email="")],
    }, token))
    assert {(e["pointer"], e["field"]) for e in body["errors"]} == {
        ("/units/0", "name"), ("/units/1", None), ("/people/0", "full_name"),
        ("/people/1", "active"), ("/people/2", "email"), ("/people/3", "nickname"),
        ("/people/4", "email")}
    assert people_count(dbs) == before


def test_an_empty_body_is_a_422_problem(api, dept, token):
    problem(api.post(SYNC, {}, token))
    problem(api.post(SYNC, {"units": [], "people": None}, token))


def test_too_many_people_is_a_413_problem(api, dept, token):
    many = [person(f"CB{n:05d}") for n in range(MAX_PEOPLE + 1)]
    problem(api.post(SYNC, {"people": many}, token), 413)


def test_the_document_describes_the_operation(api):
    document = api.get("/openapi.json").get_json()
    operation = document["paths"]["/staff/sync"]["post"]
    assert operation["x-scope"] == "staff:write"
    assert {"200", "400", "401", "403", "409", "413", "415", "422"} <= set(operation["responses"])
    assert "StaffSyncResult" in document["components"]["schemas"]
