"""An admin looks after the organisation tree."""
import pytest
from sqlalchemy import select

from lms.errors import DomainError
from lms.org import services
from lms.org.models import Unit
from lms.org.queries import unit_tree
from tests.conftest import login


def test_units_get_materialised_paths(factory):
    dept = factory.unit(name="Cục Cơ yếu và Công nghệ thông tin")
    division = factory.unit(name="Phòng An ninh mạng", parent=dept, kind="division")
    assert dept.path == f"{factory.root.path}{dept.id}/"
    assert division.path == f"{dept.path}{division.id}/"
    assert (factory.root.depth, dept.depth, division.depth) == (0, 1, 2)


def test_moving_a_unit_moves_its_whole_subtree(dbs, factory):
    a, b = factory.unit(name="Vụ A"), factory.unit(name="Vụ B")
    division = factory.unit(parent=a, kind="division")
    team = factory.unit(parent=division, kind="division")
    services.move_unit(dbs, None, division, b.id)
    dbs.expire_all()
    assert division.path == f"{b.path}{division.id}/"
    assert team.path == f"{b.path}{division.id}/{team.id}/"
    assert a.path == f"{factory.root.path}{a.id}/"


def test_a_unit_cannot_move_under_its_own_descendant(dbs, factory):
    a = factory.unit()
    child = factory.unit(parent=a, kind="division")
    with pytest.raises(DomainError):
        services.move_unit(dbs, None, a, child.id)
    with pytest.raises(DomainError):
        services.move_unit(dbs, None, a, a.id)


def test_unit_codes_are_unique_and_normalised(dbs, factory):
    factory.unit(code="CLS")
    with pytest.raises(DomainError) as err:
        factory.unit(code=" cls ")
    assert "CLS" in err.value.message


def test_a_unit_with_active_people_or_sub_units_cannot_be_deactivated(dbs, factory):
    dept = factory.unit()
    division = factory.unit(parent=dept, kind="division")
    person = factory.person(unit=division)
    with pytest.raises(DomainError):
        services.set_unit_active(dbs, None, dept, False)
    with pytest.raises(DomainError) as err:
        services.set_unit_active(dbs, None, division, False)
    assert "1" in err.value.message
    services.set_person_active(dbs, None, person, False)
    services.set_unit_active(dbs, None, division, False)
    services.set_unit_active(dbs, None, dept, False)
    assert not dept.is_active and not division.is_active
    with pytest.raises(DomainError):
        services.set_unit_active(dbs, None, division, True)  # parent first


def test_the_ministry_itself_cannot_be_moved_or_deactivated(dbs, factory):
    other = factory.unit()
    with pytest.raises(DomainError):
        services.move_unit(dbs, None, factory.root, other.id)
    with pytest.raises(DomainError):
        services.set_unit_active(dbs, None, factory.root, False)


def test_tree_counts_people_in_each_subtree(dbs, factory, app):
    dept = factory.unit()
    division = factory.unit(parent=dept, kind="division")
    for _ in range(3):
        factory.person(unit=division)
    factory.person(unit=dept)
    admin = factory.admin()
    roots = unit_tree(dbs, admin)
    (root,) = roots
    dept_node = next(n for n in root.children if n.unit.id == dept.id)
    assert dept_node.headcount == 1 and dept_node.subtree_headcount == 4
    assert dept_node.children[0].subtree_headcount == 3


def test_admin_adds_renames_moves_and_deactivates_units_in_the_browser(client, factory, dbs):
    admin = factory.admin(email="admin@mofa.example")
    consular = factory.unit(name="Cục Lãnh sự", code="CLS")
    protocol = factory.unit(name="Cục Lễ tân Nhà nước", code="LT")
    login(client, admin.email)
    response = client.form("/org/units/new", {
        "code": "cls-hc", "name": "Phòng Hộ chiếu", "name_en": "Passport Division",
        "kind": "division", "parent_id": consular.id, "timezone": "Asia/Ho_Chi_Minh"})
    assert response.status_code == 302
    division = dbs.scalar(select(Unit).where(Unit.code == "CLS-HC"))
    assert division.parent_id == consular.id

    response = client.form(f"/org/units/{division.id}/edit", {
        "code": "CLS-HC", "name": "Phòng Hộ chiếu ngoại giao", "name_en": "", "kind": "division",
        "parent_id": protocol.id, "timezone": "Asia/Ho_Chi_Minh"})
    assert response.status_code == 302
    dbs.expire_all()
    assert division.name == "Phòng Hộ chiếu ngoại giao"
    assert division.path.startswith(protocol.path)

    tree = client.get("/org/units").get_data(as_text=True)
    assert "Phòng Hộ chiếu ngoại giao" in tree and "Cục Lễ tân Nhà nước" in tree

    assert client.form(f"/org/units/{division.id}/deactivate").status_code == 302
    dbs.expire_all()
    assert division.is_active is False
    assert "Phòng Hộ chiếu ngoại giao" in client.get("/org/units").get_data(as_text=True)


def test_moving_a_unit_under_itself_in_the_browser_shows_the_reason(client, factory, dbs):
    admin = factory.admin(email="admin@mofa.example")
    dept = factory.unit(name="Vụ Châu Âu", code="CAU")
    child = factory.unit(parent=dept, code="CAU-1", kind="division")
    login(client, admin.email)
    response = client.form(f"/org/units/{dept.id}/edit", {
        "code": "CAU", "name": "Vụ Châu Âu", "kind": "department", "parent_id": child.id,
        "timezone": "Asia/Ho_Chi_Minh"})
    assert response.status_code == 200
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    dbs.expire_all()
    assert dept.parent_id == factory.root.id


def test_the_tree_page_runs_a_fixed_number_of_queries(client, factory, count_queries):
    admin = factory.admin(email="admin@mofa.example")
    login(client, admin.email)
    client.get("/org/units")
    with count_queries() as few:
        client.get("/org/units")
    for _ in range(15):
        dept = factory.unit()
        factory.person(unit=factory.unit(parent=dept, kind="division"))
    with count_queries() as many:
        client.get("/org/units")
    assert len(many) == len(few)
