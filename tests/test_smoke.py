from tests.conftest import login


def test_admin_signs_in_and_sees_the_tree(client, factory, dbs):
    admin = factory.admin(email="admin@mofa.example")
    factory.unit(name="Cục Lãnh sự")
    dbs.commit()
    response = login(client, "admin@mofa.example")
    assert response.status_code == 302
    page = client.get("/org/units")
    assert page.status_code == 200
    assert "Cục Lãnh sự" in page.get_data(as_text=True)
    assert admin.id
