"""The application shell: headers, errors, limits, configuration, schema."""
import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lms.config import ConfigError, load_config
from lms.models import metadata
from tests.conftest import login


def test_every_response_carries_security_headers(client):
    for url in ["/login", "/nope", "/static/app.css"]:
        with client.get(url) as response:
            headers = response.headers
            csp = headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert "frame-ancestors 'none'" in csp
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert headers["X-Frame-Options"] == "DENY"
            assert headers["Referrer-Policy"] == "same-origin"


def test_pages_have_no_inline_scripts_or_styles(client, factory):
    factory.admin(email="admin@mofa.example")
    login(client, "admin@mofa.example")
    for url in ["/", "/org/units", "/org/people", "/org/import", "/account", "/admin/audit"]:
        html = client.get(url).get_data(as_text=True)
        assert "<script" not in html and " style=" not in html and "<style" not in html, url
        assert "http://" not in html.replace("http://127.0.0.1", "") or url == "/admin/audit"


def test_error_pages_in_both_languages(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert "Không tìm thấy trang" in page.get_data(as_text=True)
    client.refresh_csrf("/login")
    client.form("/language/en", {"next": "/login"})
    page = client.get("/no-such-page")
    assert "Page not found" in page.get_data(as_text=True)
    assert '<html lang="en">' in page.get_data(as_text=True)


def test_unexpected_errors_show_a_friendly_500_page(app, client, monkeypatch):
    def boom():
        raise RuntimeError("boom")

    monkeypatch.setitem(app.view_functions, "auth.login", boom)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    response = client.get("/login")
    assert response.status_code == 500
    assert "boom" not in response.get_data(as_text=True)


def test_oversized_requests_are_refused_with_413(client, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post("/login", data={"login": "x" * (limit + 10)})
    assert response.status_code == 413


def test_secret_key_is_generated_once_and_kept(tmp_path):
    env = {"LMS_INSTANCE_PATH": str(tmp_path)}
    first = load_config(env)["SECRET_KEY"]
    second = load_config(env)["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_a_short_secret_key_is_refused(tmp_path):
    with pytest.raises(ConfigError):
        load_config({"LMS_INSTANCE_PATH": str(tmp_path), "LMS_SECRET_KEY": "short"})


def test_settings_come_from_lms_variables(tmp_path):
    config = load_config({"LMS_INSTANCE_PATH": str(tmp_path), "LMS_HTTPS": "1",
                          "LMS_BASE_URL": "https://hocvu.mofa.example/", "LMS_SESSION_IDLE_MINUTES": "30"})
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["BASE_URL"] == "https://hocvu.mofa.example"
    assert config["SESSION_IDLE_MINUTES"] == 30
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'lms.db'}"
    with pytest.raises(ConfigError):
        load_config({"LMS_INSTANCE_PATH": str(tmp_path), "LMS_PAGE_SIZE": "many"})


def test_migrations_create_exactly_the_models_schema(app, connection):
    """Alembic is the only way the schema is made; it must match the models."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    assert compare_metadata(context, metadata) == []


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(app, connection):
    if connection.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == app.config["SQLITE_BUSY_TIMEOUT_MS"]
    assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_no_create_all_in_application_code():
    root = os.path.join(os.path.dirname(__file__), "..", "lms")
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as fh:
                    assert "create_all(" not in fh.read(), name


def test_static_assets_are_served_locally(client):
    with client.get("/static/app.css") as response:
        assert response.status_code == 200 and response.mimetype == "text/css"
    with client.get("/static/logo.svg") as response:
        assert response.status_code == 200


def test_absolute_links_use_the_configured_base_url_not_the_host_header(app, monkeypatch):
    from lms.urls import external_url

    monkeypatch.setitem(app.config, "BASE_URL", "https://hocvu.mofa.example")
    with app.test_request_context("/", headers={"Host": "evil.example"}):
        assert external_url("auth.login") == "https://hocvu.mofa.example/login"
        assert external_url("org.person_detail", person_id=7) == \
            "https://hocvu.mofa.example/org/people/7"


def test_external_urls_come_from_the_base_url_outside_requests_too(app):
    from flask import has_request_context

    from lms.urls import external_url

    with app.app_context():
        assert not has_request_context()
        outside = external_url("certificates.verify", code="abc")
    with app.test_request_context("/", base_url="http://forged.example"):
        inside = external_url("certificates.verify", code="abc")
    assert outside == inside == f"{app.config['BASE_URL']}/verify/abc"
