"""An admin manages people and roles; everyone finds colleagues by name."""
import pytest
from sqlalchemy import select

from lms.errors import DomainError
from lms.org import services
from lms.org.models import Role, User
from lms.org.queries import PeopleFilter, people_page
from tests.conftest import login


def names(page):
    return sorted(p.full_name for p in page.items)


def test_search_ignores_accents_and_case(dbs, factory):
    admin = factory.admin()
    factory.person(name="Nguyễn Thị Hồng Nhung")
    factory.person(name="Đặng Quốc Việt")
    factory.person(name="Bùi Thanh Sơn")
    for query, expected in [("nguyen", ["Nguyễn Thị Hồng Nhung"]),
                            ("NGUYỄN hong", ["Nguyễn Thị Hồng Nhung"]),
                            ("dang viet", ["Đặng Quốc Việt"]),
                            ("son", ["Bùi Thanh Sơn"]),
                            ("bui thanh son", ["Bùi Thanh Sơn"])]:
        assert names(people_page(dbs, admin, PeopleFilter(q=query), 1, 50)) == expected, query


def test_search_treats_wildcards_literally(dbs, factory):
    admin = factory.admin()
    factory.person(name="Lê Văn An")
    assert people_page(dbs, admin, PeopleFilter(q="%"), 1, 50).total == 0
    assert people_page(dbs, admin, PeopleFilter(q="_"), 1, 50).total == 0


def test_decomposed_input_finds_composed_names(dbs, factory):
    import unicodedata

    admin = factory.admin()
    factory.person(name="Hà Nội Nguyễn")
    query = unicodedata.normalize("NFD", "Hà Nội")
    assert people_page(dbs, admin, PeopleFilter(q=query), 1, 50).total == 1


def test_filter_by_unit_with_or_without_sub_units(dbs, factory):
    admin = factory.admin()
    dept = factory.unit()
    division = factory.unit(parent=dept, kind="division")
    factory.person(name="Trần Văn Cục", unit=dept)
    factory.person(name="Lê Thị Phòng", unit=division)
    assert names(people_page(dbs, admin, PeopleFilter(unit_id=dept.id), 1, 50)) == \
        ["Lê Thị Phòng", "Trần Văn Cục"]
    assert names(people_page(dbs, admin, PeopleFilter(unit_id=dept.id, include_sub_units=False),
                             1, 50)) == ["Trần Văn Cục"]


def test_filter_by_role_and_status(dbs, factory):
    admin = factory.admin(name="Quản Trị Viên")
    mentor = factory.person(name="Người Hỗ Trợ", roles=((Role.MENTOR.value, None),))
    leaver = factory.person(name="Người Nghỉ")
    services.set_person_active(dbs, None, leaver, False)
    assert names(people_page(dbs, admin, PeopleFilter(role="mentor"), 1, 50)) == [mentor.full_name]
    assert names(people_page(dbs, admin, PeopleFilter(status="inactive"), 1, 50)) == ["Người Nghỉ"]
    assert people_page(dbs, admin, PeopleFilter(status="all"), 1, 50).total == 3


def test_people_list_paginates(client, factory, app):
    admin = factory.admin(email="admin@mofa.example")
    for i in range(app.config["PAGE_SIZE"] + 5):
        factory.person(name=f"Phạm Văn {i:03d}")
    login(client, admin.email)
    first = client.get("/org/people").get_data(as_text=True)
    second = client.get("/org/people?page=2").get_data(as_text=True)
    assert "Phạm Văn 000" in first and "Phạm Văn 054" not in first
    assert "Phạm Văn 054" in second
    assert client.get("/org/people?page=999").status_code == 200


def test_people_list_runs_a_fixed_number_of_queries(client, factory, count_queries):
    admin = factory.admin(email="admin@mofa.example")
    login(client, admin.email)
    factory.person(roles=((Role.MENTOR.value, None),))
    client.get("/org/people")
    with count_queries() as few:
        client.get("/org/people")
    for _ in range(30):
        factory.person(unit=factory.unit(), roles=((Role.MENTOR.value, None),))
    with count_queries() as many:
        client.get("/org/people")
    assert len(many) == len(few)


def test_admin_adds_and_edits_a_person(client, factory, dbs):
    admin = factory.admin(email="admin@mofa.example")
    unit = factory.unit(name="Vụ Thông tin Báo chí")
    login(client, admin.email)
    response = client.form("/org/people/new", {
        "employee_code": "bng09001", "full_name": "  Võ   Thị Thu Trang ", "email": "Trang.VTT@mofa.example",
        "unit_id": unit.id, "position": "Chuyên viên", "locale": "vi", "timezone": "Asia/Ho_Chi_Minh"})
    assert response.status_code == 302
    person = dbs.scalar(select(User).where(User.employee_code == "BNG09001"))
    assert (person.full_name, person.email) == ("Võ Thị Thu Trang", "trang.vtt@mofa.example")
    assert person.password_hash is None
    response = client.form(f"/org/people/{person.id}/edit", {
        "employee_code": "BNG09001", "full_name": "Võ Thị Thu Trang", "email": "trang.vtt@mofa.example",
        "unit_id": unit.id, "position": "Chuyên viên chính", "locale": "en", "timezone": "Europe/Paris"})
    assert response.status_code == 302
    dbs.refresh(person)
    assert (person.position, person.timezone) == ("Chuyên viên chính", "Europe/Paris")


