#!/usr/bin/env python
"""Unit reports on 50,000 people, 400 units and 1,000,000 enrolments: the dashboards against
the database's own floor for the same figures, on SQLite and PostgreSQL, in the same run;
then an XLSX export of 50,000 rows (time and peak memory).

    python bench/run_reports.py            # both databases, defaults below
    python bench/run_reports.py --databases sqlite --regenerate

For each database (SQLite file, PostgreSQL database; their names must contain "bench"):

1. builds the ministry with ``bench/generate_ministry.py`` unless a database from an
   earlier run is there with the same parameters and counts (``--regenerate`` forces it);
2. for the root (ministry) dashboard, seen by an admin, and the largest department's,
   seen by its head, measures in interleaved rounds (median of ``--rounds`` after a
   warm-up):
   (a) floor: the one GROUP BY the figures come from — ``figures.per_unit_statement`` for
       the unit's subtree with the same moment and week ends, compiled to SQL with literal
       values and run through the raw DBAPI cursor;
   (b) ``reports.services.unit_report(dbs, unit)`` (every statement of the figures plus the
       roll-up in Python);
   (c) GET /reports/units/<id> through the Flask test client (the whole request: sign-in
       lookup, figures, filter choices, charts, template), with its SQL statements counted;
   and page / floor;
3. where the time goes: the floor's variants (count(*) instead of count(id), the unit ids
   as a list, without the weekly aggregates, without the inactive-people filter, the weekly
   line by buckets; on PostgreSQL JIT off, forced and no parallel workers), the page and
   the service in rounds with and without the app's ``SET LOCAL jit = off``, the query
   plans (EXPLAIN QUERY PLAN / EXPLAIN ANALYZE, in --out), each statement's time;
4. the XLSX export in a separate process: 50,000 people with their figures streamed from
   one query into ``reports.exports.write_xlsx`` (and the people export URL when it exists),
   time, peak RSS growth and tracemalloc peak; the file is read back with openpyxl.

Writes its section of BENCHMARKS.md between markers; raw figures to --out/reports.json.
"""
from __future__ import annotations

import argparse
import contextvars
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402
from bench.generate_ministry import GENERATOR_VERSION, Spec, generate, summary_path  # noqa: E402

MARK_START = "<!-- bench/run_reports.py: results start -->"
MARK_END = "<!-- bench/run_reports.py: results end -->"
DEFAULT_SQLITE = f"sqlite:///{_common.DEFAULT_OUT}/lms_bench_reports.db"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/lms_bench_reports"
USER_AGENT = "lms-bench-reports"


def log(message: str) -> None:
    print(message, flush=True)


# ------------------------------------------------------------------ data


def counts_in(url: str) -> dict[str, int] | None:
    from sqlalchemy import create_engine, text

    engine = create_engine(_common.sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                    for t in ("units", "users", "courses", "enrolments")}
    except Exception:  # noqa: BLE001 (no database, no tables: generate)
        return None
    finally:
        engine.dispose()


def ensure_data(url: str, spec: Spec, out: Path, regenerate: bool) -> dict[str, Any]:
    path = summary_path(out, url)
    if not regenerate and path.exists():
        summary = json.loads(path.read_text())
        counts = counts_in(url)
        if summary.get("generator") == GENERATOR_VERSION and spec.matches(summary["spec"]) \
                and counts and all(
                counts[k] == summary["counts"][k] for k in counts):
            log(f"reusing {summary['database']} data generated {summary['now']}")
            return {**summary, "reused": True}
    summary = generate(url, spec, log=log)
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, default=str))
    return {**summary, "reused": False}


# ------------------------------------------------------------------ measuring


class StatementLog:
    """Every statement run on an engine while active: (text, seconds)."""

    def __init__(self, engine: Any) -> None:
        self.engine, self.items = engine, []

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.items.append((statement, time.perf_counter() - conn.info.pop("bench_started")))

    def __enter__(self) -> StatementLog:
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc: Any) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


def statement_label(sql: str) -> str:
    s = " ".join(sql.split())
    low = s.lower()
    if low.startswith("update user_sessions"):
        return "session seen (at most once a minute)"
    if "from user_sessions" in low:
        return "signed-in session and user"
    if "coaching_sessions.duration_minutes" in low:
        return "coaching sessions and hours (mentoring panel)"
    if "from coaching_attendees" in low:
        return "people coached (mentoring panel)"
    if "from help_requests" in low:
        return "open help requests (mentoring panel)"
    if "from notifications" in low:
        return "unread notifications (the bell)"
    if low.startswith("select count(*)") and "from users" in low and "role_grants" in low:
        return "mentors, and those active (mentoring panel)"
    if "from role_grants" in low:
        return "role grants"
    if "group by enrolments.unit_id" in low:
        return "figures per unit (GROUP BY unit_id)"
    if "concurrent_posts" in low and "group by" in low:
        return "people with concurrent posts"
    if "count(users.id)" in low and "group by users.unit_id" in low:
        return "headcount per unit"
    if low.startswith("select units.id, units.parent_id, units.path"):
        return "units of the subtree"
    if "from units where units.id in" in low:
        return "units above (breadcrumb)"
    if "from units where units.id =" in low:
        return "the unit"
    if "distinct users.position" in low:
        return "positions (filter choices)"
    if "from courses" in low:
        return "courses (filter choices)"
    if "from assignments" in low:
        return "assignments (filter choices)"
    if "from report_snapshots" in low:
        return "snapshots (choices)"
    if low in ("begin", "commit", "rollback") or low.startswith(("savepoint", "release")):
        return low
    return s[:90] + ("…" if len(s) > 90 else "")


