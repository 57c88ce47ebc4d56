"""Operations test support: an app on its own committed database (readiness reads with its own
connection, so nothing here may live in a test's rolled-back transaction), and a switch that
makes that database unreachable and reachable again."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from flask import Flask
from sqlalchemy import delete, event, text

from lms import create_app
from lms.auth.passwords import hash_password
from lms.cli import upgrade_database
from lms.db import db
from lms.notify.models import JobRun
from lms.ops.health import HEARTBEAT_JOB, probe_engine
from lms.org import services as org
from tests.conftest import PASSWORD, app_settings, fresh_database


class Committed:
    def __init__(self, app: Flask, email: str, api_token: str) -> None:
        self.app = app
        self.email = email
        self.api_token = api_token


@contextmanager
def committed_app(folder: str, name_hint: str = "ops") -> Iterator[Committed]:
    """An app on a fresh database at the latest revision, with one person and one API
    client, all committed."""
    from lms.api.clients import create_client

    with fresh_database(name_hint) as url:
        app = create_app(app_settings(url, folder))
        with app.app_context(), app.test_request_context():
            upgrade_database()
            dbs = db.session
            root = org.create_unit(dbs, None, org.UnitData(code="BNG", name="Bộ Ngoại giao",
                                                           kind="ministry"))
            org.create_person(dbs, None, org.PersonData(
                employee_code="OPS1", full_name="Trần Văn Vận Hành", email="ops@mofa.example",
                unit_id=root.id), password_hash=hash_password(PASSWORD), must_change_password=False,
                audit=False)
            _client, token = create_client(dbs, None, "Hệ thống giám sát",
                                           ["certificates:read"])
            dbs.commit()
        try:
            yield Committed(app, "ops@mofa.example", token)
        finally:
            with app.app_context():
                db.engine.dispose()
                probe_engine(app).dispose()


def forget_heartbeats(app: Flask) -> None:
    with app.app_context():
        db.session.execute(delete(JobRun).where(JobRun.job == HEARTBEAT_JOB))
        db.session.commit()


@contextmanager
def database_unreachable(app: Flask) -> Iterator[None]:
    """While inside: every existing connection of the app is cut (PostgreSQL terminates its
    backends) and every new one is refused, as during a restart of the database server."""
    engines = [app.extensions["lms.db"].kw["bind"], probe_engine(app)]
    dbapi: Any = engines[0].dialect.dbapi

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise dbapi.OperationalError(
            'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
            "Connection refused")

    for engine in engines:
        event.listen(engine, "do_connect", refuse)
    if engines[0].dialect.name == "postgresql":
        _terminate_backends(engines[0].url)
    else:
        engines[0].dispose()   # SQLite has no server to cut the connections: drop them
    try:
        yield
    finally:
        for engine in engines:
            event.remove(engine, "do_connect", refuse)


def _terminate_backends(url: Any) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    admin = create_engine(url.set(database="postgres"), poolclass=NullPool,
                          isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :name AND pid <> pg_backend_pid()"),
                         {"name": url.database})
    finally:
        admin.dispose()
