"""Readiness checks for a load balancer: the database answers, its schema is the code's,
and the scheduler's heartbeat is fresh. A check never raises: it says what is wrong.

The checks use their own connection (no pool, a short connect and statement timeout), so a
slow or exhausted application pool cannot make /readyz hang.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from flask import Flask, current_app
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import NullPool

from lms.db import utcnow

PROBE_TIMEOUT_SECONDS = 3
HEARTBEAT_JOB = "ops.heartbeat"
OK = "ok"


def short_reason(exc: BaseException) -> str:
    """The first line of the database's own message, without SQLAlchemy's decorations."""
    orig = getattr(exc, "orig", None) or exc
    message = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return message[:160]


def probe_engine(app: Flask) -> Engine:
    """A pool-less engine for the checks, made once per app."""
    engine = app.extensions.get("lms.ops.probe")
    if engine is None:
        url = make_url(app.config["DATABASE_URL"])
        if url.get_backend_name() == "postgresql":
            engine = create_engine(url, poolclass=NullPool, connect_args={
                "connect_timeout": PROBE_TIMEOUT_SECONDS,
                "options": f"-c statement_timeout={PROBE_TIMEOUT_SECONDS * 1000}"})
        elif url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            # mode=rw: a missing database file is an error, not a new empty database.
            engine = create_engine(
                url.set(database=f"file:{quote(url.database)}", query={"mode": "rw", "uri": "true"}),
                poolclass=NullPool, connect_args={"timeout": PROBE_TIMEOUT_SECONDS})
        else:
            engine = app.extensions["lms.db"].kw["bind"]
        app.extensions["lms.ops.probe"] = engine
    return engine


def script_heads(app: Flask) -> tuple[str, ...]:
    """The migrations' head revision(s) in this code (read once per process)."""
    heads = app.extensions.get("lms.ops.script_heads")
    if heads is None:
        from alembic.script import ScriptDirectory

        from lms.cli import alembic_config

        heads = tuple(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))
        app.extensions["lms.ops.script_heads"] = heads
    return heads


def check_migrations(conn: Connection, app: Flask) -> str:
    from alembic.runtime.migration import MigrationContext

    current = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    expected = script_heads(app)
    if current == expected:
        return OK
    return (f"not current: database at {','.join(current) or 'none'}, "
            f"code at {','.join(expected)}")


def newest_heartbeat(conn: Connection) -> datetime | None:
    from lms.notify.models import JobRun

    started, finished = conn.execute(
        select(func.max(JobRun.started_at), func.max(JobRun.finished_at))
        .where(JobRun.job == HEARTBEAT_JOB)).one()
    moments = [m for m in (started, finished) if m is not None]
    return max(moments) if moments else None


def check_scheduler(conn: Connection, app: Flask, now: datetime) -> str:
    newest = newest_heartbeat(conn)
    if newest is None:
        return "missing: no heartbeat yet (is `lms scheduler` running?)"
    age = (now - newest).total_seconds()
    limit = app.config["SCHEDULER_STALE_SECONDS"]
    if age > limit:
        return f"stale: last heartbeat {int(age)} s ago (limit {limit} s)"
    return OK


def readiness(app: Flask | None = None) -> dict[str, Any]:
    """Every check's result ("ok" or what is wrong) and ``status``: "ok" or "fail"."""
    app = app or current_app._get_current_object()
    checks: dict[str, str] = {}
    try:
        with probe_engine(app).connect() as conn:
            conn.execute(text("SELECT 1")).scalar()
            checks["database"] = OK
            for name, check in (("migrations", lambda: check_migrations(conn, app)),
                                ("scheduler", lambda: check_scheduler(conn, app, utcnow()))):
                try:
                    checks[name] = check()
                except Exception as exc:   # e.g. no job_runs table yet: say so, do not raise
                    conn.rollback()
                    checks[name] = f"error: {short_reason(exc)}"
            conn.rollback()
    except Exception as exc:
        checks["database"] = f"down: {short_reason(exc)}"
    for name in ("migrations", "scheduler"):
        checks.setdefault(name, "unknown: the database is down")
    status = OK if all(value == OK for value in checks.values()) else "fail"
    return {"status": status, **checks}