def median_ms(values: list[float]) -> float:
    return 1000 * statistics.median(values)


def compile_sql(statement: Any, dialect: Any) -> str:
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


class Raw:
    """One raw DBAPI connection of the app's engine; runs SQL text, times it."""

    def __init__(self, engine: Any) -> None:
        self.conn = engine.raw_connection()
        self.postgres = engine.dialect.name == "postgresql"

    def run(self, sql: str, before: tuple[str, ...] = ()) -> tuple[float, int]:
        cursor = self.conn.cursor()
        try:
            for statement in before:
                cursor.execute(statement)
            started = time.perf_counter()
            # psycopg: an empty parameter list makes it read "%%" (as the dialect writes a
            # literal %) back as "%", like SQLAlchemy's own execution does.
            cursor.execute(sql, []) if self.postgres else cursor.execute(sql)
            rows = cursor.fetchall()
            return time.perf_counter() - started, len(rows)
        finally:
            cursor.close()
            self.conn.rollback()

    def rows(self, sql: str) -> list[tuple]:
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql, []) if self.postgres else cursor.execute(sql)
            return cursor.fetchall()
        finally:
            cursor.close()
            self.conn.rollback()

    def close(self) -> None:
        self.conn.close()


def variant_statements(path: str, at: datetime, week_ends: list[datetime],
                       unit_ids: list[int] | None = None) -> dict[str, Any]:
    """The floor and the variants that show where its time goes."""
    from sqlalchemy import case, func, or_, select

    from lms.courses.models import Enrolment
    from lms.reports import figures as F

    filters = F.Filters()
    units = F.subtree_unit_ids(path)
    conditions = F.enrolment_filters(filters)

    def star_columns(weeks: list[datetime]) -> list:
        """figure_columns with count(*) for count(enrolments.id)."""
        assigned, done = Enrolment.source == F.ASSIGNED, Enrolment.completed_at <= at
        count = func.count
        columns = [
            count().filter(assigned, Enrolment.enrolled_at <= at),
            count().filter(assigned, Enrolment.enrolled_at <= at, or_(Enrolment.started_at <= at, done)),
            count().filter(assigned, Enrolment.enrolled_at <= at, done),
            count().filter(assigned, Enrolment.enrolled_at <= at, Enrolment.due_at < at,
                           or_(Enrolment.completed_at.is_(None), Enrolment.completed_at > at)),
            func.coalesce(func.sum(Enrolment.quiz_score), 0.0),
            func.count(Enrolment.quiz_score),
            count().filter(Enrolment.certified_at <= at),
        ]
        for end in weeks:
            columns.append(count().filter(assigned, Enrolment.enrolled_at <= end))
            columns.append(count().filter(assigned, Enrolment.completed_at <= end))
        return columns

    def bucket(column: Any) -> Any:
        return case(*[(column <= end, i) for i, end in enumerate(week_ends)], else_=None)

    enrolled, completed = bucket(Enrolment.enrolled_at).label("e"), bucket(Enrolment.completed_at).label("c")
    extra = {}
    if unit_ids is not None:
        extra["ids_count_star"] = (select(Enrolment.unit_id, *star_columns(week_ends))
                                   .where(Enrolment.unit_id.in_(unit_ids), *conditions)
                                   .group_by(Enrolment.unit_id))
    return {**extra,
        # As figures.compute runs it: with the subtree's unit ids as a list.
        "floor": F.per_unit_statement(path, filters, at, week_ends, unit_ids),
        "count_star": select(Enrolment.unit_id, *star_columns(week_ends))
        .where(Enrolment.unit_id.in_(units), *conditions).group_by(Enrolment.unit_id),
        "no_weeks": F.per_unit_statement(path, filters, at, (), unit_ids),
        "count_star_no_weeks": select(Enrolment.unit_id, *star_columns([]))
        .where(Enrolment.unit_id.in_(units), *conditions).group_by(Enrolment.unit_id),
        "no_inactive_filter": select(Enrolment.unit_id, *F.figure_columns(at, week_ends))
        .where(Enrolment.unit_id.in_(units)).group_by(Enrolment.unit_id),
        "weeks_by_bucket": select(enrolled, completed, func.count())
        .where(Enrolment.unit_id.in_(units), Enrolment.source == F.ASSIGNED, *conditions)
        .group_by(enrolled, completed),
    }


