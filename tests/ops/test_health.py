"""A load balancer asks /healthz whether the process is up and /readyz whether it can serve:
the database answers, its schema is the code's, and the scheduler's heartbeat is fresh."""
from __future__ import annotations

from datetime import timedelta

import pytest
from alembic.script import ScriptDirectory

from lms import create_app
from lms.cli import alembic_config, upgrade_database
from lms.db import db, utcnow
from lms.notify.jobs import run_job
from lms.ops.health import probe_engine
from lms.scheduler import all_jobs
from tests.conftest import app_settings, fresh_database
from tests.ops.support import committed_app, forget_heartbeats


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    with committed_app(str(tmp_path_factory.mktemp("opshealth")), "opshealth") as ready:
        yield ready


def assert_not_cached_and_cookieless(response) -> None:
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_healthz_says_the_process_is_up_without_the_database(client, app, monkeypatch):
    def no_database(*_args):
        raise AssertionError("/healthz must not touch the database")

    monkeypatch.setattr(type(db), "session", property(no_database))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert_not_cached_and_cookieless(response)


def heartbeat(app, at=None):
    return run_job(app, all_jobs()["ops.heartbeat"], at)


def last_beat(app, moment):
    """The scheduler's last heartbeat started and finished at ``moment`` (then it died)."""
    from lms.notify.jobs import every_minute
    from lms.notify.models import JobRun

    with app.app_context():
        db.session.add(JobRun(job="ops.heartbeat", period=every_minute(moment), status="done",
                              started_at=moment, finished_at=moment, result="alive"))
        db.session.commit()


def test_readyz_is_green_when_database_schema_and_scheduler_are_fine(committed):
    forget_heartbeats(committed.app)
    assert heartbeat(committed.app).result == "alive"
    response = committed.app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"status": "ok", "database": "ok", "migrations": "ok",
                                   "scheduler": "ok"}
    assert_not_cached_and_cookieless(response)


def test_readyz_is_red_without_any_heartbeat(committed):
    forget_heartbeats(committed.app)
    response = committed.app.test_client().get("/readyz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["status"] == "fail" and body["database"] == "ok" and body["migrations"] == "ok"
    assert body["scheduler"].startswith("missing")
    assert_not_cached_and_cookieless(response)


def test_readyz_is_red_when_the_heartbeat_is_stale(committed):
    forget_heartbeats(committed.app)
    limit = committed.app.config["SCHEDULER_STALE_SECONDS"]
    last_beat(committed.app, utcnow() - timedelta(seconds=limit + 60))
    response = committed.app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["scheduler"].startswith("stale")
    heartbeat(committed.app)     # the scheduler is back: ready again
    assert committed.app.test_client().get("/readyz").status_code == 200


def test_the_heartbeat_forgets_its_old_runs(committed):
    forget_heartbeats(committed.app)
    heartbeat(committed.app, utcnow() - timedelta(days=3))
    heartbeat(committed.app)
    from sqlalchemy import func, select

    from lms.notify.models import JobRun

    with committed.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(JobRun)
                                 .where(JobRun.job == "ops.heartbeat")) == 1


@pytest.fixture(scope="module")
def behind(tmp_path_factory):
    """An app whose database is one migration behind the code."""
    with fresh_database("opsbehind") as url:
        app = create_app(app_settings(url, str(tmp_path_factory.mktemp("behind"))))
        with app.app_context():
            scripts = ScriptDirectory.from_config(alembic_config())
            previous = scripts.get_revision(scripts.get_current_head()).down_revision
            upgrade_database(previous)
        yield app, previous, scripts.get_current_head()
        with app.app_context():
            db.engine.dispose()


def test_readyz_is_red_when_migrations_are_behind(behind):
    app, previous, head = behind
    response = app.test_client().get("/readyz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["database"] == "ok"
    assert body["migrations"].startswith("not current")
    assert previous in body["migrations"] and head in body["migrations"]


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://postgres@127.0.0.1:1/lms_ops_nowhere",
    "sqlite:////nonexistent-lms-ops-folder/lms.db",
], ids=["postgresql-port-closed", "sqlite-folder-missing"])
def test_readyz_is_red_and_says_why_when_the_database_is_down(url, tmp_path):
    app = create_app(app_settings(url, str(tmp_path)))
    response = app.test_client().get("/readyz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["database"].startswith("down: ")
    assert body["migrations"].startswith("unknown") and body["scheduler"].startswith("unknown")
    assert_not_cached_and_cookieless(response)
    assert app.test_client().get("/healthz").status_code == 200   # the process itself is up
    probe_engine(app).dispose()
