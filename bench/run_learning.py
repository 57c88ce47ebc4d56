#!/usr/bin/env python
"""Load test of the learning pages against a bare page, in one run; writes BENCHMARKS.md.

    python bench/run_learning.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/lms_bench \
        [--generate]

1. (--generate) builds the data with bench/generate.py (50,000 people, 1,000,000 enrolments);
2. opens signed-in sessions and writes the request lists (bench/sessions.py);
3. counts the SQL statements of one request to each page, in-process;
4. starts gunicorn (same settings for every page), warms every page up, then runs wrk
   against each page in turn, for several rounds, each page's cookies rotating through
   the sessions (course and lesson pages through courses the person is enrolled in);
5. stops gunicorn and writes the results between markers in BENCHMARKS.md, plus the raw
   figures as JSON in --out.

Only 127.0.0.1 is ever loaded; every wrk run is bounded by --duration.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402
from bench.sessions import make_sessions  # noqa: E402

TARGETS = {  # name -> label in the report
    "bare": "bare page (`/_bench/bare`, base.html only)",
    "learning": "My learning (`/learning`)",
    "course": "course page (`/courses/<slug>`)",
    "lesson": "lesson page (`/courses/<slug>/lessons/<key>`)",
}
TARGET_RATIO = 0.5
MARK_START = "<!-- bench/run_learning.py: results start -->"
MARK_END = "<!-- bench/run_learning.py: results end -->"


# ------------------------------------------------------------------ measuring


def count_queries(database_url: str, files: dict[str, Path]) -> dict[str, dict]:
    """One signed-in request to each page in-process, counting the SQL statements (the
    second request of two: the first one warms caches and may touch the session row)."""
    from sqlalchemy import event

    from lms.db import db

    _common.use_bench_environ(database_url)
    app = _common.make_app()
    result: dict[str, dict] = {}
    with app.app_context():
        engine = db.engine
    for target, path in files.items():
        url, cookie = path.read_text().splitlines()[0].split("\t")
        client = app.test_client()
        name, value = cookie.split("=", 1)
        client.set_cookie(name, value, domain="localhost")
        client.get(url)
        statements: list[str] = []

        def before(conn, cursor, statement, *args, _into=statements):
            _into.append(" ".join(statement.split()))

        event.listen(engine, "before_cursor_execute", before)
        try:
            response = client.get(url)
        finally:
            event.remove(engine, "before_cursor_execute", before)
        result[target] = {"url": url, "status": response.status_code, "queries": len(statements),
                          "statements": statements, "bytes": len(response.data)}
    engine.dispose()
    return result


def database_name(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    return make_url(url).database if _common.is_postgres(url) else None


def database_facts(database_url: str) -> dict:
    from sqlalchemy import create_engine, text

    engine = create_engine(_common.sqlalchemy_url(database_url))
    facts: dict = {"tables": {}}
    tables = ("users", "units", "courses", "lessons", "enrolments", "lesson_progress", "user_sessions")
    with engine.connect() as conn:
        for table in tables:
            facts["tables"][table] = {"rows": conn.scalar(text(f"SELECT count(*) FROM {table}"))}
        if engine.dialect.name == "postgresql":
            facts["version"] = conn.scalar(text("SHOW server_version"))
            facts["size"] = conn.scalar(text("SELECT pg_database_size(current_database())"))
            for table in tables:
                facts["tables"][table]["bytes"] = conn.scalar(
                    text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": table})
            facts["settings"] = {name: conn.scalar(text(f"SHOW {name}")) for name in (
                "shared_buffers", "work_mem", "effective_cache_size", "jit", "synchronous_commit",
                "fsync", "max_connections")}
        else:
            facts["version"] = "SQLite " + conn.scalar(text("SELECT sqlite_version()"))
            facts["size"] = _common.sqlite_path(database_url).stat().st_size
    engine.dispose()
    return facts


def machine_facts() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        memory = f"{kib / 2**20:.0f} GiB"
    except (OSError, AttributeError):
        pass
    import gunicorn
    import sqlalchemy

    try:
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
        wrk_version = (wrk.stdout or wrk.stderr).splitlines()[0].split(" Copyright")[0].strip()
    except OSError:
        wrk_version = "not installed"
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(), "flask": _version("flask"),
        "sqlalchemy": sqlalchemy.__version__, "gunicorn": gunicorn.__version__,
        "wrk": wrk_version,
    }


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


# ------------------------------------------------------------------ gunicorn and wrk


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of the machine's CPU time that was busy over ``seconds`` (from /proc/stat)."""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields[:8]), fields[3] + fields[4]  # total, idle + iowait

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


