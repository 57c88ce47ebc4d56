"""Operations endpoints: /healthz (the process is up), /readyz (it can serve: database,
migrations, scheduler heartbeat) and /metrics (Prometheus, behind LMS_METRICS).

None of them needs a sign-in, none is rate limited, none touches the session (so no cookie
is set for a load balancer or Prometheus), and their answers are never cached.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request

from lms.db import db
from lms.extensions import limiter
from lms.ops import metrics
from lms.ops.health import readiness
from lms.ops.logs import current_request_id, init_request_logging, request_duration

bp = Blueprint("ops", __name__)

NO_STORE = {"Cache-Control": "no-store"}


@bp.route("/healthz")
@limiter.exempt
def healthz():
    return jsonify(status="ok"), 200, NO_STORE


@bp.route("/readyz")
@limiter.exempt
def readyz():
    result = readiness()
    return jsonify(result), 200 if result["status"] == "ok" else 503, NO_STORE


@bp.route("/metrics")
@limiter.exempt
def metrics_page():
    if not current_app.config["METRICS_ENABLED"]:
        abort(404)
    token = current_app.config["METRICS_TOKEN"]
    if token:
        scheme, _sep, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                 token.encode()):
            return Response("401 Unauthorized: send Authorization: Bearer <LMS_METRICS_TOKEN>\n",
                            401, mimetype="text/plain",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"', **NO_STORE})
    return metrics.exposition(db.session)


def _count(response: Response) -> Response:
    if current_app.config["METRICS_ENABLED"]:
        metrics.observe(response, request_duration())
    return response


def init_app(app: Flask) -> None:
    """Register the endpoints, the request id and request log, and the request metrics."""
    app.register_blueprint(bp)
    app.jinja_env.globals["request_id"] = current_request_id
    init_request_logging(app)
    app.after_request(_count)
