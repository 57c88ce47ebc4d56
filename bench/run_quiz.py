#!/usr/bin/env python
"""Quiz autosave and submit under concurrent learners, against the bare page; checks that no
answer was lost and no attempt graded twice by counting rows afterwards.

    python bench/run_quiz.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/lms_bench_quiz

1. drops and creates the database (its name must contain "bench"), migrates it, and adds a
   published course with a bank of 30 questions and a quiz drawing 15 (unlimited
   attempts, one page), and LEARNERS people with signed-in sessions;
2. starts gunicorn (bench.wsgi:app, the settings of run_learning.py);
3. for ROUNDS rounds, alternately: LEARNERS concurrent clients request the bare page as
   fast as they can; then LEARNERS concurrent learners take the quiz again and again:
   start (POST), open the attempt page, save every answer in the background (JSON, about
   a third of them changed once more), submit twice (a double click), open the result;
4. counts: every answer the server acknowledged is stored with its last value, every
   started attempt is submitted once with the score its stored answers earn, and no
   attempt exists that no learner started;
5. writes the figures between markers in BENCHMARKS.md.

The clients are separate processes (threads inside each) so the load tool's own Python
is not the bottleneck of one interpreter. Only 127.0.0.1 is ever loaded; each phase is
bounded by --duration.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import multiprocessing
import os
import random
import re
import statistics
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402
from bench.run_learning import Server, machine_facts  # noqa: E402

MARK_START = "<!-- bench/run_quiz.py: results start -->"
MARK_END = "<!-- bench/run_quiz.py: results end -->"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
META_CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
BANK, DRAWN, CHOICES = 30, 15, 4


# ------------------------------------------------------------------ setup


def prepare(url: str, learners: int) -> tuple[int, list[tuple[int, str]]]:
    """A fresh database with the course, the quiz and LEARNERS signed-in people."""
    _common.recreate_database(url)

    from lms.auth.sessions import start_session
    from lms.cli import upgrade_database
    from lms.db import db
    from lms.extensions import login_manager
    from lms.org import services

    _common.use_bench_environ(url)
    app = _common.make_app()
    with app.app_context():
        upgrade_database()
        dbs = db.session
        root = services.create_unit(dbs, None, services.UnitData(code="BNG", name="Bộ Ngoại giao",
                                                                 kind="ministry"))
        quiz = _common.quiz_course(dbs, "bench-quiz", "Kiểm tra tải", "Nội dung.", BANK, DRAWN,
                                   CHOICES)
        people = [services.create_person(dbs, None, services.PersonData(
            employee_code=f"Q{n:04d}", full_name=f"Học Viên {n}", email=f"q{n}@mofa.example",
            unit_id=root.id), audit=False, must_change_password=False) for n in range(learners)]
        tokens = {p.id: start_session(dbs, p, "127.0.0.1", "lms-bench") for p in people}
        dbs.commit()
        quiz_id = quiz.id
        db.engine.dispose()
    name = app.config["SESSION_COOKIE_NAME"]
    cookies = []
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                  headers={"User-Agent": "lms-bench"}):
        serializer = app.session_interface.get_signing_serializer(app)
        for user_id in sorted(tokens):
            data = {"_user_id": str(user_id), "_fresh": True,
                    "_id": login_manager._session_identifier_generator(), "sid": tokens[user_id],
                    "_permanent": True, "csrf_token": hashlib.sha1(os.urandom(64)).hexdigest()}
            cookies.append((user_id, f"{name}={serializer.dumps(data)}"))
    return quiz_id, cookies


# ------------------------------------------------------------------ clients


class Browser:
    """One learner's keep-alive connection with their cookie."""

    def __init__(self, port: int, cookie: str) -> None:
        self.port, self.cookie = port, cookie
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, dict, bytes, float]:
        headers = {"Cookie": self.cookie, "User-Agent": "lms-bench", **(headers or {})}
        started = time.perf_counter()
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                return response.status, dict(response.getheaders()), data, time.perf_counter() - started
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def bare_client(port: int, cookie: str, until: float, out: dict) -> None:
    browser = Browser(port, cookie)
    while time.monotonic() < until:
        status, _h, _d, took = browser.request("GET", "/_bench/bare")
        out["latencies"].append(took)
        out["requests"] += 1
        out["errors"] += status != 200


