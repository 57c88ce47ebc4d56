"""The mixed workload of bench/run_load.py, for locust (run headless by that script).

    LMS_LOAD_USERS=/tmp/lms-bench/load/users.json \\
    LMS_LOAD_HOSTS=http://127.0.0.1:8781,http://127.0.0.1:8782 \\
    LMS_LOAD_LEDGER=/tmp/lms-bench/load/ledger \\
    LMS_LOAD_COUNTS=500,20,20,10 \\
    locust -f bench/locustfile.py --headless -u 550 -r 100 --run-time 180s --csv /tmp/lms-bench/load/stats

Four kinds of user, each a fixed number (LMS_LOAD_COUNTS: learners, unit heads, mentors,
anonymous visitors of the verify page), each signed in with a pre-made session cookie
(bench/load_data.py):

- a learner opens My learning, a course, a lesson or two, and half the time takes the
  quiz: quiz page, start, attempt page, each answer saved by the JSON endpoint quiz.js
  uses (``/attempts/<id>/answer``; some changed once more), submit, result;
- a unit head opens their unit's dashboard and exports it as CSV;
- a mentor opens /mentoring;
- a visitor opens /verify/<code> of a certificate.

Each user starts on one of the two instances (alternately); when its instance refuses
the connection (or drops it) the user moves to the other one and sends the request
again, as a load balancer would, and stays there. Answers, starts and submits whose
response was an error are retried (as the page would) for up to 20 s.

Every request is recorded in locust's statistics under its page's name; connection
errors that were moved over are not failures (they are counted in the ledger). The
ledger (a JSONL file per locust process in LMS_LOAD_LEDGER) records what the clients saw
the server acknowledge: attempts started and submitted, answers sent and saved, and every
5xx with its time, for the checks of run_load.py.
"""
from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
import time
from pathlib import Path

import requests
from locust import User, between, events, task

USERS = json.loads(Path(os.environ["LMS_LOAD_USERS"]).read_text())
HOSTS = os.environ.get("LMS_LOAD_HOSTS", "http://127.0.0.1:8781,http://127.0.0.1:8782").split(",")
LEDGER_DIR = Path(os.environ.get("LMS_LOAD_LEDGER", "/tmp/lms-bench/load/ledger"))
COUNTS = [int(x) for x in os.environ.get("LMS_LOAD_COUNTS", "500,20,20,10").split(",")]
THINK = float(os.environ.get("LMS_LOAD_THINK", "1.0"))   # scales every wait
RETRY_FOR = float(os.environ.get("LMS_LOAD_RETRY_SECONDS", "20"))

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
ATTEMPT_RE = re.compile(r"/attempts/(\d+)")

for host in HOSTS:  # never anything but this machine
    if not host.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise SystemExit(f"refusing to load {host}: only 127.0.0.1")

LEDGER_DIR.mkdir(parents=True, exist_ok=True)
_ledger = (LEDGER_DIR / f"ledger-{os.getpid()}.jsonl").open("a", buffering=1)
_ledger_lock = threading.Lock()
_next = {kind: itertools.count() for kind in ("learners", "heads", "mentors", "visitors")}


def record(kind: str, **fields) -> None:
    fields["k"], fields["t"] = kind, round(time.time(), 3)
    with _ledger_lock:
        _ledger.write(json.dumps(fields, separators=(",", ":")) + "\n")


class Unavailable(Exception):
    """Both instances refused the connection."""


class Client(User):
    """A person with a requests session (their cookie) and a home instance."""

    abstract = True
    kind = ""
    wait_time = between(1.0 * THINK, 3.0 * THINK)

    def on_start(self) -> None:
        number = next(_next[self.kind])
        people = USERS.get(self.kind) or [{}]
        self.me = people[number % len(people)]
        self.home = number % len(HOSTS)
        self.http = requests.Session()
        self.http.headers["User-Agent"] = "lms-bench-load"
        if self.me.get("cookie"):
            self.http.cookies.set(USERS["cookie_name"], self.me["cookie"])
        self.rng = random.Random(f"{self.kind}-{number}")

    def on_stop(self) -> None:
        self.http.close()

    def pause(self, low: float, high: float) -> None:
        time.sleep(self.rng.uniform(low, high) * THINK)  # gevent-patched: yields

    def call(self, method: str, path: str, name: str, expect=(200,), **kwargs) -> requests.Response:
        """One request, moved to the other instance if this one refuses the connection."""
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", 60)
        for _tries in range(2 * len(HOSTS)):
            host = HOSTS[self.home]
            started = time.perf_counter()
            try:
                response = self.http.request(method, host + path, **kwargs)
                body = response.content
            except requests.ConnectionError as exc:
                record("conn", h=host, n=name, e=type(exc).__name__)
                self.home = (self.home + 1) % len(HOSTS)
                time.sleep(0.2)
                continue
            took = (time.perf_counter() - started) * 1000
            status = response.status_code
            error = None
            if status >= 500:
                record("5xx", s=status, n=name, h=host)
            if status not in expect:
                error = RuntimeError(f"HTTP {status}")
            self.environment.events.request.fire(
                request_type=method, name=name, response_time=took, response_length=len(body),
                response=response, context={}, exception=error)
            return response
        self.environment.events.request.fire(
            request_type=method, name=name, response_time=0, response_length=0, response=None,
            context={}, exception=Unavailable("no instance accepts connections"))
        raise Unavailable(path)

    def patient(self, method: str, path: str, name: str, expect, **kwargs):
        """Send again while the answer is a 5xx or no instance takes the connection (as the
        page retries a save), for up to RETRY_FOR s; returns the last response (or None)."""
        deadline = time.monotonic() + RETRY_FOR
        while True:
            try:
                response = self.call(method, path, name, expect=expect, **kwargs)
                if response.status_code < 500:
                    return response
            except Unavailable:
                response = None
            if time.monotonic() > deadline:
                return response
            time.sleep(1.0)