VARIANT_LABELS = {
    "floor": "the floor: per_unit_statement as the app runs it (7 figures + 2 × 12 weekly counts)",
    "floor_jit_off": "the floor with `SET LOCAL jit = off` (as `figures.compute` now does)",
    "floor_no_parallel": "the floor with `SET LOCAL max_parallel_workers_per_gather = 0`",
    "floor_jit_forced": "the floor with `SET LOCAL jit_above_cost = 0` "
                        "(JIT forced: what it costs when it fires)",
    "count_star": "count(*) instead of count(enrolments.id)",
    "ids_count_star": "count(*), and `unit_id IN (<the ids compute() has already loaded>)` "
                      "instead of the subquery",
    "no_weeks": "without the 24 weekly counts (7 figures only)",
    "count_star_no_weeks": "count(*) and without the weekly counts",
    "no_inactive_filter": "without `user_id NOT IN (people who left)`",
    "weeks_by_bucket": "the weekly line alone, by buckets: GROUP BY (week enrolled, week completed)",
    "orm": "the floor through the ORM session with bound parameters (as the app runs it)",
}


def sign_in(app: Any, client: Any, user_id: int, token: str) -> None:
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id)
        session["_fresh"] = True
        session["sid"] = token
        session["_permanent"] = True


def measure_database(url: str, summary: dict, rounds: int, deadline: float, out: Path,
                     quiet_threshold: float = 0.25, quiet_timeout: float = 60) -> dict:
    from sqlalchemy import func, select
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import Session

    from bench.run_learning import CpuAccount, calibrate, cpu_busy, wait_quiet
    from lms.auth.sessions import start_session
    from lms.db import db
    from lms.org.models import RoleGrant, Unit, User
    from lms.reports.figures import Filters
    from lms.reports.services import report_weeks, unit_report

    url = _common.sqlalchemy_url(url)
    postgres = _common.is_postgres(url)
    app = _common.make_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
    results: dict[str, Any] = {"database": "PostgreSQL" if postgres else "SQLite"}
    with app.app_context(), app.test_request_context():
        engine = db.engine
        dbs = db.session
        root = dbs.get(Unit, summary["root_id"])
        department = dbs.get(Unit, summary["department_id"])
        head_id = dbs.scalar(select(RoleGrant.user_id).where(
            RoleGrant.role == "unit_head", RoleGrant.unit_id == department.id).order_by(RoleGrant.id))
        admin = dbs.get(User, 1)
        head = dbs.get(User, head_id)
        tokens = {u.id: start_session(dbs, u, "127.0.0.1", USER_AGENT) for u in (admin, head)}
        dbs.commit()
        scopes = {
            "root": {"unit_id": root.id, "path": root.path, "name": root.name, "viewer": admin.id,
                     "viewer_role": "admin"},
            "department": {"unit_id": department.id, "path": department.path, "name": department.name,
                           "viewer": head.id, "viewer_role": "head of the department"},
        }
        for scope in scopes.values():
            scope["units"] = dbs.scalar(select(func.count(Unit.id))
                                        .where(Unit.path.startswith(scope["path"])))
        results["server"] = server_facts(dbs, postgres)
    page_available = "reports.dashboard" in app.view_functions
    results["page_available"] = page_available
    clients = {}
    for name, scope in scopes.items():
        client = app.test_client()
        sign_in(app, client, scope["viewer"], tokens[scope["viewer"]])
        clients[name] = client

    now = datetime.now(timezone.utc)
    week_ends = report_weeks(Filters(), now)
    with app.app_context():
        engine = db.engine
        dialect = engine.dialect
        raw = Raw(engine)
        with Session(engine) as session:
            ids = {name: list(session.scalars(select(Unit.id).where(Unit.path.startswith(scope["path"]))))
                   for name, scope in scopes.items()}
        sql = {name: {k: compile_sql(v, dialect) for k, v in variant_statements(
            scope["path"], now, week_ends, ids[name]).items()} for name, scope in scopes.items()}

        def raw_floor(name: str) -> float:
            seconds, count = raw.run(sql[name]["floor"])
            scopes[name]["floor_rows"] = count
            return seconds

        def service(name: str) -> float:
            with Session(engine) as session:
                unit = session.get(Unit, scopes[name]["unit_id"])
                started = time.perf_counter()
                report = unit_report(session, unit, at=now)
                seconds = time.perf_counter() - started
                scopes[name]["service_total"] = {
                    "headcount": report.total.headcount, "assigned": report.total.assigned,
                    "completed": report.total.completed, "overdue": report.total.overdue,
                    "completion_pct": report.total.completion_pct, "rows": len(report.rows)}
            return seconds

        def page(name: str) -> float:
            # Each request in an empty context, as in production: the app context pushed here
            # must not lend the request its ``g`` (database session, signed-in user).
            url_ = f"/reports/units/{scopes[name]['unit_id']}"
            started = time.perf_counter()
            response = contextvars.Context().run(clients[name].get, url_)
            seconds = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"page {name}: HTTP {response.status_code} "
                                   f"{response.get_data(as_text=True)[:300]}")
            scopes[name]["page_bytes"] = len(response.data)
            return seconds

        tasks: list[tuple[str, str, Callable[[str], float]]] = []
        for name in scopes:
            tasks += [(name, "floor", raw_floor), (name, "service", service)]
            if page_available:
                tasks.append((name, "page", page))
        timings: dict[tuple[str, str], list[float]] = {(n, k): [] for n, k, _f in tasks}
        errors: dict[str, str] = {}
        log("  warm-up ...")
        for name, kind, work in list(tasks):
            try:
                work(name)
            except Exception as exc:  # noqa: BLE001 (the page is someone else's work in progress)
                errors[f"{name} {kind}"] = repr(exc)[:500]
                tasks.remove((name, kind, work))
                log(f"  {name} {kind} failed: {exc!r}"[:400])
        results["busy_before"] = wait_quiet(quiet_threshold, quiet_timeout)
        results["calibration_ms"] = calibrate()
        account = CpuAccount(os.getpid(), make_url(url).database if postgres else None)
        before = account.snapshot()
        done_rounds = 0
        for number in range(rounds):
            if time.monotonic() > deadline and done_rounds >= 5:
                break
            order = tasks if number % 2 == 0 else list(reversed(tasks))
            for name, kind, work in order:
                timings[(name, kind)].append(work(name))
            done_rounds += 1
        results["cpu"] = account.shares(before, account.snapshot())
        results["busy_after"] = cpu_busy(1.0)
        results["rounds"] = done_rounds
        results["errors"] = errors
        results["scopes"] = scopes
        results["timings_ms"] = {f"{n} {k}": [round(1000 * v, 2) for v in vals]
                                 for (n, k), vals in timings.items()}
        medians = {f"{n} {k}": median_ms(vals) for (n, k), vals in timings.items() if vals}
        results["median_ms"] = medians
        for name in scopes:
            floor = medians.get(f"{name} floor")
            for kind in ("service", "page"):
                value = medians.get(f"{name} {kind}")
                if floor and value:
                    results.setdefault("ratio", {})[f"{name} {kind}"] = value / floor
                    # Each round's own ratio (its measurements are seconds apart): the
                    # spread shows how much the machine's drift moves a single comparison.
                    per_round = [v / f for v, f in zip(timings[(name, kind)], timings[(name, "floor")],
                                                       strict=True)]
                    results.setdefault("ratio_rounds", {})[f"{name} {kind}"] = {
                        "median": statistics.median(per_round), "min": min(per_round),
                        "max": max(per_round)}
        log("  medians: " + ", ".join(f"{k} {v:.0f} ms" for k, v in medians.items()))

        # Statements of one request of each page, and of the service, with their times.
        results["statements"] = {}
        for name in scopes:
            runs = {"service": lambda n=name: service(n)}
            if page_available and f"{name} page" not in errors:
                runs["page"] = lambda n=name: page(n)
            for kind, work in runs.items():
                with StatementLog(engine) as statements:
                    total = work()
                results["statements"][f"{name} {kind}"] = {
                    "total_ms": 1000 * total,
                    "sql_ms": 1000 * sum(s for _t, s in statements.items),
                    "items": [(statement_label(t), round(1000 * s, 2)) for t, s in statements.items]}

        # Where the floor's time goes.
        if time.monotonic() < deadline:
            results["variants"] = measure_variants(engine, raw, sql, scopes, now, week_ends,
                                                   postgres, max(3, min(5, rounds)))
            if postgres and page_available and time.monotonic() < deadline:
                results["jit"] = measure_jit([(n, k, w) for n, k, w in tasks if k != "floor"],
                                             max(3, min(5, rounds)))
        results["plans"] = query_plans(raw, sql, postgres, out, results["database"])
        raw.close()
        engine.dispose()
    return results