def quiz_client(port: int, cookie: str, quiz_id: int, until: float, seed: int, out: dict) -> None:
    """Takes the quiz again and again; stops starting new attempts at ``until`` but always
    finishes the attempt it is in (those requests are not counted)."""
    rng = random.Random(seed)
    browser = Browser(port, cookie)
    status, _h, page, _t = browser.request("GET", f"/quizzes/{quiz_id}")
    token = CSRF_RE.search(page.decode()).group(1)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    json_headers = {"Content-Type": "application/json", "X-CSRFToken": token}

    def timed(method, path, body=None, headers=None, expect=(200,)):
        status, headers_, data, took = browser.request(method, path, body, headers)
        if time.monotonic() < until:
            out["latencies"].append(took)
            out["requests"] += 1
        if status not in expect:
            out["errors"] += 1
            out["error_samples"].append(f"{method} {path} -> {status} {data[:200]!r}")
        return status, headers_, data

    while time.monotonic() < until:
        status, headers, _d = timed("POST", f"/quizzes/{quiz_id}/start",
                                    f"csrf_token={token}".encode(), form, expect=(302, 303))
        match = re.search(r"/attempts/(\d+)", headers.get("Location", ""))
        if not match:
            break
        attempt = int(match.group(1))
        timed("GET", f"/attempts/{attempt}")
        ledger: dict[int, int] = {}
        positions = list(range(1, DRAWN + 1))
        changes = positions + rng.sample(positions, DRAWN // 3)
        for position in changes:
            value = rng.randrange(CHOICES)
            status, _h, data = timed("POST", f"/attempts/{attempt}/answer",
                                     json.dumps({"position": position, "value": str(value)}).encode(),
                                     json_headers)
            if status == 200 and json.loads(data).get("saved"):
                ledger[position] = value
        for _click in range(2):
            timed("POST", f"/attempts/{attempt}/submit", f"csrf_token={token}".encode(), form,
                  expect=(302, 303))
        timed("GET", f"/attempts/{attempt}/result")
        out["attempts"][attempt] = ledger


def run_clients(kind: str, port: int, cookies: list[str], quiz_id: int, duration: float,
                seed: int, threads_per_process: int) -> dict:
    until_wall = time.time() + duration + 2  # processes start at slightly different moments
    groups = [cookies[i:i + threads_per_process] for i in range(0, len(cookies), threads_per_process)]
    with multiprocessing.get_context("fork").Pool(len(groups)) as pool:
        parts = pool.starmap(_client_process, [
            (kind, port, group, quiz_id, until_wall, seed + n * 1000) for n, group in enumerate(groups)])
    merged = {"requests": 0, "errors": 0, "latencies": [], "attempts": {}, "error_samples": [],
              "seconds": 0.0}
    for part in parts:
        for key in ("requests", "errors"):
            merged[key] += part[key]
        merged["latencies"] += part["latencies"]
        merged["attempts"].update(part["attempts"])
        merged["error_samples"] += part["error_samples"][:5]
        merged["seconds"] = max(merged["seconds"], part["seconds"])
    return merged


def _client_process(kind, port, cookies, quiz_id, until_wall, seed) -> dict:
    until = time.monotonic() + (until_wall - time.time())
    started = time.monotonic()
    outs = [{"requests": 0, "errors": 0, "latencies": [], "attempts": {}, "error_samples": []}
            for _ in cookies]
    threads = []
    for n, (cookie, out) in enumerate(zip(cookies, outs, strict=True)):
        target = bare_client if kind == "bare" else quiz_client
        args = (port, cookie, until, out) if kind == "bare" else (port, cookie, quiz_id, until, seed + n, out)
        threads.append(threading.Thread(target=target, args=args))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = {"requests": sum(o["requests"] for o in outs), "errors": sum(o["errors"] for o in outs),
              "latencies": [x for o in outs for x in o["latencies"]],
              "attempts": {k: v for o in outs for k, v in o["attempts"].items()},
              "error_samples": [x for o in outs for x in o["error_samples"]],
              "seconds": min(time.monotonic(), until) - started}
    return merged


# ------------------------------------------------------------------ checking


def check(url: str, ledger: dict[int, dict[int, int]], grade_log: Path) -> dict:
    """Count rows: every acknowledged answer stored, every attempt submitted and graded once
    (the server appended each committed grading to ``grade_log``)."""
    from sqlalchemy import func, select

    from lms.db import db
    from lms.quizzes.grading import grade
    from lms.quizzes.models import Attempt, AttemptAnswer
    from lms.quizzes.specio import spec_from_dict

    _common.use_bench_environ(url)
    app = _common.make_app()
    with app.app_context():
        dbs = db.session
        attempts = {a.id: a for a in dbs.scalars(select(Attempt))}
        answers = dbs.execute(select(AttemptAnswer)).scalars().all()
        by_attempt: dict[int, list] = {}
        for answer in answers:
            by_attempt.setdefault(answer.attempt_id, []).append(answer)
        lost, wrong_score, open_left, double = 0, 0, 0, 0
        for attempt_id, saved in ledger.items():
            attempt = attempts.get(attempt_id)
            if attempt is None:
                lost += len(saved)
                continue
            if attempt.status != "submitted":
                open_left += 1
            rows = {a.position: a for a in by_attempt.get(attempt_id, [])}
            for position, value in saved.items():
                row = rows.get(position)
                if row is None or row.response != row.display[value]:
                    lost += 1
            expected = sum(grade(spec_from_dict(a.version.spec), a.response).score for a in rows.values())
            if attempt.score is None or abs(attempt.score - expected) > 1e-6:
                wrong_score += 1
        unknown = len(set(attempts) - set(ledger))
        per_person_open = dbs.scalar(select(func.count()).select_from(
            select(Attempt.user_id).where(Attempt.status == "open").group_by(Attempt.user_id, Attempt.quiz_id)
            .having(func.count() > 1).subquery()))
        double = per_person_open or 0
        gradings = Counter(int(line) for line in grade_log.read_text().split())
        submitted = {i for i, a in attempts.items() if a.status == "submitted"}
        graded_twice = sum(1 for n in gradings.values() if n > 1)
        not_graded = len(submitted - set(gradings))
        db.engine.dispose()
    return {"attempts_started": len(ledger), "attempts_in_db": len(attempts),
            "answers_acknowledged": sum(len(s) for s in ledger.values()), "answers_lost": lost,
            "attempts_not_submitted": open_left, "scores_wrong": wrong_score,
            "attempts_nobody_started": unknown, "people_with_two_open_attempts": double,
            "gradings": sum(gradings.values()), "attempts_graded_twice": graded_twice,
            "submitted_never_graded": not_graded}


# ------------------------------------------------------------------ report


def summarise(phases: list[tuple[str, dict]]) -> dict:
    out = {}
    for kind in ("bare", "quiz"):
        runs = [p for k, p in phases if k == kind]
        rps = [p["requests"] / p["seconds"] for p in runs]
        latencies = sorted(x for p in runs for x in p["latencies"])
        out[kind] = {"rps": statistics.median(rps), "rps_all": rps,
                     "requests": sum(p["requests"] for p in runs),
                     "errors": sum(p["errors"] for p in runs),
                     "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else 0,
                     "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else 0}
    ratios = [q["requests"] / q["seconds"] / (b["requests"] / b["seconds"])
              for (_k1, b), (_k2, q) in zip(phases[0::2], phases[1::2], strict=True)]
    out["ratio"] = out["quiz"]["rps"] / out["bare"]["rps"]
    out["ratio_min"], out["ratio_max"] = min(ratios), max(ratios)
    return out


def render(results: dict) -> str:
    s, c, a = results["summary"], results["check"], results["args"]
    m = results["machine"]
    lines = [
        MARK_START,
        f"### Quiz autosave and submit — run of {results['when']}",
        "",
        f"`bench/run_quiz.py` on {m['cpu']} ({m['cores']} cores, {m['memory']}), {results['database']}; "
        f"gunicorn {a['workers']} workers × {a['threads']} threads (gthread); {a['learners']} concurrent "
        f"learners in {a['processes']} client processes; {a['rounds']} rounds of {a['duration']} s per "
        "phase, bare and quiz phases alternating. A quiz request is one of: start, attempt page, "
        f"answer autosave (JSON; {DRAWN} answers and {DRAWN // 3} changes per attempt), submit "
        "(sent twice: a double click), result page.",
        "",
        "| phase | requests | req/s (median) | vs bare | p50 | p99 | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| bare page (`/_bench/bare`) | {s['bare']['requests']:,} | {s['bare']['rps']:.0f} | 1 | "
        f"{s['bare']['p50_ms']:.0f} ms | {s['bare']['p99_ms']:.0f} ms | {s['bare']['errors']} |",
        f"| quiz: start, page, autosave, submit ×2, result | {s['quiz']['requests']:,} | "
        f"{s['quiz']['rps']:.0f} | **{s['ratio']:.2f}** ({s['ratio_min']:.2f}–{s['ratio_max']:.2f}) | "
        f"{s['quiz']['p50_ms']:.0f} ms | {s['quiz']['p99_ms']:.0f} ms | {s['quiz']['errors']} |",
        "",
        "Counted in the database after the run:",
        "",
        f"- attempts started by the learners: {c['attempts_started']:,}; attempts in the database: "
        f"{c['attempts_in_db']:,}; attempts nobody started: {c['attempts_nobody_started']}",
        f"- questions with an acknowledged answer (the last of the {DRAWN + DRAWN // 3} saves an attempt "
        f"sends counts): {c['answers_acknowledged']:,}; **lost or not the last "
        f"value saved: {c['answers_lost']}**",
        f"- attempts left open: {c['attempts_not_submitted']}; **attempts whose score differs from "
        f"grading their stored answers once: {c['scores_wrong']}**; people with two open attempts: "
        f"{c['people_with_two_open_attempts']}",
        f"- gradings the server committed (each appended to a log by the bench app): "
        f"{c['gradings']:,} for {c['attempts_in_db']:,} attempts; **attempts graded twice: "
        f"{c['attempts_graded_twice']}**; submitted attempts never graded: {c['submitted_never_graded']}",
        "",
        MARK_END,
    ]
    return "\n".join(lines)


def write_report(path: Path, section: str) -> None:
    _common.write_section(path, MARK_START, MARK_END, "Quizzes", section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--learners", type=int, default=64)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--duration", type=int, default=15, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=_common.DEFAULT_OUT)
    parser.add_argument("--report", type=Path, default=_common.ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    url = _common.sqlalchemy_url(args.database_url)
    args.out.mkdir(parents=True, exist_ok=True)
    print("preparing the database ...", flush=True)
    quiz_id, cookies = prepare(url, args.learners)
    cookie_list = [c for _u, c in cookies]
    per_process = -(-len(cookie_list) // args.processes)
    server = Server(url, args.port, args.workers, args.threads, args.out / "gunicorn-quiz.log")
    grade_log = args.out / "quiz-gradings.log"
    grade_log.unlink(missing_ok=True)
    server.env[_common.GRADE_LOG_VARIABLE] = str(grade_log)
    phases: list[tuple[str, dict]] = []
    ledger: dict[int, dict[int, int]] = {}
    with server:
        server.wait_ready("/_bench/bare", cookie_list[0])
        run_clients("bare", args.port, cookie_list, quiz_id, 3, 0, per_process)  # warm-up
        for number in range(args.rounds):
            for kind in ("bare", "quiz"):
                result = run_clients(kind, args.port, cookie_list, quiz_id, args.duration,
                                     number * 100_000, per_process)
                phases.append((kind, result))
                ledger.update({int(k): v for k, v in result["attempts"].items()})
                print(f"round {number + 1} {kind}: {result['requests']} requests in "
                      f"{result['seconds']:.1f} s, {result['errors']} errors "
                      f"{result['error_samples'][:2]}", flush=True)
    checked = check(url, ledger, grade_log)
    summary = summarise(phases)
    results = {"when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": machine_facts(), "args": vars(args) | {"out": str(args.out),
                                                                 "report": str(args.report)},
               "database": "PostgreSQL" if _common.is_postgres(url) else "SQLite",
               "summary": summary, "check": checked}
    (args.out / "quiz-results.json").write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps({"summary": summary, "check": checked}, indent=2, default=str))
    if str(args.report) != "-":
        write_report(args.report, render(results))
    bad = checked["answers_lost"] + checked["scores_wrong"] + checked["attempts_not_submitted"] \
        + checked["attempts_nobody_started"] + checked["people_with_two_open_attempts"] \
        + checked["attempts_graded_twice"] + checked["submitted_never_graded"]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
