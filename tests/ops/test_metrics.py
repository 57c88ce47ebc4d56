"""Prometheus reads /metrics (when LMS_METRICS is on, with the bearer token when one is set):
request counts and latencies per endpoint, the DB pool, the outbox backlog and job runs."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from lms.db import utcnow


@pytest.fixture()
def metrics_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_ENABLED", True)
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "")


def scrape(client, **headers) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.status_code
    assert response.content_type.startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for s in family.samples}


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_are_off_unless_enabled(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_ENABLED", False)
    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_token_when_one_is_set(client, app, metrics_on, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-scraper-token")
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    right = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scraper-token"})
    assert right.status_code == 200
    assert right.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in right.headers


def test_requests_are_counted_per_endpoint_never_per_path(client, metrics_on):
    before = scrape(client)
    for _ in range(3):
        client.get("/healthz")
    client.get(f"/no-such-page/{uuid.uuid4().hex}")
    after = scrape(client)
    ok = dict(endpoint="ops.healthz", method="GET", status="200")
    assert value(after, "lms_http_requests_total", **ok) - \
        value(before, "lms_http_requests_total", **ok) == 3
    missing = dict(endpoint="unmatched", method="GET", status="404")
    assert value(after, "lms_http_requests_total", **missing) - \
        value(before, "lms_http_requests_total", **missing) == 1
    assert not any("/no-such-page" in v for _name, labels in after for _k, v in labels)
    timed = dict(endpoint="ops.healthz", method="GET")
    assert value(after, "lms_http_request_duration_seconds_count", **timed) - \
        value(before, "lms_http_request_duration_seconds_count", **timed) == 3
    assert value(after, "lms_http_request_duration_seconds_bucket", le="+Inf", **timed) >= 3
    assert ("lms_db_pool_connections_in_use", frozenset()) in after


def test_backlog_and_job_runs_match_the_rows(client, dbs, factory, metrics_on):
    from lms.api.models import WebhookDelivery, WebhookEndpoint
    from lms.notify.models import JobRun, OutboxEmail

    person = factory.person()
    now = utcnow()
    for n, status in enumerate(["pending", "pending", "sending", "failed", "sent"]):
        dbs.add(OutboxEmail(key=f"ops-{n}", user_id=person.id, kind="test", status=status))
    endpoint = WebhookEndpoint(name="HR", url="https://hr.example/hook", events=["x"],
                               secret_encrypted=b"-")
    dbs.add(endpoint)
    dbs.flush()
    for n, status in enumerate(["pending", "failed", "failed", "delivered"]):
        dbs.add(WebhookDelivery(endpoint_id=endpoint.id, event="x", event_key=f"k{n}",
                                delivery_id=str(uuid.uuid4()), payload={}, status=status))
    dbs.add_all([
        JobRun(job="ops.test_job", period="a", status="done", started_at=now - timedelta(hours=1)),
        JobRun(job="ops.test_job", period="b", status="failed", started_at=now - timedelta(hours=2)),
        JobRun(job="ops.test_job", period="c", status="done", started_at=now - timedelta(days=2)),
    ])
    dbs.flush()

    samples = scrape(client)

    def count(model, *statuses):
        return dbs.scalar(select(func.count()).select_from(model)
                          .where(model.status.in_(statuses)))

    assert value(samples, "lms_outbox_backlog", queue="email") == \
        count(OutboxEmail, "pending", "sending") == 3
    assert value(samples, "lms_outbox_failed", queue="email") == count(OutboxEmail, "failed") == 1
    assert value(samples, "lms_outbox_backlog", queue="webhook") == \
        count(WebhookDelivery, "pending", "sending") == 1
    assert value(samples, "lms_outbox_failed", queue="webhook") == 2
    assert value(samples, "lms_job_runs_last_24h", job="ops.test_job", status="done") == 1
    assert value(samples, "lms_job_runs_last_24h", job="ops.test_job", status="failed") == 1
    age = value(samples, "lms_job_last_run_age_seconds", job="ops.test_job")
    assert 3590 <= age <= 3700


def test_several_workers_add_up_in_multiprocess_mode(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR set, a worker's scrape counts the other workers' requests
    (here a forked child's, as gunicorn forks its workers)."""
    script = textwrap.dedent("""
        import os, sys
        from lms import create_app
        from lms.cli import upgrade_database
        folder = sys.argv[1]
        app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{folder}/lms.db",
                          "INSTANCE_PATH": folder, "SECRET_KEY": "k" * 48,
                          "METRICS_ENABLED": True, "LOG_LEVEL": "WARNING"})
        with app.app_context():
            upgrade_database()
        pid = os.fork()
        if pid == 0:
            for _ in range(4):
                app.test_client().get("/healthz")
            os._exit(0)
        os.waitpid(pid, 0)
        app.test_client().get("/healthz")
        body = app.test_client().get("/metrics").get_data(as_text=True)
        line = 'lms_http_requests_total{endpoint="ops.healthz",method="GET",status="200"}'
        print([l for l in body.splitlines() if l.startswith(line)][0].split()[-1])
    """)
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    done = subprocess.run([sys.executable, "-W", "error", "-c", script, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.strip().splitlines()[-1]) == 5
    assert list(metrics_dir.glob("*.db"))