def test_duplicate_email_is_refused_on_the_form(client, factory, dbs):
    admin = factory.admin(email="admin@mofa.example")
    factory.person(email="taken@mofa.example")
    login(client, admin.email)
    response = client.form("/org/people/new", {
        "employee_code": "X1", "full_name": "Lý Văn Tâm", "email": "TAKEN@mofa.example",
        "unit_id": factory.root.id, "locale": "vi", "timezone": "Asia/Ho_Chi_Minh"})
    assert response.status_code == 200
    assert "taken@mofa.example" in response.get_data(as_text=True)


def test_people_are_deactivated_never_deleted(client, factory, dbs):
    admin = factory.admin(email="admin@mofa.example")
    person = factory.person()
    login(client, admin.email)
    client.form(f"/org/people/{person.id}/deactivate")
    dbs.refresh(person)
    assert person.is_active is False
    assert client.get(f"/org/people/{person.id}").status_code == 200
    client.form(f"/org/people/{person.id}/reactivate")
    dbs.refresh(person)
    assert person.is_active is True


def test_admins_cannot_deactivate_themselves(dbs, factory):
    admin = factory.admin()
    with pytest.raises(DomainError):
        services.set_person_active(dbs, admin, admin, False)


def test_admin_grants_and_revokes_roles(client, factory, dbs):
    admin = factory.admin(email="admin@mofa.example")
    dept = factory.unit(name="Cục Lãnh sự")
    person = factory.person(unit=dept)
    login(client, admin.email)
    client.form(f"/org/people/{person.id}/roles", {"role": "unit_head", "unit_id": dept.id})
    client.form(f"/org/people/{person.id}/roles", {"role": "trainer", "unit_id": dept.id})
    dbs.refresh(person)
    roles = sorted((g.role, g.unit_id) for g in person.grants)
    assert roles == [("trainer", None), ("unit_head", dept.id)]  # trainers are ministry-wide
    grant = next(g for g in person.grants if g.role == "trainer")
    client.form(f"/org/roles/{grant.id}/revoke")
    dbs.refresh(person)
    assert [g.role for g in person.grants] == ["unit_head"]


def test_unit_head_role_needs_a_unit(dbs, factory):
    person = factory.person()
    with pytest.raises(DomainError):
        services.grant_role(dbs, None, person, Role.UNIT_HEAD.value, None)
    services.grant_role(dbs, None, person, Role.MENTOR.value, factory.root.id)
    with pytest.raises(DomainError):
        services.grant_role(dbs, None, person, Role.MENTOR.value, factory.root.id)


def test_the_last_admin_keeps_the_role(dbs, factory):
    admin = factory.admin()
    other = factory.person()
    grant = admin.grants[0]
    with pytest.raises(DomainError):
        services.revoke_role(dbs, other, grant)
    with pytest.raises(DomainError):
        services.revoke_role(dbs, admin, grant)


def test_admin_actions_are_audited(client, factory, dbs):
    from sqlalchemy import select

    from lms.audit.models import AuditEvent

    admin = factory.admin(email="admin@mofa.example")
    person = factory.person()
    login(client, admin.email)
    client.form(f"/org/people/{person.id}/roles", {"role": "mentor", "unit_id": ""})
    client.form(f"/org/people/{person.id}/deactivate")
    events = dbs.scalars(select(AuditEvent).where(AuditEvent.actor_id == admin.id)
                         .order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["role.granted", "person.deactivated"]
    assert all(e.target_id == person.id for e in events)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "person.deactivated" in page and person.full_name in page


def test_people_are_listed_by_given_name_as_in_vietnamese_rosters(dbs, factory):
    admin = factory.admin(name="Trần Minh Quân")
    for name in ["Nguyễn Thị Hồng Nhung", "Bùi Thanh Sơn", "Đặng Quốc Việt", "Lê Văn An", "Đỗ Thị Đào"]:
        factory.person(name=name)
    order = [p.full_name for p in people_page(dbs, admin, PeopleFilter(), 1, 50).items]
    assert order == ["Lê Văn An", "Đỗ Thị Đào", "Nguyễn Thị Hồng Nhung", "Trần Minh Quân",
                     "Bùi Thanh Sơn", "Đặng Quốc Việt"]
