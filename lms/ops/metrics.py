"""Prometheus metrics: requests and their latency per endpoint (counted in each worker),
and figures read from the database at scrape time (pool use, outbox backlog, job runs).

With several gunicorn workers, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder the
workers can write (wiped before each start) before the app is imported: each worker then
keeps its counters in files there and a scrape of any worker sums them all. Without it each
process counts alone (right for one process, e.g. `lms run` or one gunicorn worker).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

from flask import Response, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms.db import db, utcnow

# Latency buckets (seconds) around the 500 ms target of learner pages.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter("lms_http_requests", "HTTP requests answered, by Flask endpoint, method "
                   "and status (endpoint \"unmatched\" when no route matched).",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("lms_http_request_duration_seconds", "Time to answer an HTTP request, "
                    "by Flask endpoint and method.", ["endpoint", "method"], buckets=BUCKETS)
POOL_IN_USE = Gauge("lms_db_pool_connections_in_use", "Database connections checked out of "
                    "the pool (summed over live workers).", multiprocess_mode="livesum")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def multiprocess_mode() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def endpoint_label() -> str:
    """The Flask endpoint name (a bounded set), never the raw path."""
    return request.endpoint or "unmatched"


def observe(response: Response, seconds: float) -> None:
    """Count one answered request (called once per request, after the view)."""
    endpoint = endpoint_label()
    method = request.method if request.method in METHODS else "OTHER"
    REQUESTS.labels(endpoint, method, str(response.status_code)).inc()
    LATENCY.labels(endpoint, method).observe(seconds)
    if multiprocess_mode():   # each worker reports its own pool; the scrape sums live ones
        note_pool()


def note_pool() -> None:
    pool = db.engine.engine.pool   # (the bind is a Connection in tests)
    checkedout = getattr(pool, "checkedout", None)
    if checkedout is not None:
        POOL_IN_USE.set(checkedout())


# ---------------------------------------------------------------- read at scrape time

class DatabaseCollector:
    """Outbox backlog and job runs, counted with a few GROUP BY queries when scraped."""

    def __init__(self, dbs: Session) -> None:
        self.dbs = dbs

    def collect(self) -> Iterator[Metric]:
        from lms.api.models import DeliveryStatus, WebhookDelivery
        from lms.notify.models import JobRun, OutboxEmail, OutboxStatus

        dbs = self.dbs
        now = utcnow()
        waiting = {"pending", "sending"}
        statuses = {"email": (OutboxEmail, [OutboxStatus.PENDING.value, OutboxStatus.SENDING.value,
                                            OutboxStatus.FAILED.value]),
                    "webhook": (WebhookDelivery, [DeliveryStatus.PENDING.value,
                                                  DeliveryStatus.SENDING.value,
                                                  DeliveryStatus.FAILED.value])}
        backlog = GaugeMetricFamily("lms_outbox_backlog", "Messages waiting to be sent "
                                    "(pending or being sent), by queue.", labels=["queue"])
        failed = GaugeMetricFamily("lms_outbox_failed", "Messages given up after the last "
                                   "retry (an administrator can retry them), by queue.",
                                   labels=["queue"])
        for queue, (model, wanted) in statuses.items():
            counts = dict(dbs.execute(select(model.status, func.count())
                                      .where(model.status.in_(wanted))
                                      .group_by(model.status)).all())
            backlog.add_metric([queue], sum(n for s, n in counts.items() if s in waiting))
            failed.add_metric([queue], counts.get("failed", 0))
        yield backlog
        yield failed

        runs = GaugeMetricFamily("lms_job_runs_last_24h", "Runs of each scheduled job started "
                                 "in the last 24 hours, by status.", labels=["job", "status"])
        for job, status, count in dbs.execute(
                select(JobRun.job, JobRun.status, func.count())
                .where(JobRun.started_at >= now - timedelta(hours=24))
                .group_by(JobRun.job, JobRun.status)).all():
            runs.add_metric([job, status], count)
        yield runs
        age = GaugeMetricFamily("lms_job_last_run_age_seconds", "Seconds since the newest run "
                                "of each scheduled job started.", labels=["job"])
        for job, newest in dbs.execute(select(JobRun.job, func.max(JobRun.started_at))
                                       .group_by(JobRun.job)).all():
            if newest is not None:
                age.add_metric([job], max(0.0, (now - newest).total_seconds()))
        yield age


class _Default:
    """This process's own metrics (one-process mode)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition(dbs: Session) -> Response:
    """The scrape's answer in Prometheus' text format."""
    note_pool()
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_mode():
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Default())  # type: ignore[arg-type]
    registry.register(DatabaseCollector(dbs))  # type: ignore[arg-type]
    try:
        body = generate_latest(registry)
    finally:
        dbs.rollback()
    return Response(body, mimetype=None, content_type=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})
