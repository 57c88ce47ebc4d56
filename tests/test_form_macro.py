"""The shared form macro writes only attributes that have a value."""
from tests.conftest import login


def test_forms_carry_no_attribute_whose_value_is_none(client, factory):
    assert '="None"' not in client.get("/login").get_data(as_text=True)
    admin = factory.admin()
    login(client, admin.email)
    for url in ("/org/people/new", "/org/units/new", "/assignments/new"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert '="None"' not in page.get_data(as_text=True), url
