"""Who may see what: learners see only themselves, unit heads only their subtree."""
import pytest
from sqlalchemy import select

from lms.org.models import Role, Unit, User
from lms.org.permissions import can_view_person, can_view_unit, visible_people_clause, visible_units_clause
from tests.conftest import login


@pytest.fixture()
def ministry(factory):
    """Two departments with a division each, a unit head of one department, a learner."""
    consular = factory.unit(name="Cục Lãnh sự", code="CLS")
    passports = factory.unit(name="Phòng Hộ chiếu", code="CLS-HC", parent=consular, kind="division")
    it = factory.unit(name="Cục Cơ yếu và CNTT", code="CYCNTT")
    security = factory.unit(name="Phòng An ninh mạng", code="CYCNTT-ANM", parent=it, kind="division")
    return {
        "consular": consular, "passports": passports, "it": it, "security": security,
        "head": factory.unit_head(consular, email="head.consular@mofa.example"),
        "division_head": factory.unit_head(passports, email="head.passports@mofa.example"),
        "learner": factory.person(unit=passports, email="learner@mofa.example"),
        "it_person": factory.person(unit=security, email="it@mofa.example"),
        "mentor": factory.person(unit=it, email="mentor@mofa.example",
                                 roles=((Role.MENTOR.value, it),)),
        "trainer": factory.person(unit=it, email="trainer@mofa.example",
                                  roles=((Role.TRAINER.value, None),)),
        "admin": factory.admin(email="admin@mofa.example"),
    }


def admin_pages(m):
    person, unit = m["learner"], m["consular"]
    gets = ["/org/import", "/org/units/new", f"/org/units/{unit.id}/edit", "/org/people/new",
            f"/org/people/{person.id}/edit", "/admin/audit"]
    posts = [f"/org/units/{unit.id}/deactivate", f"/org/people/{person.id}/deactivate",
             f"/org/people/{person.id}/unlock", f"/org/people/{person.id}/password",
             f"/org/people/{person.id}/roles", "/org/import"]
    return gets, posts


@pytest.mark.parametrize("who", ["learner", "head", "mentor", "trainer"])
def test_only_admins_reach_admin_pages(client, ministry, who):
    login(client, ministry[who].email)
    gets, posts = admin_pages(ministry)
    for url in gets:
        assert client.get(url).status_code == 403, url
    for url in posts:
        assert client.form(url, {"password": "x-long-password-1", "role": "admin"}).status_code == 403, url


@pytest.mark.parametrize("who", ["learner", "mentor", "trainer"])
def test_people_without_a_scope_cannot_browse_the_organisation(client, ministry, who):
    login(client, ministry[who].email)
    for url in ["/org/units", "/org/people", f"/org/units/{ministry['it'].id}",
                f"/org/people/{ministry['it_person'].id}",
                f"/org/people?unit_id={ministry['consular'].id}"]:
        assert client.get(url).status_code == 403, url


def test_unit_head_sees_own_subtree_but_not_another_units_people(client, ministry):
    login(client, ministry["head"].email)
    own = client.get(f"/org/people?unit_id={ministry['consular'].id}")
    assert own.status_code == 200
    assert ministry["learner"].full_name in own.get_data(as_text=True)
    assert client.get(f"/org/units/{ministry['passports'].id}").status_code == 200
    assert client.get(f"/org/people/{ministry['learner'].id}").status_code == 200
    for url in [f"/org/people?unit_id={ministry['it'].id}",
                f"/org/people?unit_id={ministry['security'].id}",
                f"/org/units/{ministry['it'].id}",
                f"/org/people/{ministry['it_person'].id}"]:
        assert client.get(url).status_code == 403, url


def test_unit_heads_list_and_tree_hold_only_their_subtree(client, ministry):
    login(client, ministry["head"].email)
    people = client.get("/org/people?status=all").get_data(as_text=True)
    assert ministry["learner"].full_name in people
    assert ministry["it_person"].full_name not in people
    assert ministry["admin"].full_name not in people
    tree = client.get("/org/units").get_data(as_text=True)
    assert "Phòng Hộ chiếu" in tree and "Cục Cơ yếu và CNTT" not in tree
    search = client.get("/org/people?q=" + ministry["it_person"].full_name.split()[-1])
    assert ministry["it_person"].full_name not in search.get_data(as_text=True)


def test_a_division_head_does_not_see_the_department_above(client, ministry):
    login(client, ministry["division_head"].email)
    assert client.get(f"/org/units/{ministry['consular'].id}").status_code == 403
    assert client.get(f"/org/people?unit_id={ministry['consular'].id}").status_code == 403
    assert client.get(f"/org/people?unit_id={ministry['passports'].id}").status_code == 200


def test_unknown_ids_are_404_not_500(client, ministry):
    login(client, ministry["admin"].email)
    assert client.get("/org/units/999999").status_code == 404
    assert client.get("/org/people/999999").status_code == 404
    assert client.get("/org/import/999999").status_code == 404
    assert client.get("/org/people?unit_id=999999").status_code == 404
    assert client.get("/org/people?page=abc").status_code == 200


def test_each_predicate_agrees_with_its_sql_filter(dbs, ministry):
    """The object check and the list filter are one rule: they must never disagree."""
    people = dbs.scalars(select(User)).all()
    units = dbs.scalars(select(Unit)).all()
    for who in ("admin", "head", "division_head", "learner", "mentor", "trainer"):
        viewer = ministry[who]
        listed = set(dbs.scalars(select(User.id).where(visible_people_clause(viewer))))
        assert listed == {p.id for p in people if can_view_person(viewer, p)}, who
        listed_units = set(dbs.scalars(select(Unit.id).where(visible_units_clause(viewer))))
        assert listed_units == {u.id for u in units if can_view_unit(viewer, u)}, who