def server_facts(dbs: Any, postgres: bool) -> dict[str, str]:
    from sqlalchemy import text

    if postgres:
        names = ("server_version", "jit", "jit_above_cost", "max_parallel_workers_per_gather",
                 "shared_buffers", "work_mem", "effective_cache_size", "random_page_cost")
        return {n: dbs.execute(text(f"SHOW {n}")).scalar_one() for n in names}
    import sqlite3

    return {"sqlite_version": sqlite3.sqlite_version,
            "journal_mode": dbs.execute(text("PRAGMA journal_mode")).scalar_one(),
            "cache_size": str(dbs.execute(text("PRAGMA cache_size")).scalar_one())}


def measure_variants(engine: Any, raw: Raw, sql: dict, scopes: dict, now: datetime,
                     week_ends: list[datetime], postgres: bool, rounds: int) -> dict:
    """Medians (ms) of the floor's variants, interleaved in rounds, per scope."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from lms.org.models import Unit
    from lms.reports.figures import Filters, per_unit_statement

    runs: list[tuple[str, str, Callable[[], float]]] = []
    for name, scope in scopes.items():
        for variant, text_ in sql[name].items():
            runs.append((name, variant, lambda t=text_: raw.run(t)[0]))
        if postgres:
            runs.append((name, "floor_jit_off", lambda t=sql[name]["floor"]: raw.run(
                t, ("SET LOCAL jit = off",))[0]))
            runs.append((name, "floor_no_parallel", lambda t=sql[name]["floor"]: raw.run(
                t, ("SET LOCAL max_parallel_workers_per_gather = 0",))[0]))
            runs.append((name, "floor_jit_forced", lambda t=sql[name]["floor"]: raw.run(
                t, ("SET LOCAL jit_above_cost = 0",))[0]))

        def orm(path: str = scope["path"]) -> float:
            with Session(engine) as session:
                unit_ids = list(session.scalars(sa.select(Unit.id).where(Unit.path.startswith(path))))
                statement = per_unit_statement(path, Filters(), now, week_ends, unit_ids)
                started = time.perf_counter()
                session.execute(statement).all()
                return time.perf_counter() - started
        runs.append((name, "orm", orm))
    for _name, _variant, work in runs:  # warm-up
        work()
    values: dict[str, list[float]] = {}
    for number in range(rounds):
        for name, variant, work in (runs if number % 2 == 0 else list(reversed(runs))):
            values.setdefault(f"{name} {variant}", []).append(work())
    return {k: median_ms(v) for k, v in values.items()}


def measure_jit(tasks: list, rounds: int) -> dict:
    """The service and the pages in rounds alternating with and without the app's own
    ``SET LOCAL jit = off`` (``figures.without_jit``, replaced by a no-op in the "default"
    rounds, so the server's setting, jit=on, applies)."""
    from lms.reports import figures

    original = getattr(figures, "without_jit", None)
    if original is None:
        return {}
    values: dict[str, list[float]] = {}
    try:
        for number in range(2 * rounds + 2):
            mode = "app" if number % 2 == 0 else "default"
            figures.without_jit = original if mode == "app" else (lambda _dbs: None)
            for name, kind, work in tasks:
                seconds = work(name)
                if number >= 2:  # the first round of each is a warm-up
                    values.setdefault(f"{name} {kind} jit {mode}", []).append(seconds)
    finally:
        figures.without_jit = original
    return {k: median_ms(v) for k, v in values.items()}


def query_plans(raw: Raw, sql: dict, postgres: bool, out: Path, database: str) -> dict:
    plans: dict[str, Any] = {}
    for name in sql:
        text_ = sql[name]["floor"]
        if postgres:
            lines = [r[0] for r in raw.rows("EXPLAIN (ANALYZE, BUFFERS) " + text_)]
        else:
            lines = [r[3] for r in raw.rows("EXPLAIN QUERY PLAN " + text_)]
        (out / f"reports-plan-{database.lower()}-{name}.txt").write_text("\n".join(lines) + "\n")
        nodes = [line.strip() for line in lines if not postgres or "->" in line
                 or line.strip().startswith(("Finalize", "GroupAggregate", "HashAggregate", "JIT"))]
        summary = [n.split("  (cost")[0].lstrip("-> ").strip() for n in nodes]
        plans[name] = {"nodes": summary[:14],
                       "execution_ms": next((float(line.split(":")[1].split()[0]) for line in lines
                                             if line.startswith("Execution Time")), None),
                       "jit": any(line.startswith("JIT") for line in lines)}
    return plans


# ------------------------------------------------------------------ the export (child process)


def export_statement():
    """50,000 people (all of them, those who left included) with their assigned training's
    figures: the shape of the people export, one grouped statement."""
    from sqlalchemy import func, select

    from lms.courses.models import Enrolment
    from lms.db import utcnow
    from lms.org.models import Unit, User

    now = utcnow()
    assigned = Enrolment.source == "assigned"
    completed = func.count(Enrolment.id).filter(assigned, Enrolment.completed_at.is_not(None))
    return (select(User.employee_code, User.full_name, Unit.name, User.position, User.is_active,
                   func.count(Enrolment.id).filter(assigned), completed,
                   func.count(Enrolment.id).filter(assigned, Enrolment.due_at < now,
                                                   Enrolment.completed_at.is_(None)),
                   func.avg(Enrolment.quiz_score), func.count(Enrolment.certified_at),
                   func.max(Enrolment.last_activity_at))
            .join(Unit, Unit.id == User.unit_id)
            .outerjoin(Enrolment, Enrolment.user_id == User.id)
            .group_by(User.id, Unit.name)
            .order_by(User.sort_name, User.id))


EXPORT_HEADER = ["Mã cán bộ", "Họ và tên", "Đơn vị", "Chức vụ", "Đang công tác", "Được giao",
                 "Đã hoàn thành", "% hoàn thành", "Quá hạn", "Điểm kiểm tra TB", "Chứng chỉ",
                 "Hoạt động gần nhất"]


def memory_mib(field: str) -> float | None:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def reset_peak_memory() -> bool:
    """Linux: start VmHWM again from the current RSS (so the peak is the export's own)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def export_child(url: str, mode: str, target: str) -> dict:
    """Runs in its own process: the export only, so its memory is measured alone."""
    import tracemalloc

    from lms.db import db
    from lms.reports.exports import write_xlsx

    app = _common.make_app({"DATABASE_URL": _common.sqlalchemy_url(url), "LOG_LEVEL": "WARNING"})
    import openpyxl  # noqa: F401 (imported before the baseline, like the app's own import)

    result: dict[str, Any] = {"mode": mode}
    with app.app_context(), app.test_request_context():
        dbs = db.session
        if mode in ("direct", "direct_tracemalloc"):
            statement = export_statement()

            def rows():
                for r in dbs.execute(statement.execution_options(yield_per=1000)):
                    pct = round(100 * r[6] / r[5], 1) if r[5] else None
                    yield (r[0], r[1], r[2], r[3], "có" if r[4] else "không", r[5], r[6], pct, r[7],
                           round(r[8], 1) if r[8] is not None else None, r[9], r[10])

            base = start_memory(result)
            if mode == "direct_tracemalloc":
                tracemalloc.start()
            started = time.perf_counter()
            with open(target, "wb") as handle:
                write_xlsx(handle, "Cán bộ", EXPORT_HEADER, rows())
            result["seconds"] = time.perf_counter() - started
            if mode == "direct_tracemalloc":
                result["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
        else:
            from sqlalchemy import func, select

            from lms.auth.sessions import start_session
            from lms.org.models import Unit, User

            root = dbs.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id))
            token = start_session(dbs, dbs.get(User, 1), "127.0.0.1", USER_AGENT)
            dbs.commit()
            client = app.test_client()
            sign_in(app, client, 1, token)
            result["active_people"] = dbs.scalar(select(func.count(User.id))
                                                 .where(User.is_active.is_(True)))
            base = start_memory(result)
            started = time.perf_counter()
            address = f"/reports/units/{root.id}/export.xlsx?view=people"
            response = contextvars.Context().run(client.get, address)
            data = response.get_data()
            result["seconds"] = time.perf_counter() - started
            result["status"] = response.status_code
            Path(target).write_bytes(data)
        peak = memory_mib("VmHWM") if result["peak_reset"] else None
        if peak is None:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result["rss_peak_mib"] = peak
        result["rss_growth_mib"] = peak - base
        db.engine.dispose()
    result["bytes"] = Path(target).stat().st_size
    if result.get("status", 200) == 200:
        from openpyxl import load_workbook

        started = time.perf_counter()
        book = load_workbook(target, read_only=True)
        sheet = book.worksheets[0]
        rows_read = sum(1 for _row in sheet.iter_rows(values_only=True))
        book.close()
        result["rows_read_back"] = rows_read
        result["read_back_seconds"] = time.perf_counter() - started
    return result


def start_memory(result: dict) -> float:
    """The RSS before the export (MiB); the peak is then measured from here."""
    result["peak_reset"] = reset_peak_memory()
    base = memory_mib("VmRSS") if result["peak_reset"] else None
    if base is None:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["rss_before_mib"] = base
    return base


def measure_export(url: str, out: Path, endpoint: bool, traced: bool = True) -> dict:
    results: dict[str, Any] = {}
    modes = ["direct"] + (["endpoint"] if endpoint else []) + (["direct_tracemalloc"] if traced else [])
    for mode in modes:
        with tempfile.NamedTemporaryFile(suffix=".xlsx", dir=out, delete=False) as handle:
            target = handle.name
        try:
            done = subprocess.run(
                [sys.executable, __file__, "--export-child", mode, "--database-url", url,
                 "--target", target], capture_output=True, text=True, timeout=300,
                env=_common.bench_environ(url))
            if done.returncode != 0:
                results[mode] = {"error": done.stderr[-1500:]}
                log(f"  export {mode} failed: {done.stderr[-600:]}")
                continue
            results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
            log(f"  export {mode}: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                                 for k, v in results[mode].items()))
        except subprocess.TimeoutExpired:
            results[mode] = {"error": "timed out after 300 s"}
        finally:
            Path(target).unlink(missing_ok=True)
    return results


# ------------------------------------------------------------------ report


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def render(results: dict) -> str:
    m = results["machine"]
    lines = [MARK_START, f"### Reports — run of {results['when']}", "",
             f"`bench/run_reports.py` on {m['cpu']} ({m['cores']} cores, {m['memory']}); "
             f"Python {m['python']}, SQLAlchemy {m['sqlalchemy']}. In-process, one request at a "
             f"time; medians of {results['rounds_asked']} interleaved rounds after a warm-up "
             f"(order reversed every other round). The whole run took {results['seconds'] / 60:.1f} min.",
             ""]
    for r in results["databases"].values():
        cpu = r.get("cpu") or {}
        others = (" (PostgreSQL's parallel workers included: they exit after each query, "
                  "and cannot be told apart afterwards)" if r["database"] == "PostgreSQL" else "")
        lines.append(f"- {r['database']}: {r['rounds']} rounds; the machine was "
                     f"{100 * r.get('busy_before', 0):.0f}% busy just before them and "
                     f"{100 * r.get('busy_after', 0):.0f}% just after; during them, processes other "
                     f"than this one{' and the bench database' if others else ''} used "
                     f"{100 * cpu.get('cpu_others', 0):.0f}% of the machine's CPU{others}; a fixed "
                     f"piece of Python took {r.get('calibration_ms', 0):.1f} ms before them.")
    lines.append("")
    dbs = results["databases"]
    lines += ["Data (`bench/generate_ministry.py`, seed 1):", "",
              "| database | people (left) | units | levels below the ministry | courses | decisions "
              "| enrolments | assigned | completed | in progress | not started | concurrent posts "
              "| size | generated in |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in dbs.values():
        c, s = r["data"]["counts"], r["data"]
        n = c["enrolments"]
        made = "reused" if s.get("reused") else f"{s['seconds']:.0f} s"
        lines.append(
            f"| {r['database']} | {c['users']:,} ({c['inactive_users']}) | {c['units']} | {c['levels']} "
            f"| {c['courses']} | {c['assignments']} | {n:,} | {100 * c['assigned'] / n:.0f}% "
            f"| {100 * c.get('completed', 0) / n:.1f}% | {100 * c.get('in_progress', 0) / n:.1f}% "
            f"| {100 * c.get('not_started', 0) / n:.1f}% | {c['concurrent_posts']} "
            f"| {c['database_bytes'] / 2**20:,.0f} MiB | {made} |")
    lines += ["", "(a) floor: `figures.per_unit_statement` for the unit's subtree, same moment and "
              "week ends, compiled with literal values and run on the raw DBAPI cursor; (b) "
              "`services.unit_report` (the four statements of `figures.compute` and the roll-up); "
              "(c) `GET /reports/units/<id>` through the Flask test client, the whole request.", "",
              "page / floor: ratio of the medians; in brackets the median, lowest and highest "
              "ratio of single rounds (a round's floor and page are seconds apart).", "",
              "| database | dashboard | units in subtree | (a) floor | (b) unit_report | (c) page "
              "| page / floor | SQL statements per page |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in dbs.values():
        for name, scope in r["scopes"].items():
            med, ratio = r["median_ms"], r.get("ratio", {})
            page = med.get(f"{name} page")
            count = len(r["statements"].get(f"{name} page", {}).get("items", [])) or None
            label = (f"ministry (`/reports/units/{scope['unit_id']}`, admin)" if name == "root"
                     else f"department “{scope['name']}” (`/reports/units/{scope['unit_id']}`, its head)")
            page_ratio = ratio.get(f"{name} page")
            spread = r.get("ratio_rounds", {}).get(f"{name} page")
            shown = "–"
            if page_ratio:
                shown = f"**{page_ratio:.2f}**"
                if spread:
                    shown += f" ({spread['median']:.2f}; {spread['min']:.2f}–{spread['max']:.2f})"
            lines.append(
                f"| {r['database']} | {label} | {scope['units']} | {fmt_ms(med.get(f'{name} floor'))} "
                f"| {fmt_ms(med.get(f'{name} service'))} | {fmt_ms(page)} | {shown} | {count or '–'} |")
    missing = [r["database"] for r in dbs.values() if not r["page_available"]]
    if missing:
        lines += ["", f"The dashboard page (`reports.dashboard`) was not registered in this run "
                  f"({', '.join(missing)}): (c) not measured."]
    for r in dbs.values():
        if r.get("errors"):
            failures = "; ".join(f"{k}: {v}" for k, v in r["errors"].items())
            lines += ["", f"{r['database']}: failed: {failures}"]
    # Statement breakdown of the pages.
    lines += ["", "Each page's statements (one request; counted with a `before_cursor_execute` "
              "listener, SQLite's `BEGIN` included; times in ms from the cursor events, PostgreSQL "
              "only: SQLite computes an aggregate while its rows are fetched, after the event):", ""]
    for r in dbs.values():
        postgres = r["database"] == "PostgreSQL"
        for name in r["scopes"]:
            entry = r["statements"].get(f"{name} page") or r["statements"].get(f"{name} service")
            if not entry:
                continue
            which = "page" if f"{name} page" in r["statements"] else "unit_report"
            parts = ", ".join(f"{label} {ms:.1f}" if postgres else label for label, ms in entry["items"])
            timing = (f"{entry['sql_ms']:.0f} ms of {entry['total_ms']:.0f} ms in SQL — " if postgres
                      else "")
            where = "ministry" if name == "root" else "department"
            lines.append(f"- {r['database']}, {where} {which}: {len(entry['items'])} statements, "
                         f"{timing}{parts}")
    # Variants.
    if any(r.get("variants") for r in dbs.values()):
        names = [n for n in VARIANT_LABELS if any(f"root {n}" in (r.get("variants") or {})
                                                  for r in dbs.values())]
        header = "| variant of the floor | " + " | ".join(
            f"{r['database']} {scope}" for r in dbs.values() if r.get("variants")
            for scope in ("ministry", "department")) + " |"
        lines += ["", "Where the floor's time goes (medians, ms; same data, same moment):", "", header,
                  "|---|" + "---:|" * (header.count("|") - 2)]
        for n in names:
            cells = []
            for r in dbs.values():
                if r.get("variants"):
                    for scope in ("root", "department"):
                        value = r["variants"].get(f"{scope} {n}")
                        cells.append(fmt_ms(value) if value is not None else "–")
            lines.append(f"| {VARIANT_LABELS[n]} | " + " | ".join(cells) + " |")
    for r in dbs.values():
        if r.get("jit"):
            j = r["jit"]
            parts = []
            for key in sorted({k.rsplit(" jit ", 1)[0] for k in j}):
                on, off = j.get(f"{key} jit default"), j.get(f"{key} jit app")
                if on and off:
                    parts.append(f"{key.replace('root', 'ministry')} {on:.0f} → {off:.0f} ms")
            lines += ["", f"{r['database']}, the server's JIT setting (jit=on) → the app's "
                      "`SET LOCAL jit = off` (`figures.without_jit`, a no-op in every other round): "
                      + "; ".join(parts) + "."]
    for r in dbs.values():
        plans = r.get("plans") or {}
        for name, plan in plans.items():
            nodes = " → ".join(plan["nodes"][:8])
            jit = " (JIT used)" if plan.get("jit") else ""
            lines += ["", f"{r['database']} plan of the {name} floor{jit}: {nodes}"]
    # Export.
    lines += ["", "XLSX export, in a separate process (peak RSS growth over the process before the "
              "export; tracemalloc peak in a second run); the file is read back with "
              "`openpyxl.load_workbook(read_only=True)`:", "",
              "| database | export | rows in the file (with the header) | time | peak RSS growth "
              "| tracemalloc peak | file |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in dbs.values():
        e = r.get("export") or {}
        direct, traced, endpoint = e.get("direct", {}), e.get("direct_tracemalloc", {}), e.get("endpoint")
        if "seconds" in direct:
            lines.append(
                f"| {r['database']} | {direct.get('rows_read_back', 1) - 1:,} people, one grouped query "
                f"streamed (`yield_per=1000`) into "
                f"`write_xlsx` | {direct.get('rows_read_back', 0):,} | {direct['seconds']:.1f} s "
                f"| {direct['rss_growth_mib']:.0f} MiB | {traced.get('tracemalloc_peak_mib', 0):.1f} MiB "
                f"| {direct['bytes'] / 2**20:.1f} MiB |")
        elif direct:
            lines.append(f"| {r['database']} | direct | failed | | | | |")
        if endpoint and "seconds" in endpoint:
            lines.append(
                f"| {r['database']} | `GET /reports/units/1/export.xlsx?view=people` (admin; "
                f"{endpoint.get('active_people', 0):,} active people) "
                f"| {endpoint.get('rows_read_back', 0):,} "
                f"| {endpoint['seconds']:.1f} s | {endpoint['rss_growth_mib']:.0f} MiB | – "
                f"| {endpoint['bytes'] / 2**20:.1f} MiB |")
        elif endpoint:
            lines.append(f"| {r['database']} | people export URL | failed: "
                         f"{(endpoint.get('error') or str(endpoint.get('status')))[-120:]!r} | | | | |")
    lines += ["", "Server settings: " + "; ".join(
        f"{r['database']}: " + ", ".join(f"{k}={v}" for k, v in r["server"].items()) for r in dbs.values()),
        "", MARK_END]
    return "\n".join(lines)


def write_report(path: Path, section: str) -> None:
    _common.write_section(path, MARK_START, MARK_END, "Reports", section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql (default both)")
    parser.add_argument("--sqlite-url", default=DEFAULT_SQLITE)
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--regenerate", action="store_true", help="rebuild the data even if it matches")
    parser.add_argument("--users", type=int, default=Spec.users)
    parser.add_argument("--units", type=int, default=Spec.units)
    parser.add_argument("--courses", type=int, default=Spec.courses)
    parser.add_argument("--enrolments", type=int, default=Spec.enrolments)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--time-limit", type=float, default=780,
                        help="seconds; past it, optional measurements are skipped")
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--out", type=Path, default=_common.DEFAULT_OUT)
    parser.add_argument("--report", type=Path, default=_common.ROOT / "BENCHMARKS.md")
    parser.add_argument("--export-child", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        print(json.dumps(export_child(args.database_url, args.export_child, args.target), default=str))
        return
    from bench.run_learning import machine_facts

    started = time.monotonic()
    deadline = started + args.time_limit
    args.out.mkdir(parents=True, exist_ok=True)
    spec = Spec(users=args.users, units=args.units, courses=args.courses, enrolments=args.enrolments)
    urls = {"sqlite": args.sqlite_url, "postgresql": args.pg_url}
    chosen = [d.strip() for d in args.databases.split(",") if d.strip()]
    results: dict[str, Any] = {"when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                               "machine": machine_facts(), "rounds_asked": args.rounds,
                               "databases": {}}
    for key in chosen:
        url = _common.sqlalchemy_url(urls[key])
        log(f"{key}: {url}")
        _common.use_bench_environ(url)
        data = ensure_data(url, spec, args.out, args.regenerate)
        # Each database gets its share of what is left of the time limit.
        left = len(chosen) - chosen.index(key)
        share = time.monotonic() + (deadline - time.monotonic()) / left
        measured = measure_database(url, data, args.rounds, share - 60, args.out)
        measured["data"] = data
        if not args.no_export:
            log("  export ...")
            # tracemalloc makes the export ~8 times slower: only while time is left.
            measured["export"] = measure_export(url, args.out, measured["page_available"]
                                                and export_endpoint_exists(url),
                                                traced=time.monotonic() < deadline - 180 * left)
        results["databases"][key] = measured
    results["seconds"] = time.monotonic() - started
    (args.out / "reports.json").write_text(json.dumps(results, indent=2, default=str))
    section = render(results)
    if str(args.report) == "-":
        print(section)
    else:
        write_report(args.report, section)
        log(f"wrote {args.report}")
    log(f"done in {results['seconds'] / 60:.1f} min")


def export_endpoint_exists(url: str) -> bool:
    app = _common.make_app({"DATABASE_URL": _common.sqlalchemy_url(url), "LOG_LEVEL": "WARNING"})
    return "reports.export" in app.view_functions


if __name__ == "__main__":
    os.environ.setdefault("LMS_LOG_LEVEL", "WARNING")
    main()
