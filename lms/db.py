"""Database: the declarative base, the engine and one session per app context."""
from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

from flask import Flask, current_app, g, request
from sqlalchemy import ColumnElement, DateTime, MetaData, create_engine, event, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite keeps no zone, so values come back naive; this type makes both databases
    hand out aware UTC datetimes and refuses naive ones on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# SQLite: a transaction that reads and then writes fails at once with "database is locked"
# when another writer committed in between (the busy timeout does not apply to that case).
# Work that means to write therefore begins with BEGIN IMMEDIATE and waits its turn.
sqlite_write_intent: ContextVar[bool] = ContextVar("lms_sqlite_write_intent", default=False)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso_utc(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z (a naive value is taken as UTC), as the API and webhooks
    write every moment; None stays None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def make_engine(url: str, busy_timeout_ms: int = 15000) -> Engine:
    """An engine with the settings each database needs (WAL and busy timeout on SQLite)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so
            # savepoints and "all or nothing" behave as on PostgreSQL.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if sqlite_write_intent.get() else "BEGIN")

        return engine
    # A database host that does not answer fails a request in seconds (a 503 page), not
    # after the operating system's TCP timeout.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         connect_args={"connect_timeout": 5})


def writes(view: Any) -> Any:
    """Mark a GET view that writes (e.g. records where a learner is), so that on SQLite its
    transaction begins IMMEDIATE like a POST's."""
    view.writes = True
    return view


def claim_due(dbs: Session, model: Any, due: ColumnElement[bool], order_by: tuple,
              limit: int, **values: Any) -> list[int]:
    """Take up to ``limit`` rows of ``model`` matching ``due`` for this process: one
    UPDATE … RETURNING that sets ``values``, committed at once. Another process running the
    same statement gets other rows, or none (PostgreSQL skips rows another claim has locked;
    SQLite runs one writer at a time)."""
    pick = select(model.id.label("id")).where(due).order_by(*order_by).limit(limit)
    if dbs.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True, of=model)
    # Materialised once: as a plain subquery, PostgreSQL may scan the LIMIT again while the
    # UPDATE runs (rows it already changed no longer match, so the next ones come) and hand
    # out every due row at once.
    picked = pick.cte("picked").prefix_with("MATERIALIZED", dialect="postgresql")
    ids = list(dbs.scalars(
        update(model).where(model.id.in_(select(picked.c.id)), due).values(**values)
        .returning(model.id).execution_options(synchronize_session=False)))
    dbs.commit()
    return sorted(ids)


class Database:
    """Hands out one session per application context, from the current app's engine."""

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"], app.config["SQLITE_BUSY_TIMEOUT_MS"])
        app.extensions["lms.db"] = sessionmaker(bind=engine, expire_on_commit=False)
        app.teardown_appcontext(self._close_session)

        @app.before_request
        def _declare_write_intent() -> None:
            view = app.view_functions.get(request.endpoint or "")
            if request.method not in ("GET", "HEAD", "OPTIONS") or getattr(view, "writes", False):
                g._lms_write_token = sqlite_write_intent.set(True)

        @app.teardown_request
        def _reset_write_intent(_exc: BaseException | None) -> None:
            token = g.pop("_lms_write_token", None)
            if token is not None:  # worker threads are reused: never leak into the next request
                sqlite_write_intent.reset(token)

    @property
    def engine(self) -> Engine:
        return current_app.extensions["lms.db"].kw["bind"]

    @property
    def session(self) -> Session:
        if "_lms_db_session" not in g:
            g._lms_db_session = current_app.extensions["lms.db"]()
        return g._lms_db_session

    @staticmethod
    def _close_session(_exc: BaseException | None) -> None:
        # Closing rolls back whatever was not committed: nothing half-written survives.
        session = g.pop("_lms_db_session", None)
        if session is not None:
            session.close()


db = Database()