class Learner(Client):
    kind = "learners"
    fixed_count = COUNTS[0]

    @task
    def learn(self) -> None:
        self.call("GET", "/learning", "My learning")
        self.pause(1, 3)
        courses = self.me.get("courses") or []
        if courses:
            course = self.rng.choice(courses)
            self.call("GET", f"/courses/{course['slug']}", "course page")
            for _ in range(self.rng.randint(1, 2)):
                self.pause(1, 3)
                lesson = self.rng.choice(course["lessons"])
                self.call("GET", f"/courses/{course['slug']}/lessons/{lesson}", "lesson page")
        if self.rng.random() < 0.5:
            self.pause(1, 2)
            self.take_quiz()

    def take_quiz(self) -> None:
        quiz_id = USERS["quiz_id"]
        page = self.call("GET", f"/quizzes/{quiz_id}", "quiz page")
        match = CSRF_RE.search(page.text) if page.status_code == 200 else None
        if not match:
            return
        token = match.group(1)
        form = {"csrf_token": token}
        record("start_sent", u=self.me["id"])
        started = self.patient("POST", f"/quizzes/{quiz_id}/start", "quiz start",
                               expect=(302, 303), data=form)
        found = started is not None and ATTEMPT_RE.search(started.headers.get("Location", ""))
        if not found:
            return
        attempt = int(found.group(1))
        record("start", u=self.me["id"], a=attempt)
        self.pause(0.5, 1.5)
        self.call("GET", f"/attempts/{attempt}", "attempt page")
        drawn, choices = USERS["drawn"], USERS["choices"]
        positions = list(range(1, drawn + 1))
        changes = positions + self.rng.sample(positions, drawn // 3)
        headers = {"X-CSRFToken": token}
        for seq, position in enumerate(changes):
            self.pause(0.5, 2)
            value = self.rng.randrange(choices)
            record("sent", a=attempt, p=position, v=value, q=seq)

            def saved(response) -> bool:
                if response.status_code != 200:
                    return False
                try:
                    return bool(response.json().get("saved"))
                except ValueError:
                    return False

            response = self.patient("POST", f"/attempts/{attempt}/answer", "answer save (JSON)",
                                    expect=(200,), json={"position": position, "value": str(value)},
                                    headers=headers)
            if response is not None and saved(response):
                record("ack", a=attempt, p=position, v=value, q=seq)
            elif response is not None and response.status_code == 409:
                return   # closed (time ran out): nothing more to save
        self.pause(1, 2)
        record("submit_sent", a=attempt)
        done = self.patient("POST", f"/attempts/{attempt}/submit", "quiz submit",
                            expect=(302, 303), data=form)
        if done is not None and "/result" in done.headers.get("Location", ""):
            record("submit", a=attempt)
            self.call("GET", f"/attempts/{attempt}/result", "quiz result")


class UnitHead(Client):
    kind = "heads"
    fixed_count = COUNTS[1]
    wait_time = between(3.0 * THINK, 8.0 * THINK)

    @task
    def dashboard(self) -> None:
        unit = self.me["unit_id"]
        self.call("GET", f"/reports/units/{unit}", "unit dashboard")
        if self.rng.random() < 0.5:
            self.pause(2, 5)
            self.call("GET", f"/reports/units/{unit}/export.csv", "unit export (CSV)")


class Mentor(Client):
    kind = "mentors"
    fixed_count = COUNTS[2]
    wait_time = between(3.0 * THINK, 8.0 * THINK)

    @task
    def mentees(self) -> None:
        self.call("GET", "/mentoring", "mentoring")


class Visitor(Client):
    """Anonymous: someone checking a certificate's QR code."""

    kind = "visitors"
    fixed_count = COUNTS[3]
    wait_time = between(1.0 * THINK, 4.0 * THINK)

    @task
    def verify(self) -> None:
        codes = USERS.get("certificates") or ["none"]
        self.call("GET", f"/verify/{self.rng.choice(codes)}", "verify page")


@events.quitting.add_listener
def _close_ledger(environment, **_kwargs) -> None:
    with _ledger_lock:
        _ledger.flush()
