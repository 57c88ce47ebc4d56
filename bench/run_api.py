#!/usr/bin/env python
"""Time the API's progress feed, its incremental pull and the unit figures on the reports
benchmark's ministry (50,000 people, 1,000,000 enrolments; bench/generate_ministry.py).

    .venv/bin/python bench/run_api.py [--databases sqlite postgresql] [--report -]

Every figure is the median of ``--rounds`` requests made in-process (Flask's test client:
routing, token check, the query, JSON, the call log's INSERT and commit; no network), each
next to its baseline measured in the same run:

- a page of 500 enrolments of ``GET /api/v1/progress`` at the start, middle and end of the
  feed (the cursor taken from the row before), against (a) the page's own SELECT run alone
  (the floor) and (b) the same page read with LIMIT/OFFSET, which is what a cursor avoids;
- an incremental pull (``updated_since``) after 1,000 enrolments changed, all its pages,
  against the same pull's SELECTs alone;
- the ministry's ``/units/{code}/progress`` (the dashboard's figures) against
  ``reports.queries.live_dashboard`` called directly.

The changed rows are put back and the client deleted at the end, so the run can be repeated.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402

SQLITE_URL = f"sqlite:///{_common.DEFAULT_OUT / 'lms_bench_reports.db'}"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/lms_bench_reports"
START = "<!-- bench/run_api.py: results start -->"
END = "<!-- bench/run_api.py: results end -->"
PAGE = 500
CHANGED = 1000


def median_ms(work, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def measure(url: str, rounds: int) -> dict:
    from sqlalchemy import delete, func, select, update

    from lms.api.clients import create_client, principal_for
    from lms.api.models import ApiCall, ApiClient
    from lms.api.pagination import after, encode_cursor
    from lms.api.progress import FEED_KEY, enrolment_feed
    from lms.courses.models import Enrolment
    from lms.db import db, sqlite_write_intent, utcnow
    from lms.org.models import Unit
    from lms.reports.figures import Filters
    from lms.reports.queries import live_dashboard

    _common.use_bench_environ(url)
    app = _common.make_app({"API_RATE_LIMIT": "100000 per minute"})
    out: dict = {"database": "PostgreSQL" if _common.is_postgres(url) else "SQLite"}
    with app.app_context():
        dbs = db.session
        token = sqlite_write_intent.set(True)
        client, secret = create_client(dbs, None, "bench", ["progress:read"])
        dbs.commit()
        sqlite_write_intent.reset(token)
        headers = {"Authorization": f"Bearer {secret}"}
        http = app.test_client()
        total = dbs.scalar(select(func.count()).select_from(Enrolment))
        out["enrolments"] = total

        def get(path: str) -> dict:
            response = http.get("/api/v1" + path, headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            return response.get_json()

        principal = principal_for(dbs.get(ApiClient, client.id))
        principal_statement = enrolment_feed(principal)
        pages = []
        for label, fraction in (("start", 0.0), ("middle", 0.5), ("end", 0.999)):
            offset = int(total * fraction)
            key = None
            if offset:
                key = dbs.execute(select(*FEED_KEY).order_by(*FEED_KEY).offset(offset - 1)
                                  .limit(1)).one()
            path = f"/progress?limit={PAGE}" + (f"&cursor={encode_cursor(list(key))}" if key else "")
            keyset = principal_statement.order_by(*FEED_KEY).limit(PAGE + 1)
            if key is not None:
                keyset = keyset.where(after(FEED_KEY, list(key)))
            offset_page = principal_statement.order_by(*FEED_KEY).offset(offset).limit(PAGE + 1)
            assert len(get(path)["data"]) == min(PAGE, total - offset)
            pages.append({
                "page": label, "offset": offset,
                "api_ms": median_ms(lambda p=path: get(p), rounds),
                "floor_ms": median_ms(lambda s=keyset: dbs.execute(s).all(), rounds),
                "offset_ms": median_ms(lambda s=offset_page: dbs.execute(s).all(), rounds),
            })
            dbs.rollback()
        out["pages"] = pages

        # -- incremental: 1,000 enrolments change; the pull finds exactly those
        token = sqlite_write_intent.set(True)
        ids = list(dbs.scalars(select(Enrolment.id).order_by(Enrolment.id).limit(CHANGED)))
        saved = dict(dbs.execute(select(Enrolment.id, Enrolment.updated_at)
                                 .where(Enrolment.id.in_(ids))).all())
        mark = utcnow() + timedelta(days=3650)     # later than anything generated
        dbs.execute(update(Enrolment).where(Enrolment.id.in_(ids)).values(updated_at=mark)
                    .execution_options(synchronize_session=False))
        dbs.commit()
        sqlite_write_intent.reset(token)
        since = mark.isoformat().replace("+00:00", "Z")

        def pull() -> int:
            body, count = get(f"/progress?limit={PAGE}&updated_since={since}"), 0
            while True:
                count += len(body["data"])
                if not body["next_cursor"]:
                    return count
                body = get(f"/progress?limit={PAGE}&updated_since={since}&cursor={body['next_cursor']}")

        assert pull() == CHANGED
        incremental = enrolment_feed(principal, updated_since=mark)

        def pull_floor() -> None:
            rows = dbs.execute(incremental.order_by(*FEED_KEY).limit(PAGE + 1)).all()
            dbs.execute(incremental.where(after(FEED_KEY, [rows[PAGE - 1][0].updated_at,
                                                           rows[PAGE - 1][0].id]))
                        .order_by(*FEED_KEY).limit(PAGE + 1)).all()

        out["incremental"] = {"changed": CHANGED, "api_ms": median_ms(pull, rounds),
                              "floor_ms": median_ms(pull_floor, rounds)}
        dbs.rollback()
        token = sqlite_write_intent.set(True)
        dbs.execute(update(Enrolment), [{"id": i, "updated_at": at} for i, at in saved.items()])
        dbs.commit()
        sqlite_write_intent.reset(token)

        # -- the ministry's dashboard figures
        root = dbs.scalar(select(Unit).where(Unit.parent_id.is_(None)))
        out["unit"] = {"code": root.code,
                       "api_ms": median_ms(lambda: get(f"/units/{root.code}/progress"), rounds),
                       "floor_ms": median_ms(lambda: live_dashboard(dbs, root, Filters(), utcnow()),
                                             rounds)}
        dbs.rollback()
        token = sqlite_write_intent.set(True)
        dbs.execute(delete(ApiCall).where(ApiCall.client_id == client.id))
        dbs.execute(delete(ApiClient).where(ApiClient.id == client.id))
        dbs.commit()
        sqlite_write_intent.reset(token)
    db_engine = app.extensions["lms.db"].kw["bind"]
    db_engine.dispose()
    return out


def _ratio(a: float, b: float) -> str:
    return f"**{a / b:.2f}**" if b else "–"


def report(results: list[dict], rounds: int, seconds: float) -> str:
    lines = [START, f"### API — run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
             f"`bench/run_api.py` on {platform.machine()} ({os.cpu_count()} cores); Python "
             f"{platform.python_version()}; median of {rounds} requests each, in-process. "
             f"The whole run took {seconds / 60:.1f} min.", "",
             "A page of 500 enrolments of `GET /api/v1/progress` (cursor) against its own "
             "SELECT alone (floor) and the same page read with OFFSET:", "",
             "| database | page (offset) | API request | floor: the page's SELECT | API / floor "
             "| same page by OFFSET | OFFSET / floor |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for result in results:
        for page in result["pages"]:
            lines.append(
                f"| {result['database']} | {page['page']} ({page['offset']:,}) | "
                f"{page['api_ms']:.1f} ms | {page['floor_ms']:.1f} ms | "
                f"{_ratio(page['api_ms'], page['floor_ms'])} | {page['offset_ms']:.1f} ms | "
                f"{_ratio(page['offset_ms'], page['floor_ms'])} |")
    lines += ["", "Incremental pull (`updated_since`) after 1,000 enrolments changed (2 pages), "
              "and the ministry's `/units/{code}/progress` against `live_dashboard` called "
              "directly:", "",
              "| database | incremental pull | its SELECTs alone | API / floor | ministry figures "
              "| `live_dashboard` | API / floor |", "|---|---:|---:|---:|---:|---:|---:|"]
    for result in results:
        inc, unit = result["incremental"], result["unit"]
        lines.append(f"| {result['database']} | {inc['api_ms']:.1f} ms | {inc['floor_ms']:.1f} ms "
                     f"| {_ratio(inc['api_ms'], inc['floor_ms'])} | {unit['api_ms']:.1f} ms | "
                     f"{unit['floor_ms']:.1f} ms | {_ratio(unit['api_ms'], unit['floor_ms'])} |")
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--report", default=str(_common.ROOT / "BENCHMARKS.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    urls = {"sqlite": SQLITE_URL, "postgresql": PG_URL}
    results = [measure(urls[name], args.rounds) for name in args.databases]
    (_common.DEFAULT_OUT / "api.json").write_text(json.dumps(results, indent=1))
    text = report(results, args.rounds, time.perf_counter() - started)
    if args.report == "-":
        print(text)
    else:
        _common.write_section(Path(args.report), START, END, "API", text)
        print(text)


if __name__ == "__main__":
    main()
