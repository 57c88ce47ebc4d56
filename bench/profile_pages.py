#!/usr/bin/env python
"""Where a page's time goes, in-process (no server, no load tool, one thread).

    python bench/profile_pages.py --database-url URL [--requests 300] [--cprofile lesson]

Uses the request lists made by bench/sessions.py (run_learning.py leaves them in --out).
For each page: mean wall time per request, and how much of it is spent waiting for SQL
statements (engine events), rendering templates (Flask's template signals) and in the
rest of the request (routing, sign-in, ORM, Babel, cookies). ``--cprofile PAGE`` adds
the functions that take the most time of their own.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402

TARGETS = ("bare", "learning", "course", "lesson")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--out", type=Path, default=_common.DEFAULT_OUT,
                        help="folder with the requests-<page>.tsv files")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--cprofile", action="append", default=[], choices=TARGETS)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    from flask import before_render_template, template_rendered
    from sqlalchemy import event

    from lms.db import db

    _common.use_bench_environ(args.database_url)
    app = _common.make_app()
    with app.app_context():
        engine = db.engine
    clock = {"sql": 0.0, "sql_n": 0, "template": 0.0}

    def before_sql(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t0"] = time.perf_counter()

    def after_sql(conn, cursor, statement, parameters, context, executemany):
        clock["sql"] += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())
        clock["sql_n"] += 1

    started: list[float] = []

    def before_template(sender, template, context, **extra):
        started.append(time.perf_counter())

    def after_template(sender, template, context, **extra):
        clock["template"] += time.perf_counter() - started.pop()

    event.listen(engine, "before_cursor_execute", before_sql)
    event.listen(engine, "after_cursor_execute", after_sql)
    before_render_template.connect(before_template, app)
    template_rendered.connect(after_template, app)

    requests = {t: [line.split("\t") for line in (args.out / f"requests-{t}.tsv").read_text().splitlines()]
                for t in TARGETS}
    client = app.test_client()

    def run(target: str, n: int) -> None:
        rows = requests[target]
        for i in range(n):
            path, cookie = rows[i % len(rows)]
            name, value = cookie.split("=", 1)
            client.set_cookie(name, value, domain="localhost")
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}")

    # Every session row is touched at most once a minute (last_seen_at): touch them all now,
    # so that no page pays for that write while it is measured.
    run("bare", len(requests["bare"]))
    print(f"{'page':<10}{'ms/request':>11}{'SQL ms':>9}{'stmts':>7}{'template ms':>13}{'rest ms':>9}")
    for target in TARGETS:
        run(target, 20)  # warm caches and compiled statements
        for key in clock:
            clock[key] = 0
        t0 = time.perf_counter()
        run(target, args.requests)
        total = (time.perf_counter() - t0) * 1000 / args.requests
        sql, tpl = clock["sql"] * 1000 / args.requests, clock["template"] * 1000 / args.requests
        print(f"{target:<10}{total:>11.2f}{sql:>9.2f}{clock['sql_n'] / args.requests:>7.1f}"
              f"{tpl:>13.2f}{total - sql - tpl:>9.2f}")
    for target in args.cprofile:
        profile = cProfile.Profile()
        profile.enable()
        run(target, args.requests)
        profile.disable()
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(args.top)
        print(f"\n== {target}: functions by own time ({args.requests} requests, under cProfile)")
        print(text.getvalue().split("\n\n", 2)[-1])
    engine.dispose()


if __name__ == "__main__":
    main()
