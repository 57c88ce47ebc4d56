#!/usr/bin/env python
"""Time the learners' reminder job on the reports benchmark's ministry (50,000 people,
1,000,000 enrolments; bench/generate_ministry.py), on SQLite and PostgreSQL.

    .venv/bin/python bench/run_reminders.py [--databases sqlite postgresql] [--report -]

For one day — 7 days before the nearest future due date of a decision, so that the big
7-day reminder wave falls on it — the hourly job ``notify.reminders`` is run at 00:05,
01:05, … 23:05 UTC (every timezone passes 08:00 once in that day):

- (a) the floor: the same SELECT statements the runs make (``reminders.selections``),
  executed alone in the database as ``SELECT count(*) FROM (…)`` (nothing is sent to
  Python), plus the two small reads, for each of the 24 hours;
- (b) the whole runs (``reminders.send_reminders``: notifications INSERT … SELECT, the
  e-mail outbox INSERT … SELECT, a commit per timezone), for the same 24 hours.

Statements are counted with a ``before_cursor_execute`` listener. The notifications and
outbox rows the runs made are deleted at the end, so the run can be repeated. The data is
not regenerated here (run bench/generate_ministry.py first).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402

SQLITE_URL = f"sqlite:///{_common.DEFAULT_OUT / 'lms_bench_reports.db'}"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/lms_bench_reports"
START = "<!-- bench/run_reminders.py: results start -->"
END = "<!-- bench/run_reminders.py: results end -->"
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


def measure(url: str, day: str | None) -> dict:
    from sqlalchemy import delete, event, func, select

    from lms.assignments.models import Assignment
    from lms.db import db, sqlite_write_intent, utcnow
    from lms.notify import reminders
    from lms.notify.models import Notification, OutboxEmail

    _common.use_bench_environ(url)
    app = _common.make_app()
    sqlite_write_intent.set(True)
    reminders.register_kinds()
    out: dict = {"database": "PostgreSQL" if _common.is_postgres(url) else "SQLite"}
    with app.app_context(), app.test_request_context():
        dbs = db.session
        engine = dbs.get_bind()
        if day is None:
            generated = dbs.scalar(select(func.max(Assignment.created_at)))
            due = dbs.scalar(select(func.min(Assignment.due_at))
                             .where(Assignment.due_at > (generated or utcnow())))
            first_day = (due.astimezone(HANOI).date() - timedelta(days=7))
        else:
            first_day = datetime.fromisoformat(day).date()
        moments = [datetime.combine(first_day, datetime.min.time(), timezone.utc)
                   + timedelta(hours=h, minutes=5) for h in range(24)]
        out["day"] = first_day.isoformat()
        statements: list[str] = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        def cleanup() -> None:
            made = select(Notification.id).where(Notification.created_at.in_(moments),
                                                 Notification.kind.in_(reminders.JOB_KINDS))
            dbs.execute(delete(OutboxEmail).where(OutboxEmail.notification_id.in_(made)))
            dbs.execute(delete(Notification).where(Notification.id.in_(made)))
            dbs.commit()

        cleanup()
        # Warm the caches the same way for both (one pass of the selections, not timed).
        for _zone, _kind, query in reminders.selections(dbs, moments[1]):
            dbs.scalar(select(func.count()).select_from(query.subquery()))
        dbs.rollback()

        floor_hours, rows_hours, floor_statements = [], [], 0
        for moment in moments:
            statements.clear()
            event.listen(engine, "before_cursor_execute", count)
            started = time.perf_counter()
            found = 0
            for _zone, _kind, query in reminders.selections(dbs, moment):
                found += dbs.scalar(select(func.count()).select_from(query.subquery()))
            floor_hours.append(time.perf_counter() - started)
            event.remove(engine, "before_cursor_execute", count)
            floor_statements += len(statements)
            rows_hours.append(found)
            dbs.rollback()

        run_hours, run_statements, reports = [], [], []
        for moment in moments:
            statements.clear()
            event.listen(engine, "before_cursor_execute", count)
            started = time.perf_counter()
            report = reminders.send_reminders(dbs, moment)
            dbs.commit()
            run_hours.append(time.perf_counter() - started)
            event.remove(engine, "before_cursor_execute", count)
            run_statements.append(len(statements))
            reports.append(report)
        made = dbs.scalar(select(func.count()).select_from(Notification).where(
            Notification.created_at.in_(moments), Notification.kind.in_(reminders.JOB_KINDS)))
        queued = dbs.scalar(select(func.count()).select_from(OutboxEmail).join(
            Notification, Notification.id == OutboxEmail.notification_id).where(
            Notification.created_at.in_(moments)))
        # A second pass over the same day adds nothing (and shows the cost of a repeat).
        started = time.perf_counter()
        again = [reminders.send_reminders(dbs, moment) for moment in moments]
        repeat = time.perf_counter() - started
        added_again = sum(r.due_soon + r.overdue + r.expiring + r.emails for r in again)
        cleanup()

    peak = max(range(24), key=lambda h: run_hours[h])
    out.update({
        "hours": [m.isoformat() for m in moments],
        "floor_s": floor_hours, "run_s": run_hours, "selected_rows": rows_hours,
        "floor_total_s": sum(floor_hours), "run_total_s": sum(run_hours),
        "floor_statements": floor_statements, "run_statements": run_statements,
        "zones_per_hour": [len(r.zones) for r in reports],
        "due_soon": sum(r.due_soon for r in reports), "overdue": sum(r.overdue for r in reports),
        "expiring": sum(r.expiring for r in reports), "emails": sum(r.emails for r in reports),
        "notifications_made": made, "outbox_made": queued,
        "repeat_total_s": repeat, "added_by_repeat": added_again,
        "peak_hour": moments[peak].isoformat(), "peak_floor_s": floor_hours[peak],
        "peak_run_s": run_hours[peak], "peak_rows": rows_hours[peak],
    })
    return out


def section(results: list[dict], seconds: float) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [START, f"### Reminders — run of {now}", "",
             f"`bench/run_reminders.py` on {platform.processor() or platform.machine()} "
             f"({_cores()} cores); Python {platform.python_version()}. The whole run took "
             f"{seconds / 60:.1f} min. Day: {results[0]['day']} (7 days before the nearest "
             "decision's due date, Hanoi time), the hourly job run 24 times (00:05 … 23:05 UTC).",
             "",
             "| database | notifications made (due soon / overdue / expiring) | e-mails queued | "
             "(a) floor, 24 h | (b) runs, 24 h | b / a | peak hour (a → b) | statements per run "
             "(min–max) | repeat of the day |",
             "|---|---:|---:|---:|---:|---:|---|---:|---:|"]
    for r in results:
        ratio = r["run_total_s"] / r["floor_total_s"] if r["floor_total_s"] else 0
        lines.append(
            f"| {r['database']} | {r['notifications_made']:,} ({r['due_soon']:,} / "
            f"{r['overdue']:,} / {r['expiring']:,}) | {r['outbox_made']:,} | "
            f"{r['floor_total_s'] * 1000:,.0f} ms | {r['run_total_s'] * 1000:,.0f} ms | "
            f"**{ratio:.2f}** | {r['peak_hour'][11:16]} UTC: {r['peak_rows']:,} rows, "
            f"{r['peak_floor_s'] * 1000:,.0f} → {r['peak_run_s'] * 1000:,.0f} ms | "
            f"{min(r['run_statements'])}–{max(r['run_statements'])} | "
            f"{r['repeat_total_s'] * 1000:,.0f} ms, {r['added_by_repeat']} added |")
    lines += ["", END]
    return "\n".join(lines)


def _cores() -> int:
    import os
    return os.cpu_count() or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--sqlite-url", default=SQLITE_URL)
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--day", default=None, help="the day (YYYY-MM-DD, UTC) to run")
    parser.add_argument("--report", default=str(_common.ROOT / "BENCHMARKS.md"),
                        help="the file to write the section into, or - to print it")
    args = parser.parse_args()
    started = time.perf_counter()
    results = []
    for name in args.databases:
        url = args.sqlite_url if name == "sqlite" else args.pg_url
        results.append(measure(url, args.day))
        print(json.dumps({k: v for k, v in results[-1].items()
                          if not isinstance(v, list)}, indent=1), flush=True)
    _common.DEFAULT_OUT.mkdir(parents=True, exist_ok=True)
    (_common.DEFAULT_OUT / "reminders.json").write_text(json.dumps(results, indent=1))
    text = section(results, time.perf_counter() - started)
    if args.report == "-":
        print(text)
    else:
        _common.write_section(Path(args.report), START, END, "Reminders", text)


if __name__ == "__main__":
    main()
