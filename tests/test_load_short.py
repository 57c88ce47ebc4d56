"""The short mode of the mixed-load and fault test (bench/run_load.py) as part of the suite.

It needs PostgreSQL (two gunicorn instances share the database) and locust; it makes its
own database, ``<test database>_bench_load``, next to the test database, and never stops
PostgreSQL (the ``postgres`` fault is for deliberate runs only).
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
TEST_URL = os.environ.get("LMS_TEST_DATABASE_URL", "")

pytestmark = pytest.mark.skipif(
    not TEST_URL.startswith(("postgresql", "postgres://")),
    reason="the mixed-load test runs two app instances on one PostgreSQL database "
           "(set LMS_TEST_DATABASE_URL to a PostgreSQL URL)")


def test_short_load_with_faults_loses_nothing(tmp_path):
    for tool in ("locust", "gunicorn"):   # not imported here: locust patches the process (gevent)
        if importlib.util.find_spec(tool) is None:
            pytest.skip(f"{tool} is not installed")
    url = make_url(TEST_URL)
    url = url.set(drivername="postgresql+psycopg", database=f"{url.database}_bench_load")
    command = [sys.executable, str(ROOT / "bench" / "run_load.py"), "--short",
               "--faults", "scheduler,gunicorn", "--out", str(tmp_path / "load"), "--report", "-",
               "--database-url", url.render_as_string(hide_password=False)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=150)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no summary printed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    summary = json.loads(lines[-1])
    assert done.returncode == 0, summary["failed"]
    assert summary["ok"] and summary["failed"] == []

    five = summary["http_5xx"]
    assert five["status_500_total"] == 0
    assert five["outside_outage"] == {}
    checks = summary["checks"]
    assert checks["attempts_started"] > 0 and checks["answers_acknowledged"] > 0
    for key in ("attempts_missing", "attempts_wrong_owner", "attempts_nobody_saw",
                "attempts_submitted_but_open", "scores_wrong", "people_with_two_open_attempts",
                "answers_lost", "job_periods_twice", "outbox_keys_twice"):
        assert checks[key] == 0, key
    assert summary["smtp"]["duplicates"] == 0
    assert set(summary["faults"]) == {"gunicorn", "scheduler"}
    assert all(outcome["ok"] for outcome in summary["faults"].values()), summary["faults"]
    # the killed instance's users moved to the other one
    assert summary["faults"]["gunicorn"]["other_instance_probes_ok"] > 0
    assert summary["http_5xx"]["moved_connections"] > 0
