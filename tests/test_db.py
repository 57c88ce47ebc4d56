"""The database layer under concurrent use."""
import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from lms import create_app
from lms.cli import upgrade_database
from lms.db import db
from lms.extensions import limiter
from lms.org import services
from lms.org.models import User
from tests.conftest import CSRF_RE, app_settings, fresh_database


@pytest.fixture()
def committed_app(tmp_path):
    """An app on its own database whose requests really commit (no test transaction)."""
    with fresh_database("concurrency") as url:
        settings = app_settings(url, str(tmp_path))
        settings["LOGIN_MAX_FAILURES"] = 10_000
        app = create_app(settings)
        with app.app_context():
            upgrade_database()
            root = services.create_unit(db.session, None, services.UnitData(
                code="BNG", name="Bộ Ngoại giao", kind="ministry"))
            for n in range(8):
                services.create_person(db.session, None, services.PersonData(
                    employee_code=f"C{n}", full_name=f"Cán Bộ {n}", email=f"c{n}@mofa.example",
                    unit_id=root.id), audit=False)
            db.session.commit()
        yield app
        with app.app_context():
            db.engine.dispose()


def test_concurrent_writers_never_see_database_is_locked(committed_app):
    """Eight browsers fail to sign in at once, again and again: every attempt is counted."""
    attempts = 15
    limiter.reset()

    def browser(n: int) -> list[int]:
        client = committed_app.test_client()
        token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
        return [client.post("/login", data={"csrf_token": token, "login": f"c{n}@mofa.example",
                                            "password": "wrong-" + secrets.token_hex(4)}).status_code
                for _ in range(attempts)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [s for result in pool.map(browser, range(8)) for s in result]
    assert statuses == [401] * (8 * attempts)
    with committed_app.app_context():
        assert db.session.scalar(select(func.sum(User.failed_logins))) == 8 * attempts
