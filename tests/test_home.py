"""What each person sees first."""
from lms.org.models import Role
from tests.conftest import login


def test_visitors_see_the_movement_page_with_a_way_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302 and response.location.endswith("/movement")
    page = client.get("/movement")
    assert page.status_code == 200 and 'href="/login' in page.get_data(as_text=True)


def test_unit_head_home_shows_their_subtree_figures(client, factory):
    dept = factory.unit(name="Cục Lãnh sự")
    division = factory.unit(name="Phòng Hộ chiếu", parent=dept, kind="division")
    head = factory.unit_head(dept, email="head@mofa.example")
    for _ in range(3):
        factory.person(unit=division)
    login(client, head.email)
    page = client.get("/").get_data(as_text=True)
    assert "Cục Lãnh sự" in page
    assert '<span class="stat__value">4</span>' in page  # head + 3 below
    assert '<span class="stat__value">1</span>' in page  # one sub-unit, one person directly
    assert f"/org/people?unit_id={dept.id}" in page
    assert "/org/import" not in page and "/admin/audit" not in page


def test_mentor_home_names_their_unit(client, factory):
    unit = factory.unit(name="Phòng Hạ tầng và Ứng dụng CNTT")
    mentor = factory.person(unit=unit, email="mentor@mofa.example",
                            roles=((Role.MENTOR.value, unit),))
    factory.person(unit=unit)
    login(client, mentor.email)
    page = client.get("/").get_data(as_text=True)
    assert "Phòng Hạ tầng và Ứng dụng CNTT" in page
    assert "/org/people" not in page  # mentors do not browse the organisation


def test_learner_home_has_no_admin_or_unit_sections(client, factory):
    learner = factory.person(email="learner@mofa.example", name="Nguyễn Thị Hồng Nhung")
    factory.admin()
    login(client, learner.email)
    page = client.get("/").get_data(as_text=True)
    assert "Nguyễn Thị Hồng Nhung" in page
    assert "stat__value" not in page and "/org/" not in page


def test_admin_home_shows_the_ministry_and_recent_actions(client, factory):
    admin = factory.admin(email="admin@mofa.example")
    factory.unit(name="Đại sứ quán Việt Nam tại Pháp", kind="mission", timezone="Europe/Paris")
    factory.person(password=None)
    login(client, admin.email)
    page = client.get("/").get_data(as_text=True)
    assert "/org/import" in page and "/admin/audit" in page
    assert "unit.created" in page
