#!/usr/bin/env python
"""Mixed load with faults against two gunicorn instances and the scheduler on PostgreSQL;
counts rows afterwards to show that nothing the clients saw acknowledged was lost or doubled.

    python bench/run_load.py [--short] [--faults scheduler,gunicorn | all | none] \
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/lms_bench_load]

1. data (bench/load_data.py): the bench ministry of bench/generate.py (3,000 people with
   --short, else its defaults: 50,000 people and 1,000,000 enrolments), a quiz course the
   learners are enrolled in, mentorships, certificates, a backlog of e-mails, and signed-in
   sessions; the database is dropped and made again (its name must contain "bench");
2. processes: two gunicorn instances (bench.wsgi:app, gthread) on two ports sharing the
   database, one ``lms scheduler`` delivering e-mail to a local SMTP sink that this script
   runs (it records every Message-ID it receives), all on 127.0.0.1;
3. load: locust, headless, ``--run-time`` (bench/locustfile.py): learners (My learning,
   course and lesson pages, quizzes with answers autosaved by the JSON endpoint and
   submitted), unit heads (dashboard, CSV export), mentors (/mentoring) and anonymous
   visitors of /verify/<code>; users spread over both instances and move to the other one
   when theirs refuses connections;
4. faults during the load (--faults): ``gunicorn``: kill -9 one instance's master, start
   it again 10 s later; ``scheduler``: kill -9 the scheduler while it delivers e-mail (a
   batch is queued just before a minute's run when one falls in the window) and start it
   again; ``postgres``: stop PostgreSQL for 10 s and start it again (``all`` = the three;
   this one disturbs every other user of the server: run it on purpose only);
5. checks: 5xx outside the outage (none allowed, and no 500 at all), every acknowledged
   answer stored with its last acknowledged value, every attempt a client started exists
   once and every one it saw submitted is submitted and graded once, no (job, period) run
   twice, no e-mail key queued or received twice; p95 of the learner pages;
6. report: per endpoint (requests, req/s, p50/p95/p99, failures) and the fault outcomes,
   printed, written between markers in BENCHMARKS.md (not with --short), and the summary
   as one JSON line at the end of the output (exit status 1 when a check failed).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import math
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common, load_data  # noqa: E402

MARK_START = "<!-- bench/run_load.py: results start -->"
MARK_END = "<!-- bench/run_load.py: results end -->"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/lms_bench_load"
LEARNER_PAGES = ("My learning", "course page", "lesson page", "quiz page", "attempt page", "quiz result")
P95_TARGET_MS = 500
FAULTS = ("gunicorn", "scheduler", "postgres")
BIN = Path(sys.executable).parent


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ------------------------------------------------------------------ the SMTP sink


class SmtpSink:
    """A minimal SMTP server on 127.0.0.1 that accepts every message (slowly: ``delay``
    seconds each, so a delivery run lasts a while) and records its Message-ID."""

    def __init__(self, delay: float = 0.03) -> None:
        self.delay = delay
        self.received: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 bench-sink ESMTP\r\n")
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        self.wfile.write(b"250-bench-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 OK\r\n")
                    elif verb == b"DATA":
                        self.wfile.write(b"354 go ahead\r\n")
                        message_id = ""
                        while True:
                            data = self.rfile.readline()
                            if not data or data in (b".\r\n", b".\n"):
                                break
                            if not message_id and data.lower().startswith(b"message-id:"):
                                message_id = data.split(b":", 1)[1].strip().decode(errors="replace")
                        time.sleep(sink.delay)
                        with sink.lock:
                            sink.received.append((time.time(), message_id))
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:  # MAIL, RCPT, RSET, NOOP
                        self.wfile.write(b"250 OK\r\n")

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SmtpSink:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def duplicates(self) -> int:
        with self.lock:
            ids = [m for _t, m in self.received]
        return len(ids) - len(set(ids))


# ------------------------------------------------------------------ processes


def service_environ(url: str, smtp_port: int | None = None) -> dict[str, str]:
    env = _common.bench_environ(url)
    high = "1000000 per minute"
    env.update({"LMS_LOG_FORMAT": "text", "LMS_LOG_LEVEL": "WARNING",
                "LMS_LOGIN_RATE_LIMIT": high, "LMS_API_RATE_LIMIT": high,
                "LMS_VERIFY_RATE_LIMIT": high, "LMS_RATELIMIT_STORAGE_URI": "memory://"})
    if smtp_port:
        env.update({"LMS_SMTP_HOST": "127.0.0.1", "LMS_SMTP_PORT": str(smtp_port),
                    "LMS_SMTP_TLS": "none"})
    return env


class Process:
    """A child in its own process group (so that stopping it stops its workers too)."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name, self.command, self.env, self.log_path = name, command, env, log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log_file = self.log_path.open("a")
        self.proc = subprocess.Popen(self.command, cwd=_common.ROOT, env=self.env, stdout=log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log_file.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        """kill -9 of this process only (a gunicorn master's workers notice and leave)."""
        os.kill(self.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    pass
            os.killpg(self.proc.pid, signal.SIGKILL)   # its group: orphaned workers too
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


def gunicorn(url: str, port: int, workers: int, threads: int, out: Path) -> Process:
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread",
               "--threads", str(threads), "-b", f"127.0.0.1:{port}", "--timeout", "60",
               "--graceful-timeout", "5", "bench.wsgi:app"]
    return Process(f"gunicorn:{port}", command, service_environ(url), out / f"gunicorn-{port}.log")


def scheduler(url: str, smtp_port: int, out: Path) -> Process:
    return Process("scheduler", [str(BIN / "lms"), "scheduler"], service_environ(url, smtp_port),
                   out / "scheduler.log")


def http_status(url: str, timeout: float = 5) -> int | str:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", exc)
        return "refused" if isinstance(reason, ConnectionRefusedError) else type(reason).__name__


def wait_serving(port: int, path: str, timeout: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if http_status(f"http://127.0.0.1:{port}{path}", 2) == 200:
            return time.monotonic() - started
        time.sleep(0.2)
    raise SystemExit(f"127.0.0.1:{port} did not serve {path} within {timeout:.0f} s")


class Prober(threading.Thread):
    """GET the public verify page (it reads the database) on every instance every 0.5 s."""

    def __init__(self, ports: list[int], path: str) -> None:
        super().__init__(daemon=True)
        self.ports, self.path = ports, path
        self.samples: list[tuple[float, int, int | str]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            for port in self.ports:
                status = http_status(f"http://127.0.0.1:{port}{self.path}", 3)
                self.samples.append((time.time(), port, status))
            self.halt.wait(0.5)

    def between(self, start: float, end: float, port: int | None = None) -> list[int | str]:
        return [s for t, p, s in self.samples if start <= t <= end and (port is None or p == port)]


# ------------------------------------------------------------------ faults


class Faults(threading.Thread):
    """Runs the chosen faults at fixed points of the load and records their outcomes."""

    def __init__(self, chosen: set[str], run_time: float, ctx: dict) -> None:
        super().__init__(daemon=True)
        self.chosen, self.run_time, self.ctx = chosen, run_time, ctx
        self.outcomes: dict[str, dict] = {}
        self.errors: list[str] = []
        self.pg_down = False
        self.outage: tuple[float, float] | None = None

    def run(self) -> None:
        t0 = self.ctx["load_started"]
        plan = []
        if "gunicorn" in self.chosen:
            plan.append((t0 + 0.15 * self.run_time, self.gunicorn_fault))
        if "scheduler" in self.chosen:   # aimed at a minute's delivery run (see main)
            plan.append((self.ctx["scheduler_boundary"] - 6, self.scheduler_fault))
        if "postgres" in self.chosen:
            plan.append((t0 + 0.7 * self.run_time, self.postgres_fault))
        threads = [threading.Thread(target=self._at, args=(when, fault), daemon=True)
                   for when, fault in plan]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _at(self, when: float, fault) -> None:
        time.sleep(max(0.0, when - time.time()))
        try:
            fault()
        except Exception as exc:  # recorded, and the run goes on
            self.errors.append(f"{fault.__name__}: {type(exc).__name__}: {exc}")
            log(f"fault {fault.__name__} failed: {exc}")

    # -- kill -9 one gunicorn master, start it again 10 s later
    def gunicorn_fault(self) -> None:
        victim: Process = self.ctx["servers"][1]
        other: Process = self.ctx["servers"][0]
        killed, killed_pid = time.time(), victim.pid
        log(f"fault: kill -9 gunicorn master {killed_pid} ({victim.name})")
        victim.kill9()
        refused_at = None
        for _ in range(50):   # the orphaned workers leave within a second or two
            if http_status(f"http://127.0.0.1:{self.ctx['ports'][1]}/", 1) == "refused":
                refused_at = time.time()
                break
            time.sleep(0.1)
        time.sleep(max(0.0, killed + 10 - time.time()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(victim.pid, signal.SIGKILL)   # any worker still hanging on
        victim.start()
        restarted = time.time()
        back = wait_serving(self.ctx["ports"][1], self.ctx["probe_path"], 60)
        served = self.ctx["prober"].between(killed, restarted, self.ctx["ports"][0])
        self.outcomes["gunicorn"] = {
            "killed_at": stamp(killed), "killed_pid": killed_pid, "other_pid": other.pid,
            "refusing_after_s": round(refused_at - killed, 2) if refused_at else None,
            "down_s": round(restarted - killed, 1), "serving_again_after_restart_s": round(back, 1),
            "other_instance_probes": len(served),
            "other_instance_probes_ok": sum(1 for s in served if s == 200)}

    # -- kill -9 the scheduler during a delivery run, start it again
    def scheduler_fault(self) -> None:
        sched: Process = self.ctx["scheduler"]
        sink: SmtpSink = self.ctx["sink"]
        load_end = self.ctx["load_started"] + self.run_time
        boundary = self.ctx["scheduler_boundary"]
        aimed = boundary <= load_end - 8
        queued = queue_emails(self.ctx["url"], self.ctx["emails"])
        if aimed:
            time.sleep(max(0.0, boundary - time.time()))
            deadline = time.time() + 8
            while time.time() < deadline and not delivering(self.ctx["url"]):
                time.sleep(0.1)
            time.sleep(1.0)   # a second into sending the claimed batch
        mid_job = delivering(self.ctx["url"])
        sent_before = sink.count()
        killed, old_pid = time.time(), sched.pid
        log(f"fault: kill -9 scheduler {old_pid} ({'during' if mid_job else 'outside'} a delivery run)")
        sched.kill9()
        time.sleep(2)
        sched.start()
        self.outcomes["scheduler"] = {
            "killed_at": stamp(killed), "killed_pid": old_pid, "restarted_pid": sched.pid,
            "emails_queued_before": queued, "minute_run_in_window": aimed,
            "killed_during_delivery": mid_job, "received_by_sink_before_kill": sent_before,
            "restarted_at": stamp(time.time()), "restarted_ts": time.time()}

    # -- PostgreSQL down for 10 s
    def postgres_fault(self) -> None:
        version = self.ctx["pg_version"]
        stopped = time.time()
        log(f"fault: PostgreSQL {version} main stop (10 s)")
        self.pg_down = True
        try:
            pg_ctl(version, "stop")
            down_at = time.time()
            time.sleep(max(0.0, stopped + 10 - time.time()))
        finally:
            pg_ctl(version, "start")
            self.pg_down = False
        started = time.time()
        log("fault: PostgreSQL started again")
        recovered = {}
        for port in self.ctx["ports"]:
            try:
                recovered[port] = round(wait_serving(port, self.ctx["probe_path"], 60), 1)
            except SystemExit:
                recovered[port] = None
        self.outage = (stopped, time.time() + 2)
        during = self.ctx["prober"].between(down_at, started)
        self.outcomes["postgres"] = {
            "stopped_at": stamp(stopped), "down_s": round(started - stopped, 1),
            "probe_statuses_during": {k: [str(x) for x in during].count(k)
                                      for k in sorted({str(x) for x in during})},
            "recovered_after_start_s": recovered}


def stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%H:%M:%S")


def pg_ctl(version: str, action: str) -> None:
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
                   check=True, capture_output=True, timeout=60)


def pg_version() -> str:
    versions = sorted(os.listdir("/etc/postgresql"),
                      key=lambda v: [int(x) for x in v.split(".") if x.isdigit()])
    if not versions:
        raise SystemExit("no PostgreSQL cluster in /etc/postgresql")
    return versions[-1]


def pg_ready(version: str) -> bool:
    done = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True)
    return any(line.split()[:1] == [version] and "online" in line for line in done.stdout.splitlines())


def _engine(url: str):
    from sqlalchemy import create_engine

    return create_engine(url, pool_pre_ping=True)


def delivering(url: str) -> bool:
    """Is a delivery run going on (its job run running and e-mails claimed)?"""
    from sqlalchemy import text

    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.scalar(text(
                "SELECT count(*) FROM outbox_emails WHERE status = 'sending'")))
    finally:
        engine.dispose()


def queue_emails(url: str, count: int) -> int:
    """Nudges to mentees (one e-mail each), committed: work for the next delivery run."""
    from sqlalchemy import select

    from lms.db import db
    from lms.mentoring.models import Mentorship
    from lms.notify.services import notify
    from lms.org.models import User

    app = _common.make_app({"DATABASE_URL": url})
    with app.app_context(), app.test_request_context():
        dbs = db.session
        pairs = dbs.execute(select(Mentorship.mentor_id, Mentorship.mentee_id)
                            .where(Mentorship.ended_at.is_(None)).order_by(Mentorship.id)).all()
        mentees = [m for _mentor, m in pairs]
        mentor = dbs.get(User, pairs[0][0]) if pairs else None
        sent = 0
        while mentees and sent < count:
            batch = mentees[:count - sent]
            sent += notify(dbs, batch, "nudge", actor=mentor,
                           params={"mentor": mentor.full_name}, body="Nhắc nhở (tải hỗn hợp).")
        dbs.commit()
        db.engine.dispose()
    return sent


# ------------------------------------------------------------------ checks


def read_ledger(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("ledger-*.jsonl")):
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError):
                rows.append(json.loads(line))
    return rows


def check_rows(url: str, ledger: list[dict], quiz_id: int) -> dict:
    """Count rows against what the clients saw acknowledged."""
    from sqlalchemy import func, select

    from lms.db import db
    from lms.notify.models import JobRun, OutboxEmail
    from lms.quizzes.grading import grade
    from lms.quizzes.models import Attempt, AttemptAnswer
    from lms.quizzes.specio import spec_from_dict

    started = {r["a"]: r["u"] for r in ledger if r["k"] == "start"}
    submitted = {r["a"] for r in ledger if r["k"] == "submit"}
    acked: dict[tuple[int, int], tuple[int, int]] = {}
    sent: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for r in ledger:
        key = (r.get("a"), r.get("p"))
        if r["k"] == "ack" and (key not in acked or r["q"] > acked[key][0]):
            acked[key] = (r["q"], r["v"])
        elif r["k"] == "sent":
            sent.setdefault(key, []).append((r["q"], r["v"]))
    app = _common.make_app({"DATABASE_URL": url})
    with app.app_context():
        dbs = db.session
        attempts = {a.id: a for a in dbs.scalars(select(Attempt).where(Attempt.quiz_id == quiz_id))}
        answers: dict[tuple[int, int], AttemptAnswer] = {
            (a.attempt_id, a.position): a for a in dbs.scalars(
                select(AttemptAnswer).join(Attempt, Attempt.id == AttemptAnswer.attempt_id)
                .where(Attempt.quiz_id == quiz_id))}
        lost = later_unacked = 0
        for key, (seq, value) in acked.items():
            row = answers.get(key)
            if row is not None and row.response == row.display[value]:
                continue
            # a save sent after the last acknowledged one may have landed without its answer
            later = [v for q, v in sent.get(key, []) if q > seq]
            if row is not None and any(row.response == row.display[v] for v in later):
                later_unacked += 1
                continue
            lost += 1
        missing = sum(1 for a in started if a not in attempts)
        wrong_owner = sum(1 for a, u in started.items() if a in attempts and attempts[a].user_id != u)
        unseen = sorted(set(attempts) - set(started))
        # A start whose answer the stop of the load cut off (sent, never seen back) excuses
        # one attempt of that person that nobody saw.
        cut: dict[int, int] = {}
        for r in ledger:
            if r["k"] in ("start_sent", "start"):
                cut[r["u"]] = cut.get(r["u"], 0) + (1 if r["k"] == "start_sent" else -1)
        cut_off = 0
        for attempt_id in list(unseen):
            user_id = attempts[attempt_id].user_id
            if cut.get(user_id, 0) > 0:
                cut[user_id] -= 1
                cut_off += 1
                unseen.remove(attempt_id)
        not_submitted = sum(1 for a in submitted if a in attempts and attempts[a].status == "open")
        wrong_score = 0
        for attempt_id in submitted:
            attempt = attempts.get(attempt_id)
            if attempt is None:
                continue
            rows = [answers[k] for k in answers if k[0] == attempt_id]
            expected = sum(grade(spec_from_dict(a.version.spec), a.response).score for a in rows)
            if attempt.score is None or abs(attempt.score - expected) > 1e-6:
                wrong_score += 1
        open_twice = dbs.scalar(select(func.count()).select_from(
            select(Attempt.user_id).where(Attempt.status == "open", Attempt.quiz_id == quiz_id)
            .group_by(Attempt.user_id).having(func.count() > 1).subquery())) or 0
        runs_twice = dbs.scalar(select(func.count()).select_from(
            select(JobRun.job).group_by(JobRun.job, JobRun.period).having(func.count() > 1)
            .subquery())) or 0
        keys_twice = dbs.scalar(select(func.count()).select_from(
            select(OutboxEmail.key).group_by(OutboxEmail.key).having(func.count() > 1)
            .subquery())) or 0
        outbox = dict(dbs.execute(select(OutboxEmail.status, func.count())
                                  .group_by(OutboxEmail.status)).all())
        sending_keys = list(dbs.scalars(select(OutboxEmail.key).where(OutboxEmail.status == "sending")))
        runs = [(r.job, r.period, r.status, r.owner) for r in dbs.scalars(
            select(JobRun).order_by(JobRun.started_at))]
        db.engine.dispose()
    return {
        "attempts_started": len(started), "attempts_submitted": len(submitted),
        "attempts_in_db": len(attempts), "attempts_missing": missing,
        "attempts_wrong_owner": wrong_owner, "attempts_nobody_saw": len(unseen),
        "attempts_answer_cut_off_by_stop": cut_off,
        "attempts_submitted_but_open": not_submitted, "scores_wrong": wrong_score,
        "people_with_two_open_attempts": open_twice,
        "attempts_left_open_at_stop": sum(1 for a in started if a in attempts and a not in submitted
                                          and attempts[a].status == "open"),
        "answers_acknowledged": len(acked), "answers_lost": lost,
        "answers_later_unacknowledged_value": later_unacked,
        "job_periods_twice": runs_twice, "outbox_keys_twice": keys_twice,
        "outbox_by_status": outbox, "job_runs": runs, "sending_keys": sending_keys,
    }


def read_stats(prefix: Path) -> list[dict]:
    path = Path(f"{prefix}_stats.csv")
    if not path.exists():
        return []
    rows = []
    with path.open() as handle:
        for row in csv.DictReader(handle):
            def number(key: str, row: dict = row) -> float:
                try:
                    return float(row.get(key) or 0)
                except ValueError:
                    return 0.0
            rows.append({"name": row["Name"], "method": row["Type"],
                         "requests": int(number("Request Count")),
                         "failures": int(number("Failure Count")),
                         "rps": round(number("Requests/s"), 1), "p50": number("50%"),
                         "p95": number("95%"), "p99": number("99%"), "max": number("Max Response Time")})
    return rows


def count_5xx(ledger: list[dict], outage: tuple[float, float] | None) -> dict:
    inside: dict[str, int] = {}
    outside: dict[str, int] = {}
    samples: list[str] = []
    for r in ledger:
        if r["k"] != "5xx":
            continue
        during = outage is not None and outage[0] <= r["t"] <= outage[1]
        bucket = inside if during else outside
        bucket[str(r["s"])] = bucket.get(str(r["s"]), 0) + 1
        if not during and len(samples) < 5:
            samples.append(f"{stamp(r['t'])} {r['n']} {r['s']} {r['h']}")
    conn = sum(1 for r in ledger if r["k"] == "conn")
    return {"outside_outage": outside, "during_outage": inside, "samples": samples,
            "moved_connections": conn,
            "status_500_total": inside.get("500", 0) + outside.get("500", 0)}


# ------------------------------------------------------------------ report


def render(summary: dict) -> str:
    a, c, f = summary["args"], summary["checks"], summary["faults"]
    lines = [
        MARK_START,
        f"### Mixed load and faults — run of {summary['when']}",
        "",
        f"`bench/run_load.py{' --short' if a['short'] else ''} --faults {a['faults']}` on "
        f"{summary['machine']}; PostgreSQL {summary['pg_version']}, data of `bench/generate.py` "
        f"({summary['data']['generated']['users']:,} people, "
        f"{summary['data']['generated']['enrolments']:,} enrolments) plus `bench/load_data.py`; two "
        f"gunicorn instances ({a['workers']} workers × {a['threads']} threads each) and one "
        f"`lms scheduler`; locust {summary['locust']} headless for {a['run_time']} s: "
        f"{a['learners']} learners, {a['heads']} unit heads, {a['mentors']} mentors, "
        f"{a['visitors']} anonymous visitors of the verify page; waits between a user's actions "
        f"scaled by {a['think']:g} (`--think`).",
        "",
        "| endpoint | requests | req/s | p50 | p95 | p99 | failures |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary["endpoints"]:
        name = f"**{row['name']}**" if row["name"] == "Aggregated" else row["name"]
        lines.append(f"| {name} | {row['requests']:,} | {row['rps']:.1f} | {row['p50']:.0f} ms | "
                     f"{row['p95']:.0f} ms | {row['p99']:.0f} ms | {row['failures']} |")
    p = summary["p95_learner_pages"]
    five = summary["http_5xx"]
    lines += [
        "",
        f"- p95 of the learner pages (worst page): **{p['worst_ms']:.0f} ms** ({p['worst_page']}); "
        f"target < {P95_TARGET_MS} ms: {'met' if p['met'] else 'not met'}",
        f"- 5xx outside the PostgreSQL outage: {five['outside_outage'] or 'none'}; during it: "
        f"{five['during_outage'] or 'none'}; status 500 in all: **{five['status_500_total']}**; "
        f"requests moved to the other instance after a refused or dropped connection: "
        f"{five['moved_connections']}",
        f"- attempts: {c['attempts_started']:,} started, {c['attempts_in_db']:,} in the database, "
        f"missing {c['attempts_missing']}, nobody saw {c['attempts_nobody_saw']} (started by a request "
        f"the stop of the load cut off: {c['attempts_answer_cut_off_by_stop']}); submitted "
        f"{c['attempts_submitted']:,}, of which still open {c['attempts_submitted_but_open']}, "
        f"score not graded once {c['scores_wrong']}; left open when the load stopped "
        f"{c['attempts_left_open_at_stop']}",
        f"- answers acknowledged {c['answers_acknowledged']:,}; **lost {c['answers_lost']}**; "
        f"holding a later save whose answer never came back {c['answers_later_unacknowledged_value']}",
        f"- job runs: (job, period) twice {c['job_periods_twice']}; outbox keys twice "
        f"{c['outbox_keys_twice']}; Message-IDs received twice by the SMTP sink "
        f"{summary['smtp']['duplicates']} (of {summary['smtp']['received']})",
        "",
        "Faults:",
        "",
    ]
    for name, outcome in f.items():
        lines.append(f"- **{name}**: {'ok' if outcome.get('ok') else 'NOT ok'} — {outcome.get('text', '')}")
    lines += ["", MARK_END]
    return "\n".join(lines)


def judge_faults(faults: Faults, chosen: set[str], checks: dict, five: dict, smtp: dict,
                 scheduler_proc: Process, load_end: float) -> dict:
    out: dict[str, dict] = {}
    if "gunicorn" in chosen:
        g = faults.outcomes.get("gunicorn")
        if g is None:
            out["gunicorn"] = {"ok": False, "text": "did not run: " + "; ".join(faults.errors)}
        else:
            probes = g["other_instance_probes"]
            ok = (probes > 0 and g["other_instance_probes_ok"] == probes
                  and g["refusing_after_s"] is not None and not five["outside_outage"])
            g["ok"] = ok
            g["text"] = (f"master {g['killed_pid']} killed at {g['killed_at']}; its port refused "
                         f"connections after {g['refusing_after_s']} s; the other instance answered "
                         f"{g['other_instance_probes_ok']}/{g['other_instance_probes']} probes while it was "
                         f"down ({g['down_s']} s); users moved over ({five['moved_connections']} requests "
                         f"re-sent); started again, serving after {g['serving_again_after_restart_s']} s")
            out["gunicorn"] = g
    if "scheduler" in chosen:
        s = faults.outcomes.get("scheduler")
        if s is None:
            out["scheduler"] = {"ok": False, "text": "did not run: " + "; ".join(faults.errors)}
        else:
            new_pid = s["restarted_pid"]
            after = [r for r in checks["job_runs"] if r[3].endswith(f":{new_pid}")]
            done_after = [r for r in after if r[2] == "done"]
            boundary_after = math.floor(load_end / 60) * 60 > s["restarted_ts"] + 1
            stuck = checks["outbox_by_status"].get("sending", 0)
            digests = {m.split("@")[0].removeprefix("<outbox.") for m in smtp["ids"]}
            delivered_unmarked = sum(1 for key in checks["sending_keys"]
                                     if hashlib.sha256(key.encode()).hexdigest()[:32] in digests)
            left_running = [r for r in checks["job_runs"] if r[2] == "running"
                            and r[3].endswith(f":{s['killed_pid']}")]
            ok = (scheduler_proc.alive() and checks["job_periods_twice"] == 0
                  and checks["outbox_keys_twice"] == 0 and smtp["duplicates"] == 0
                  and (bool(done_after) or not boundary_after))
            s.update(ok=ok, runs_by_restarted=len(after), runs_done_by_restarted=len(done_after),
                     delivered_but_left_sending=delivered_unmarked,
                     runs_left_running_by_killed=[f"{r[0]} {r[1]}" for r in left_running],
                     left_sending=stuck, left_pending=checks["outbox_by_status"].get("pending", 0))
            when = "during a delivery run" if s["killed_during_delivery"] else "with no delivery run going on"
            s["text"] = (f"killed {s['killed_pid']} at {s['killed_at']} {when}"
                         f" (sink had {s['received_by_sink_before_kill']} e-mails); restarted as {new_pid}, "
                         f"which finished {len(done_after)} job runs by the end"
                         f"{'' if boundary_after else ' (no minute boundary fell after the restart)'}; "
                         f"no (job, period) twice, no key twice, no Message-ID received twice; "
                         f"the killed process left {len(left_running)} job run(s) 'running' "
                         f"({', '.join(s['runs_left_running_by_killed']) or '-'}; claimable again after "
                         f"30 min) and {stuck} e-mails 'sending', {delivered_unmarked} of which the SMTP "
                         f"server had already received (sent again, same Message-ID, once they are "
                         f"15 min stale); pending at the end {s['left_pending']}")
            out["scheduler"] = s
    if "postgres" in chosen:
        p = faults.outcomes.get("postgres")
        if p is None:
            out["postgres"] = {"ok": False, "text": "did not run: " + "; ".join(faults.errors)}
        else:
            recovered = all(v is not None for v in p["recovered_after_start_s"].values())
            ok = recovered and checks["answers_lost"] == 0 and five["during_outage"].get("500", 0) == 0
            p["ok"] = ok
            p["text"] = (f"stopped at {p['stopped_at']} for {p['down_s']} s; clients saw "
                         f"{five['during_outage'] or 'no 5xx'} during it, the probes "
                         f"{p['probe_statuses_during']}; both instances served again "
                         f"{p['recovered_after_start_s']} s after the start, by themselves; "
                         f"acknowledged answers lost: {checks['answers_lost']}")
            out["postgres"] = p
    return out


# ------------------------------------------------------------------ main


def parse_faults(text: str) -> set[str]:
    text = text.strip().lower()
    if text in ("", "none"):
        return set()
    if text == "all":
        return set(FAULTS)
    chosen = {part.strip() for part in text.split(",") if part.strip()}
    unknown = chosen - set(FAULTS)
    if unknown:
        raise SystemExit(f"unknown faults {sorted(unknown)}: choose from {FAULTS}, all or none")
    return chosen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--short", action="store_true", help="small data and users, about a minute")
    parser.add_argument("--faults", default="scheduler,gunicorn",
                        help="comma list of gunicorn, scheduler, postgres; all; none "
                             "(default scheduler,gunicorn: postgres stops the server for everyone)")
    parser.add_argument("--run-time", type=int, help="seconds of load (35 with --short, else 180)")
    parser.add_argument("--learners", type=int)
    parser.add_argument("--heads", type=int)
    parser.add_argument("--mentors", type=int)
    parser.add_argument("--visitors", type=int)
    parser.add_argument("--think", type=float,
                        help="scales every wait between a user's actions (1 with --short, else 8: "
                             "pages 8-24 s apart, answers 4-16 s apart)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--ports", default="", help="two ports (default: two free ones)")
    parser.add_argument("--out", type=Path, default=_common.DEFAULT_OUT / "load")
    parser.add_argument("--report", default=str(_common.ROOT / "BENCHMARKS.md"),
                        help="BENCHMARKS.md to write (full mode); - prints only")
    args = parser.parse_args(argv)
    short = args.short
    chosen = parse_faults(args.faults)
    defaults = (60, 4, 4, 4, 35) if short else (500, 20, 20, 10, 180)
    args.learners = args.learners if args.learners is not None else defaults[0]
    args.heads = args.heads if args.heads is not None else defaults[1]
    args.mentors = args.mentors if args.mentors is not None else defaults[2]
    args.visitors = args.visitors if args.visitors is not None else defaults[3]
    args.think = args.think if args.think is not None else (1.0 if short else 8.0)
    run_time = args.run_time or (defaults[4] + (10 if "postgres" in chosen and short else 0))
    url = _common.sqlalchemy_url(args.database_url)
    if not _common.is_postgres(url):
        raise SystemExit("the mixed load runs on PostgreSQL (two instances share it)")
    ports = [int(p) for p in args.ports.split(",")] if args.ports else [free_port(), free_port()]
    out = args.out
    if out.exists():
        shutil.rmtree(out)
    ledger_dir = out / "ledger"
    ledger_dir.mkdir(parents=True)
    version = pg_version()
    overall = time.monotonic()

    log("data ...")
    users_path, data_facts = load_data.build(url, out, short=short, learners=args.learners,
                                             heads=args.heads, mentors=args.mentors,
                                             emails=100 if short else 300)
    users = json.loads(users_path.read_text())
    log(f"data ready in {data_facts['seconds']} s: {data_facts['learners']} learners, "
        f"{data_facts['heads']} heads, {data_facts['mentors']} mentors")
    probe_path = f"/verify/{users['certificates'][0]}"

    servers = [gunicorn(url, port, args.workers, args.threads, out) for port in ports]
    sink = SmtpSink(delay=0.03)
    sched = None
    faults = None
    prober = Prober(ports, probe_path)
    locust_rc = None
    with sink:
        try:
            sched = scheduler(url, sink.port, out)
            for server in servers:
                server.start()
            sched.start()
            for port in ports:
                wait_serving(port, probe_path, 90)
            log(f"serving on {ports}; scheduler {sched.pid}; SMTP sink :{sink.port}")
            prober.start()
            hosts = ",".join(f"http://127.0.0.1:{p}" for p in ports)
            total = args.learners + args.heads + args.mentors + args.visitors
            env = dict(os.environ, LMS_LOAD_USERS=str(users_path), LMS_LOAD_HOSTS=hosts,
                       LMS_LOAD_LEDGER=str(ledger_dir), LMS_LOAD_THINK=str(args.think),
                       LMS_LOAD_COUNTS=f"{args.learners},{args.heads},{args.mentors},{args.visitors}")
            command = [str(BIN / "locust"), "-f", str(_common.BENCH_DIR / "locustfile.py"), "--headless",
                       "-u", str(total), "-r", str(max(10, total // 10)), "--run-time", f"{run_time}s",
                       "--csv", str(out / "stats"), "--only-summary", "--loglevel", "WARNING",
                       "--host", f"http://127.0.0.1:{ports[0]}", "--stop-timeout", "2"]
            load_started = time.time()
            # The scheduler is killed during the e-mail delivery run of a minute boundary:
            # the first one a little into the load (--short: the load lasts until 10 s after
            # it), or the first after a quarter of the load.
            boundary = math.ceil((load_started + (8 if short else 0.25 * run_time)) / 60) * 60
            if short and "scheduler" in chosen:
                run_time = max(run_time, math.ceil(boundary - load_started + 10))
                command[command.index("--run-time") + 1] = f"{run_time}s"
            ctx = {"load_started": load_started, "scheduler_boundary": boundary, "servers": servers,
                   "ports": ports, "scheduler": sched,
                   "sink": sink, "prober": prober, "probe_path": probe_path, "url": url,
                   "pg_version": version, "emails": 150 if short else 400}
            log(f"load: {total} users for {run_time} s, faults: {','.join(sorted(chosen)) or 'none'}")
            faults = Faults(chosen, run_time, ctx)
            faults.start()
            with (out / "locust.log").open("w") as locust_log:
                locust_rc = subprocess.run(command, cwd=_common.ROOT, env=env, stdout=locust_log,
                                           stderr=subprocess.STDOUT, timeout=run_time + 120).returncode
            load_end = time.time()
            faults.join(timeout=90)
        finally:
            if faults is not None and "postgres" in chosen and not pg_ready(version):
                log("PostgreSQL is down: starting it")
                with contextlib.suppress(Exception):
                    pg_ctl(version, "start")
            prober.halt.set()
            for server in servers:
                server.stop()
            scheduler_alive = sched is not None and sched.alive()
            if sched is not None:
                sched.stop()
        smtp = {"received": sink.count(), "duplicates": sink.duplicates(),
                "ids": {m for _t, m in sink.received}}

    log("checking rows ...")
    ledger = read_ledger(ledger_dir)
    checks = check_rows(url, ledger, users["quiz_id"])
    five = count_5xx(ledger, faults.outage if faults else None)
    endpoints = read_stats(out / "stats")
    pages = [r for r in endpoints if r["name"] in LEARNER_PAGES and r["requests"]]
    worst = max(pages, key=lambda r: r["p95"]) if pages else {"name": "-", "p95": 0.0}

    class _Alive:
        def alive(self) -> bool:
            return scheduler_alive

    fault_outcomes = judge_faults(faults, chosen, checks, five, smtp, _Alive(), load_end)
    from bench.run_learning import machine_facts

    m = machine_facts()
    import locust

    summary = {
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{m['cpu']} ({m['cores']} cores, {m['memory']})", "pg_version": version,
        "locust": locust.__version__,
        "args": {"short": short, "faults": args.faults, "run_time": run_time, "learners": args.learners,
                 "heads": args.heads, "mentors": args.mentors, "visitors": args.visitors,
                 "workers": args.workers, "threads": args.threads, "ports": ports,
                 "think": args.think},
        "data": data_facts, "endpoints": endpoints,
        "p95_learner_pages": {"worst_page": worst["name"], "worst_ms": worst["p95"],
                              "met": worst["p95"] < P95_TARGET_MS},
        "http_5xx": five,
        "checks": {k: v for k, v in checks.items() if k not in ("job_runs", "sending_keys")},
        "smtp": {k: v for k, v in smtp.items() if k != "ids"}, "faults": fault_outcomes,
        "fault_errors": faults.errors if faults else [],
        "locust_exit": locust_rc, "seconds": round(time.monotonic() - overall, 1),
    }
    failed = []
    if five["outside_outage"]:
        failed.append("5xx outside the outage")
    if five["status_500_total"]:
        failed.append("status 500")
    for key in ("attempts_missing", "attempts_wrong_owner", "attempts_nobody_saw",
                "attempts_submitted_but_open", "scores_wrong", "people_with_two_open_attempts",
                "answers_lost", "job_periods_twice", "outbox_keys_twice"):
        if checks[key]:
            failed.append(key)
    if smtp["duplicates"]:
        failed.append("e-mail received twice")
    failed += [f"fault {name}" for name, o in fault_outcomes.items() if not o.get("ok")]
    if not endpoints:
        failed.append("no locust statistics")
    summary["failed"] = failed
    summary["ok"] = not failed
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    section = render(summary)
    print(section)
    if not short and args.report != "-":
        _common.write_section(Path(args.report), MARK_START, MARK_END, "Mixed load and faults", section)
        log(f"written to {args.report}")
    print(json.dumps(summary, default=str), flush=True)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
