"""Every request gets an id (a proxy's sane X-Request-ID, or a new one), sent back on the
response, shown on error pages, and written on one JSON log line with who, what and how long."""
from __future__ import annotations

import json
import logging
import re

import pytest

from lms.ops.logs import JsonFormatter, configure_logging
from tests.conftest import login

FIELDS = {"ts", "level", "request_id", "user_id", "method", "route", "endpoint", "status",
          "duration_ms", "ip"}


def request_lines(caplog) -> list[dict]:
    return [json.loads(JsonFormatter().format(r)) for r in caplog.records
            if r.name == "lms.request"]


def test_one_json_line_per_request_with_the_ids_of_the_response_and_the_page(client, factory,
                                                                            caplog):
    person = factory.person(email="log@mofa.example")
    login(client, "log@mofa.example")
    with caplog.at_level(logging.INFO, logger="lms.request"):
        response = client.get("/courses/no-such-course",
                              headers={"X-Request-ID": "lb-7f3a.9_Z"})
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "lb-7f3a.9_Z"
    assert 'data-request-id="lb-7f3a.9_Z"' in response.get_data(as_text=True)
    [line] = request_lines(caplog)
    assert FIELDS <= set(line)
    assert line["request_id"] == "lb-7f3a.9_Z"
    assert line["status"] == 404 and line["method"] == "GET" and line["level"] == "INFO"
    assert line["route"] == "/courses/<slug>" and line["endpoint"] == "courses.course_page"
    assert line["user_id"] == person.id and isinstance(line["duration_ms"], float)
    assert line["ts"].endswith("Z")


def test_a_visitors_line_has_no_user(client, caplog):
    with caplog.at_level(logging.INFO, logger="lms.request"):
        response = client.get("/healthz")
    [line] = request_lines(caplog)
    assert line["user_id"] is None and line["status"] == response.status_code == 200
    assert line["route"] == "/healthz" and line["endpoint"] == "ops.healthz"
    assert line["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize("incoming", ["x" * 65, "../../etc/passwd", "a b", "<script>", ""])
def test_an_odd_incoming_request_id_is_replaced_by_a_new_one(client, incoming):
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_every_response_has_its_own_request_id(client):
    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


def test_other_records_in_a_request_carry_its_id(app, caplog):
    with caplog.at_level(logging.INFO, logger="lms.test"):
        with app.test_request_context(headers={"X-Request-ID": "rid-42"}):
            app.preprocess_request()
            logging.getLogger("lms.test").info("inside %s", "a request", extra={"course": 7})
        logging.getLogger("lms.test").info("outside")
    inside, outside = (json.loads(JsonFormatter().format(r)) for r in caplog.records
                       if r.name == "lms.test")
    assert inside["request_id"] == "rid-42" and inside["msg"] == "inside a request"
    assert inside["course"] == 7 and inside["logger"] == "lms.test"
    assert outside["request_id"] is None


def test_an_error_record_keeps_its_traceback_in_one_json_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("lms.test").makeRecord(
            "lms.test", logging.ERROR, __file__, 1, "failed", (), __import__("sys").exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["exc"]


def test_json_format_installs_a_json_handler_when_nothing_else_logs(app, monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setitem(app.config, "LOG_FORMAT", "json")
    configure_logging(app)
    [handler] = root.handlers
    assert isinstance(handler.formatter, JsonFormatter)
    monkeypatch.setitem(app.config, "LOG_FORMAT", "text")
    configure_logging(app)            # a second app in the process reuses the handler
    assert root.handlers == [handler]
    assert not isinstance(handler.formatter, JsonFormatter)