class CpuAccount:
    """CPU time used during a measurement by this benchmark (gunicorn, wrk, PostgreSQL's
    processes for the bench database and its shared helpers) and by everything else."""

    def __init__(self, server_pid: int, database: str | None) -> None:
        self.server_pid, self.database = server_pid, database
        self.tick = os.sysconf("SC_CLK_TCK")

    def _kind(self, pid: int, ppid: int, cmdline: str) -> str | None:
        """"gunicorn", "postgres" (bench database and shared helpers) or None (not ours)."""
        if pid == self.server_pid or ppid == self.server_pid:
            return "gunicorn"
        if self.database is None or not cmdline.startswith("postgres"):
            return None
        client = "(" in cmdline or "[local]" in cmdline or "autovacuum worker" in cmdline
        return "postgres" if not client or f" {self.database} " in f"{cmdline} " else None

    def snapshot(self) -> dict:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        ours: dict[int, tuple[str, int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            rest = stat.rsplit(")", 1)[1].split()
            kind = self._kind(int(entry.name), int(rest[1]), cmdline.strip())
            if kind:
                ours[int(entry.name)] = (kind, int(rest[11]) + int(rest[12]))
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"busy": sum(fields[:8]) - fields[3] - fields[4], "total": sum(fields[:8]),
                "iowait": fields[4], "ours": ours, "children": children.ru_utime + children.ru_stime}

    def shares(self, before: dict, after: dict) -> dict:
        """Busy shares of the machine's capacity over the interval: all, ours, others."""
        capacity = max(1, after["total"] - before["total"])
        by_kind = {"gunicorn": 0.0, "postgres": 0.0}
        for pid, (kind, ticks) in after["ours"].items():
            by_kind[kind] += ticks - before["ours"].get(pid, (kind, 0))[1]
        by_kind["wrk"] = (after["children"] - before["children"]) * self.tick  # it has exited
        ours = sum(by_kind.values())
        busy = after["busy"] - before["busy"]
        shares = {f"cpu_{kind}": ticks / capacity for kind, ticks in by_kind.items()}
        return {"cpu_busy": busy / capacity, "cpu_ours": min(busy, ours) / capacity,
                "cpu_others": max(0, busy - ours) / capacity,
                "cpu_iowait": (after["iowait"] - before["iowait"]) / capacity, **shares}


def calibrate() -> float:
    """Milliseconds a fixed piece of pure Python takes (best of three): shows whether the
    machine itself got slower or faster between measurements (a virtual machine's CPU
    can, without any process here to blame)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for i in range(300_000):
            total += i % 7
        best = min(best, time.perf_counter() - start)
    return best * 1000


def wait_quiet(threshold: float, timeout: float) -> float:
    """Wait (at most ``timeout`` s) until nothing else keeps the CPU busy; others may share
    this machine (test suites, browsers), and a run beside them measures them too."""
    deadline = time.monotonic() + timeout
    busy = cpu_busy()
    while busy > threshold and time.monotonic() < deadline:
        print(f"  machine busy ({100 * busy:.0f}% CPU), waiting ...", flush=True)
        time.sleep(4)
        busy = cpu_busy()
    return busy



class Server:
    def __init__(self, database_url: str, port: int, workers: int, threads: int, log: Path) -> None:
        self.command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread",
                        "--threads", str(threads), "-b", f"127.0.0.1:{port}", "bench.wsgi:app"]
        self.port, self.log_path = port, log
        self.env = _common.bench_environ(database_url)
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(self.command, cwd=_common.ROOT, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait_ready(self, path: str, cookie: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers={"Cookie": cookie})
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited: see {self.log_path}")
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200 and response.url.endswith(path):
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"gunicorn did not serve {path} in {timeout:.0f} s: see {self.log_path}")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own process group only
                self.proc.wait()
        self.log.close()


def wrk(port: int, requests_file: Path, duration: int, threads: int, connections: int,
        timeout: int) -> tuple[list[str], dict, str]:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", f"--timeout={timeout}s",
               "--latency", "-s", str(_common.BENCH_DIR / "rotate.lua"), f"http://127.0.0.1:{port}",
               "--", str(requests_file)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + timeout + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    figures = json.loads(line[len("RESULT "):])
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return command, figures, done.stdout


# ------------------------------------------------------------------ report


def summarise(rounds: list[dict[str, dict]]) -> dict[str, dict]:
    summary = {}
    for target in TARGETS:
        runs = [r[target] for r in rounds]
        rps = [x["rps"] for x in runs]
        ratios = [r[target]["rps"] / r["bare"]["rps"] for r in rounds]
        summary[target] = {
            "rps": statistics.median(rps), "rps_min": min(rps), "rps_max": max(rps),
            "ratio": statistics.median(rps) / statistics.median(x["bare"]["rps"] for x in rounds),
            "ratio_min": min(ratios), "ratio_max": max(ratios),
            "cpu": {k: statistics.mean(x[k] for x in runs) for k in (
                "cpu_gunicorn", "cpu_postgres", "cpu_wrk", "cpu_others", "cpu_iowait")},
            "p50_ms": statistics.median(x["latency_p50_us"] for x in runs) / 1000,
            "p99_ms": max(x["latency_p99_us"] for x in runs) / 1000,
            "requests": sum(x["requests"] for x in runs),
            "not_200": sum(x["not_200"] for x in runs),
            "socket_errors": sum(x["socket_errors"] + x["timeouts"] for x in runs),
            "cpu_busy": statistics.mean(x["cpu_busy"] for x in runs),
            "cpu_others_max": max(x["cpu_others"] for x in runs),
        }
    return summary


def _mib(n: int | None) -> str:
    return f"{n / 2**20:,.0f} MiB" if n is not None else "–"


def render(results: dict) -> str:
    m, db, gen, s = results["machine"], results["database"], results.get("generate"), results["summary"]
    queries = results["queries"]
    args = results["args"]
    out = [MARK_START, "", f"### Learning pages — run of {results['date']}", ""]
    out.append(f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}; {m['os']}; Python {m['python']}, "
               f"Flask {m['flask']}, SQLAlchemy {m['sqlalchemy']}, gunicorn {m['gunicorn']}, {m['wrk']}. "
               "The load tool, the app and the database share the machine.")
    out.append("")
    settings = ", ".join(f"{k}={v}" for k, v in db.get("settings", {}).items())
    out.append(f"Database: {results['database_kind']} {db['version']}, {_mib(db['size'])}"
               + (f" (stock settings: {settings})" if settings else "") + ".")
    out.append("")
    out += ["| table | rows | size (with indexes) |", "|---|---:|---:|"]
    for table, facts in db["tables"].items():
        out.append(f"| {table} | {facts['rows']:,} | {_mib(facts.get('bytes'))} |")
    out.append("")
    if gen:
        c = gen["counts"]
        share = {k: 100 * c[k] / c["enrolments"] for k in ("completed", "in_progress", "not_started")}
        out.append(f"Data: `{gen['command']}` took **{gen['seconds']:.0f} s** "
                   f"({', '.join(f'{k} {v:.1f} s' for k, v in gen['timings'].items())}). "
                   f"Enrolments: {c['completed']:,} completed ({share['completed']:.0f}%), "
                   f"{c['in_progress']:,} in progress ({share['in_progress']:.0f}%), "
                   f"{c['not_started']:,} not started ({share['not_started']:.0f}%), "
                   f"{c['assigned']:,} assigned with a due date; "
                   f"{c['lesson_progress']:,} lesson-progress rows; {c['units']} units, "
                   f"{c['courses']} courses with {c['lessons']} lessons in {c['modules']} modules.")
        out.append("")
    out.append(f"Server: `{' '.join(results['server_command'][2:])}` "
               f"(`{results['server_command'][0].split('/')[-1]} -m gunicorn`), LMS_* settings from the "
               "environment, one process for every page. "
               f"{args['sessions']} signed-in learners; each request takes the next cookie "
               "(course and lesson pages: the next course the person is enrolled in).")
    out.append("")
    out.append(f"Load: `{' '.join(results['wrk_command'])}` per page; {args['warmup']} s warm-up per page, "
               f"then {args['rounds']} rounds of the four pages in turn (order reversed every other round). "
               "req/s is the median of the rounds; "
               "the ratio is that median over the bare page's median (in brackets: the lowest and "
               "highest ratio of a single round to the bare page of the same round); p50 is the "
               "median of the rounds, p99 the worst round.")
    out.append("")
    out += ["| page | SQL queries | req/s | vs bare | p50 | p99 | requests | not 200 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for target, label in TARGETS.items():
        x = s[target]
        ratio = ("1.00" if target == "bare"
                 else f"**{x['ratio']:.2f}** ({x['ratio_min']:.2f}–{x['ratio_max']:.2f})")
        out.append(f"| {label} | {queries[target]['queries']} | {x['rps']:.0f} | {ratio} | "
                   f"{x['p50_ms']:.1f} ms | {x['p99_ms']:.1f} ms | {x['requests']:,} | "
                   f"{x['not_200'] + x['socket_errors']} |")
    out.append("")
    verdicts = []
    for target in ("learning", "course", "lesson"):
        ok = s[target]["ratio"] >= TARGET_RATIO
        verdicts.append(f"{TARGETS[target].split(' (')[0]}: {'met' if ok else '**not met**'} "
                        f"({100 * s[target]['ratio']:.0f}%)")
    out.append(f"Target: each page serves at least {100 * TARGET_RATIO:.0f}% of the bare page's req/s. "
               + "; ".join(verdicts) + ".")
    out.append("")
    others = max(x["cpu_others_max"] for x in s.values())
    out.append("Per round: req/s, and in brackets the share of the machine's CPU used by anything "
               "other than this benchmark (gunicorn, wrk, the bench database's PostgreSQL processes) "
               f"during that measurement — at most {100 * others:.0f}% in this run; the machine was "
               f"{100 * statistics.mean(x['cpu_busy'] for x in s.values()):.0f}% busy on average.")
    out.append("")
    speeds = [r[t]["calibration_ms"] for r in results["rounds"] for t in TARGETS]
    out.append(f"A fixed piece of Python took {min(speeds):.1f}–{max(speeds):.1f} ms before the "
               "measurements: the machine's own speed drifts by that much between them.")
    out.append("")
    out += ["| round | " + " | ".join(TARGETS) + " |", "|---|" + "---:|" * len(TARGETS)]
    for i, r in enumerate(results["rounds"], 1):
        out.append(f"| {i} | " + " | ".join(
            f"{r[t]['rps']:.0f} ({100 * r[t]['cpu_others']:.0f}%)" for t in TARGETS) + " |")
    out.append("")
    out.append("Where the machine's CPU went during the measurements (mean share of both cores):")
    out.append("")
    out += ["| page | gunicorn (the app) | PostgreSQL | wrk | others | I/O wait |",
            "|---|---:|---:|---:|---:|---:|"]
    for target in TARGETS:
        c = s[target]["cpu"]
        cells = [c[k] for k in ("cpu_gunicorn", "cpu_postgres", "cpu_wrk", "cpu_others", "cpu_iowait")]
        out.append(f"| {target} | " + " | ".join(f"{100 * v:.0f}%" for v in cells) + " |")
    out.append("")
    out.append("SQL statements of one request (in-process, counted with an engine event listener):")
    out.append("")
    for target in TARGETS:
        q = queries[target]
        out.append(f"- `{q['url'].split(chr(9))[0]}` → {q['status']}, {q['queries']} statements, "
                   f"{q['bytes']:,} bytes of HTML")
    out += ["", MARK_END]
    return "\n".join(out)


HEADER = """# Benchmarks

Figures measured with the scripts in `bench/` (see `bench/README.md`). Sections between
the markers are rewritten by the scripts; the text around them is written by hand.

"""


def write_report(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else HEADER
    if MARK_START in text and MARK_END in text:
        before, rest = text.split(MARK_START, 1)
        after = rest.split(MARK_END, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n## Learning pages\n\n" + section + "\n"
    path.write_text(text)


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--generate", action="store_true",
                        help="(re)build the data first: drops and creates the database")
    parser.add_argument("--generate-args", default="", help="extra arguments for generate.py")
    parser.add_argument("--sessions", type=int, default=400)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=10, help="seconds per page and round")
    parser.add_argument("--warmup", type=int, default=5, help="seconds per page before measuring")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--timeout", type=int, default=10, help="wrk request timeout (s)")
    parser.add_argument("--quiet-threshold", type=float, default=0.15,
                        help="before each measurement wait until the CPU is at most this busy")
    parser.add_argument("--quiet-timeout", type=float, default=120,
                        help="seconds to wait for a quiet machine before measuring anyway")
    parser.add_argument("--out", type=Path, default=_common.DEFAULT_OUT)
    parser.add_argument("--report", type=Path, default=_common.ROOT / "BENCHMARKS.md",
                        help="file to write the results into ('-' for none)")
    args = parser.parse_args()
    url = _common.sqlalchemy_url(args.database_url)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    generated = None
    summary_file = args.out / "generate.json"
    if args.generate:
        command = [sys.executable, str(_common.BENCH_DIR / "generate.py"), "--database-url", url,
                   "--drop-existing", "--summary-json", str(summary_file), *args.generate_args.split()]
        if _common.is_postgres(url):
            command.append("--create")
        subprocess.run(command, check=True, cwd=_common.ROOT)
    if summary_file.exists():
        generated = json.loads(summary_file.read_text())
        if generated.get("database_url") != url:
            generated = None

    print("sessions and request lists ...", flush=True)
    files = make_sessions(url, args.sessions, args.out)
    print("counting queries ...", flush=True)
    queries = count_queries(url, files)
    for target, q in queries.items():
        print(f"  {target:<9} {q['status']} {q['queries']:>3} statements")
        if q["status"] != 200:
            raise SystemExit(f"{q['url']} answered {q['status']}: the cookies do not sign in")

    server = Server(url, args.port, args.workers, args.threads, args.out / "gunicorn.log")
    rounds: list[dict[str, dict]] = []
    raw: list[str] = []
    wrk_command: list[str] = []
    print(f"starting: {' '.join(server.command)}", flush=True)
    with server:
        first = files["bare"].read_text().splitlines()[0].split("\t")
        server.wait_ready(*first)
        account = CpuAccount(server.proc.pid, database_name(url))
        for target in TARGETS:
            print(f"warm-up {target} ({args.warmup} s)", flush=True)
            wrk(args.port, files[target], args.warmup, args.wrk_threads, args.connections, args.timeout)
        for number in range(args.rounds):
            order = list(TARGETS) if number % 2 == 0 else list(reversed(TARGETS))
            this: dict[str, dict] = {}
            for target in order:
                busy = wait_quiet(args.quiet_threshold, args.quiet_timeout)
                speed = calibrate()
                before = account.snapshot()
                wrk_command, figures, stdout = wrk(args.port, files[target], args.duration,
                                                   args.wrk_threads, args.connections, args.timeout)
                figures.update(account.shares(before, account.snapshot()), cpu_busy_before=busy,
                               calibration_ms=speed)
                this[target] = figures
                raw.append(f"== round {number + 1} {target}\n{stdout}")
                print(f"round {number + 1} {target:<9} {figures['rps']:7.1f} req/s  "
                      f"p50 {figures['latency_p50_us'] / 1000:6.1f} ms  "
                      f"p99 {figures['latency_p99_us'] / 1000:6.1f} ms  not 200: {figures['not_200']}  "
                      f"CPU: app {100 * figures['cpu_gunicorn']:.0f}%, "
                      f"db {100 * figures['cpu_postgres']:.0f}%, "
                      f"wrk {100 * figures['cpu_wrk']:.0f}%, others {100 * figures['cpu_others']:.0f}%, "
                      f"iowait {100 * figures['cpu_iowait']:.0f}%, calibration {speed:.1f} ms",
                      flush=True)
            rounds.append(this)
    wrk_shown = [c if not c.startswith(("/", str(_common.ROOT))) else c.replace(str(_common.ROOT) + "/", "")
                 for c in wrk_command]
    wrk_shown[-1] = "requests-<page>.tsv"
    results = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": machine_facts(),
        "database_kind": "PostgreSQL" if _common.is_postgres(url) else "SQLite",
        "database": database_facts(url),
        "generate": generated,
        "queries": queries,
        "server_command": server.command,
        "wrk_command": wrk_shown,
        "rounds": rounds,
        "summary": summarise(rounds),
        "seconds": time.monotonic() - started,
    }
    (args.out / "results-learning.json").write_text(json.dumps(results, indent=2, default=str))
    (args.out / "wrk-learning.txt").write_text("\n".join(raw))
    section = render(results)
    if str(args.report) != "-":
        write_report(args.report, section)
        print(f"\nwrote {args.report}")
    print(section)
    print(f"\nwhole run: {results['seconds']:.0f} s; raw figures in {args.out}")


if __name__ == "__main__":
    main()
