"""Webhooks: an admin registers an endpoint and gets its secret once; completions,
certificate issues and revocations are queued with what caused them, once per subscribed
endpoint; a real receiver gets signed requests, retried with the same delivery id until
it answers 2xx; two delivery runs at once send each delivery once."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from flask_babel import gettext
from sqlalchemy import select

from lms import create_app
from lms.api import delivery, webhooks
from lms.api.delivery import WebhookSettings, deliver_due
from lms.api.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from lms.api.tasks import JOBS, deliver_webhooks
from lms.api.webhooks import create_endpoint, decrypt_secret, sign, verify_signature
from lms.certificates import services as certificates
from lms.certificates.events import certificate_issued
from lms.certificates.models import Certificate
from lms.cli import upgrade_database
from lms.courses.events import course_completed
from lms.db import db, utcnow
from lms.errors import DomainError
from lms.notify.jobs import run_job
from tests.api.receiver import Receiver
from tests.certificates.support import complete
from tests.conftest import app_settings, fresh_database, login
from tests.races import in_transaction, race

COMPLETED, ISSUED, REVOKED = (WebhookEvent.COURSE_COMPLETED.value,
                              WebhookEvent.CERTIFICATE_ISSUED.value,
                              WebhookEvent.CERTIFICATE_REVOKED.value)


@pytest.fixture()
def receiver():
    server = Receiver().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def signals_connected():
    webhooks.connect_signals()   # (done when the pages are registered; harmless again)


def deliveries(dbs, endpoint=None) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).order_by(WebhookDelivery.id)
    if endpoint is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint.id)
    dbs.expire_all()
    return list(dbs.scalars(query))


def near(moment: datetime, expected: datetime, seconds: float = 5) -> bool:
    """Times of an attempt run on from the run's ``now`` by the time the run has taken."""
    return abs((moment - expected).total_seconds()) < seconds


def endpoint_for(dbs, url: str, events, name: str = "Hệ thống nhân sự"):
    endpoint, secret = create_endpoint(dbs, None, name, url, events)
    dbs.flush()
    return endpoint, secret


def completed_learner(dbs, factory, **course_fields):
    unit = factory.unit(code="LS", name="Cục Lãnh sự")
    learner = factory.person(name="Nguyễn Thị Hồng Nhung", unit=unit, code="NV0042",
                             email="nhung@mofa.example")
    course = factory.course(title="An toàn thông tin cơ bản", lessons=1, slug="an-toan",
                            **course_fields)
    enrolment = complete(dbs, learner, course)
    return learner, course, enrolment


# ---------------------------------------------------------------- signatures

def test_a_signature_matches_only_its_secret_body_and_a_recent_timestamp():
    secret, body = "whsec_test", b'{"id":"1","type":"course.completed"}'
    now = datetime(2026, 11, 2, 3, 0, tzinfo=timezone.utc)
    stamp = int(now.timestamp())
    header = sign(secret, stamp, body)
    assert header.startswith("v1=") and len(header) == 3 + 64
    assert verify_signature(secret, stamp, body, header, now)
    assert verify_signature(secret, str(stamp), body, header, now + timedelta(seconds=299))
    # A replay five minutes later, or a timestamp from the future, is refused.
    assert not verify_signature(secret, stamp, body, header, now + timedelta(seconds=301))
    assert not verify_signature(secret, stamp, body, header, now - timedelta(seconds=301))
    # Another body, another secret, another timestamp with the old signature: refused.
    assert not verify_signature(secret, stamp, body + b" ", header, now)
    assert not verify_signature("whsec_other", stamp, body, header, now)
    assert not verify_signature(secret, stamp + 1, body, header, now)
    assert not verify_signature(secret, "soon", body, header, now)
    # During a rotation the receiver may be sent several signatures: one matching is enough.
    assert verify_signature(secret, stamp, body, f"v1=00ff,{header}", now)


def test_the_secret_is_kept_encrypted_with_a_key_from_the_app(dbs):
    endpoint, secret = endpoint_for(dbs, "https://hr.example.gov.vn/lms", [COMPLETED])
    assert secret.startswith("whsec_") and len(secret) >= 6 + 43
    assert secret.encode() not in endpoint.secret_encrypted
    assert decrypt_secret(endpoint.secret_encrypted) == secret


@pytest.mark.parametrize("url", ["ftp://hr.example.gov.vn/in", "javascript:alert(1)", "hr.example",
                                 "https://", "http://user:pw@hr.example/in", "https://a b.vn/",
                                 ""])
def test_only_http_and_https_addresses_are_accepted(dbs, url):
    with pytest.raises(DomainError) as error:
        create_endpoint(dbs, None, "HR", url, [COMPLETED])
    assert error.value.field == "url"


def test_an_endpoint_needs_a_name_and_known_events(dbs):
    with pytest.raises(DomainError) as error:
        create_endpoint(dbs, None, "  ", "https://hr.example/in", [COMPLETED])
    assert error.value.field == "name"
    for events in ([], ["course.started"]):
        with pytest.raises(DomainError) as error:
            create_endpoint(dbs, None, "HR", "https://hr.example/in", events)
        assert error.value.field == "events"


# ---------------------------------------------------------------- queueing

def test_a_completion_queues_once_per_subscribed_endpoint_even_when_fired_twice(dbs, factory):
    wants_completions, _s = endpoint_for(dbs, "https://a.example/in", [COMPLETED], "A")
    wants_both, _s = endpoint_for(dbs, "https://b.example/in", [COMPLETED, ISSUED], "B")
    wants_revocations, _s = endpoint_for(dbs, "https://c.example/in", [REVOKED], "C")
    learner, course, enrolment = completed_learner(dbs, factory)
    certificate = dbs.scalar(select(Certificate).where(Certificate.enrolment_id == enrolment.id))
    # The same events fire again (a retried request, a second receiver…): nothing new.
    course_completed.send(None, session=dbs, enrolment=enrolment)
    certificate_issued.send(None, session=dbs, certificate=certificate)

    assert [d.event for d in deliveries(dbs, wants_completions)] == [COMPLETED]
    assert sorted(d.event for d in deliveries(dbs, wants_both)) == sorted([COMPLETED, ISSUED])
    assert deliveries(dbs, wants_revocations) == []

    completion = deliveries(dbs, wants_completions)[0]
    assert completion.status == DeliveryStatus.PENDING.value and completion.tries == 0
    assert completion.payload["id"] == completion.delivery_id
    assert completion.payload["type"] == COMPLETED
    data = completion.payload["data"]
    assert data["enrolment_id"] == enrolment.id
    assert data["person"] == {"employee_code": "NV0042", "full_name": "Nguyễn Thị Hồng Nhung",
                              "email": "nhung@mofa.example", "unit_code": "LS"}
    assert data["course"] == {"slug": "an-toan", "title": "An toàn thông tin cơ bản"}
    assert data["completed_at"].endswith("Z")
    issue = next(d for d in deliveries(dbs, wants_both) if d.event == ISSUED)
    assert issue.payload["data"]["serial"] == certificate.serial
    assert issue.payload["data"]["code"] == certificate.code
    assert issue.payload["data"]["verify_url"] == certificates.verify_url(certificate.code)
    assert issue.payload["data"]["revoked_at"] is None
    # Every endpoint's row has its own delivery id.
    ids = [d.delivery_id for d in deliveries(dbs)]
    assert len(set(ids)) == len(ids) == 3


def test_nothing_is_queued_without_a_subscribed_endpoint(dbs, factory):
    endpoint_for(dbs, "https://c.example/in", [REVOKED])
    completed_learner(dbs, factory)
    assert deliveries(dbs) == []


def test_a_rolled_back_completion_queues_nothing(dbs, factory):
    endpoint_for(dbs, "https://a.example/in", [COMPLETED, ISSUED])
    savepoint = dbs.begin_nested()
    completed_learner(dbs, factory)
    assert len(deliveries(dbs)) == 2
    savepoint.rollback()
    assert deliveries(dbs) == []


def test_revoking_and_reissuing_queue_their_events(dbs, factory):
    endpoint, _s = endpoint_for(dbs, "https://a.example/in", [ISSUED, REVOKED])
    admin = factory.admin()
    learner, course, enrolment = completed_learner(dbs, factory)
    first = dbs.scalar(select(Certificate).where(Certificate.enrolment_id == enrolment.id))
    second = certificates.reissue(dbs, first, admin, full_name="Nguyễn Thị Hồng Nhung")
    certificates.revoke(dbs, second, "Cấp nhầm", admin)
    rows = deliveries(dbs, endpoint)
    assert [(d.event, d.event_key) for d in rows] == [
        (ISSUED, f"certificate.issued:{first.id}"), (ISSUED, f"certificate.issued:{second.id}"),
        (REVOKED, f"certificate.revoked:{second.id}")]
    revoked = rows[-1].payload["data"]
    assert revoked["serial"] == second.serial and revoked["reason"] == "Cấp nhầm"
    assert revoked["revoked_at"].endswith("Z")


# ---------------------------------------------------------------- delivery

def test_a_signed_delivery_is_retried_with_the_same_id_until_the_receiver_answers(
        dbs, factory, receiver):
    endpoint, secret = endpoint_for(dbs, receiver.url, [COMPLETED])
    completed_learner(dbs, factory)
    receiver.fail_first(2)
    start = utcnow() + timedelta(seconds=1)
    settings = WebhookSettings(timeout=5, max_tries=10)

    report = deliver_due(dbs, start, settings)
    assert (report.delivered, report.retrying) == (0, 1)
    row = deliveries(dbs)[0]
    assert (row.status, row.tries, row.last_status_code) == ("pending", 1, 500)
    assert row.next_attempt_at == start + timedelta(minutes=1)
    assert "try again later" in row.last_response

    assert deliver_due(dbs, start + timedelta(seconds=30), settings).claimed == 0  # not yet due
    second = start + timedelta(minutes=1)
    deliver_due(dbs, second, settings)
    row = deliveries(dbs)[0]
    assert (row.status, row.tries) == ("pending", 2)
    assert row.next_attempt_at == second + timedelta(minutes=2)
    third = second + timedelta(minutes=2)
    report = deliver_due(dbs, third, settings)
    assert report.delivered == 1
    row = deliveries(dbs)[0]
    assert (row.status, row.tries, row.last_status_code) == ("delivered", 3, 200)
    assert row.delivered_at is not None and row.last_error == "" and '"ok"' in row.last_response

    assert [r.answered for r in receiver.requests] == [500, 500, 200]
    assert receiver.delivery_ids() == [row.delivery_id] * 3
    for request, moment in zip(receiver.requests, (start, second, third), strict=True):
        assert request.header("Content-Type") == "application/json"
        assert request.header("User-Agent") == "lms-webhooks/1"
        assert request.header("X-LMS-Event") == COMPLETED
        stamp = request.header("X-LMS-Timestamp")
        assert near(datetime.fromtimestamp(int(stamp), timezone.utc), moment)  # signed afresh
        assert verify_signature(secret, stamp, request.body, request.header("X-LMS-Signature"),
                                moment)
        # Replayed later, the same request is refused.
        assert not verify_signature(secret, stamp, request.body,
                                    request.header("X-LMS-Signature"),
                                    moment + timedelta(minutes=6))
        assert request.json == row.payload
        assert b" " not in request.body.split(b'"data"')[0]      # compact JSON
    # Deliveries already made are not sent again.
    assert deliver_due(dbs, third + timedelta(hours=1), settings).claimed == 0


def test_a_delivery_is_given_up_after_the_last_try_and_an_admin_sends_it_again(
        dbs, factory, client, receiver):
    endpoint, _s = endpoint_for(dbs, receiver.url, [COMPLETED])
    completed_learner(dbs, factory)
    receiver.fail_first(100, status=503)
    settings = WebhookSettings(timeout=5, max_tries=2)
    now = utcnow() + timedelta(seconds=1)
    deliver_due(dbs, now, settings)
    report = deliver_due(dbs, now + timedelta(minutes=1), settings)
    assert report.failed == 1
    row = deliveries(dbs)[0]
    assert (row.status, row.tries, row.last_status_code) == ("failed", 2, 503)
    assert deliver_due(dbs, now + timedelta(days=1), settings).claimed == 0

    admin = factory.admin()
    dbs.flush()
    login(client, admin.email)
    page = client.get(f"/admin/webhooks/{endpoint.id}?status=failed").get_data(as_text=True)
    assert f'data-delivery-id="{row.delivery_id}"' in page
    response = client.form(f"/admin/webhooks/{endpoint.id}/deliveries/{row.id}/resend")
    assert response.status_code == 302
    row = deliveries(dbs)[0]
    assert row.status == "pending"
    receiver.fail_first(0)
    deliver_due(dbs, utcnow() + timedelta(seconds=1), settings)
    row = deliveries(dbs)[0]
    assert row.status == "delivered"
    assert receiver.delivery_ids() == [row.delivery_id] * 3
    # Only a given-up delivery can be sent again.
    client.form(f"/admin/webhooks/{endpoint.id}/deliveries/{row.id}/resend")
    assert deliveries(dbs)[0].status == "delivered"


def test_revoking_a_certificate_sends_certificate_revoked(dbs, factory, receiver):
    endpoint, secret = endpoint_for(dbs, receiver.url, [REVOKED])
    learner, course, enrolment = completed_learner(dbs, factory)
    certificate = dbs.scalar(select(Certificate).where(Certificate.enrolment_id == enrolment.id))
    certificates.revoke(dbs, certificate, "Thông tin sai", factory.admin())
    now = utcnow() + timedelta(seconds=1)
    assert deliver_webhooks(dbs, now) == "1 delivered, 0 to retry, 0 failed"
    (request,) = receiver.requests
    assert request.header("X-LMS-Event") == REVOKED
    assert request.json["type"] == REVOKED
    assert request.json["data"]["serial"] == certificate.serial
    assert request.json["data"]["reason"] == "Thông tin sai"
    assert verify_signature(secret, request.header("X-LMS-Timestamp"), request.body,
                            request.header("X-LMS-Signature"), now)


def test_a_paused_endpoint_keeps_its_events_until_it_is_active_again(dbs, factory, receiver):
    endpoint, _s = endpoint_for(dbs, receiver.url, [COMPLETED])
    webhooks.set_endpoint_active(dbs, None, endpoint, False)
    completed_learner(dbs, factory)
    assert len(deliveries(dbs)) == 1
    assert deliver_due(dbs, utcnow() + timedelta(hours=1)).claimed == 0
    assert receiver.requests == []
    webhooks.set_endpoint_active(dbs, None, endpoint, True)
    assert deliver_due(dbs, utcnow() + timedelta(seconds=1)).delivered == 1
    assert len(receiver.requests) == 1


def test_an_unreachable_endpoint_is_retried_later_and_the_others_still_receive(
        dbs, factory, receiver):
    dead = Receiver().start()
    dead_url = dead.url
    dead.stop()   # nothing listens there any more
    down, _s = endpoint_for(dbs, dead_url, [COMPLETED, ISSUED], "Down")
    up, _s = endpoint_for(dbs, receiver.url, [COMPLETED], "Up")
    completed_learner(dbs, factory)
    report = deliver_due(dbs, utcnow() + timedelta(seconds=1), WebhookSettings(timeout=2))
    assert (report.delivered, report.retrying) == (1, 2)
    failed = deliveries(dbs, down)
    assert {(d.status, d.tries, d.last_status_code) for d in failed} == {("pending", 1, None)}
    assert all(d.last_error for d in failed)
    assert [d.status for d in deliveries(dbs, up)] == ["delivered"]


def test_a_delivery_left_sending_by_a_dead_process_is_taken_again(dbs, factory, receiver):
    endpoint_for(dbs, receiver.url, [COMPLETED])
    completed_learner(dbs, factory)
    now = utcnow() + timedelta(seconds=1)
    assert delivery.claim_batch(dbs, now) != []      # claimed, then the process died
    assert deliver_due(dbs, now + timedelta(minutes=14)).claimed == 0
    assert deliver_due(dbs, now + timedelta(minutes=16)).delivered == 1
    assert len(receiver.requests) == 1


def test_the_scheduler_job_delivers_once_per_minute(app, dbs, factory, receiver):
    (job,) = [j for j in JOBS if j.id == "api.deliver_webhooks"]
    assert job.id == "api.deliver_webhooks" and job.trigger == {"minute": "*"}
    endpoint_for(dbs, receiver.url, [COMPLETED])
    completed_learner(dbs, factory)
    dbs.commit()
    now = utcnow() + timedelta(seconds=1)
    run = run_job(app, job, now)
    assert run is not None and run.result == "1 delivered, 0 to retry, 0 failed"
    assert run_job(app, job, now) is None           # the same minute: already done
    assert len(receiver.requests) == 1


# ---------------------------------------------------------------- the admin's pages

def test_an_admin_registers_an_endpoint_and_sees_its_secret_once(dbs, factory, client):
    admin = factory.admin()
    dbs.flush()
    login(client, admin.email)
    form = client.get("/admin/webhooks/new")
    assert form.status_code == 200
    assert all(f'value="{event.value}"' in form.get_data(as_text=True) for event in WebhookEvent)
    response = client.form("/admin/webhooks/new", {
        "name": "Hệ thống nhân sự", "url": "https://hr.example.gov.vn/lms-events",
        "events": [COMPLETED, REVOKED]})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    endpoint = dbs.scalar(select(WebhookEndpoint))
    secret = decrypt_secret(endpoint.secret_encrypted)
    assert f'id="signing-secret" data-endpoint="{endpoint.id}">{secret}</code>' in page
    assert response.headers["Cache-Control"] == "no-store"
    assert (endpoint.name, endpoint.url, endpoint.events, endpoint.is_active) == (
        "Hệ thống nhân sự", "https://hr.example.gov.vn/lms-events", [COMPLETED, REVOKED], True)
    # Never shown again.
    for url in ("/admin/webhooks/", f"/admin/webhooks/{endpoint.id}",
                f"/admin/webhooks/{endpoint.id}/edit"):
        shown = client.get(url)
        assert shown.status_code == 200 and secret not in shown.get_data(as_text=True)
    # A new secret replaces it, shown once too.
    rotated = client.form(f"/admin/webhooks/{endpoint.id}/rotate")
    assert rotated.status_code == 200
    dbs.expire_all()
    new_secret = decrypt_secret(dbs.get(WebhookEndpoint, endpoint.id).secret_encrypted)
    assert new_secret != secret and new_secret in rotated.get_data(as_text=True)


def test_an_address_that_is_not_http_is_refused_with_the_reason(dbs, factory, client):
    admin = factory.admin()
    dbs.flush()
    login(client, admin.email)
    response = client.form("/admin/webhooks/new", {"name": "HR", "url": "ftp://hr.example/in",
                                                   "events": [COMPLETED]})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="url-error"' in page
    assert 'id="signing-secret"' not in page
    assert dbs.scalar(select(WebhookEndpoint)) is None
    none_chosen = client.form("/admin/webhooks/new", {"name": "HR", "url": "https://hr.example/in"})
    assert 'id="events-error"' in none_chosen.get_data(as_text=True)


def test_an_admin_edits_pauses_and_resumes_an_endpoint(dbs, factory, client):
    admin = factory.admin()
    endpoint, _s = endpoint_for(dbs, "https://hr.example/in", [COMPLETED])
    dbs.flush()
    login(client, admin.email)
    response = client.form(f"/admin/webhooks/{endpoint.id}/edit", {
        "name": "Nhân sự", "url": "https://hr2.example/in", "events": [ISSUED, REVOKED]})
    assert response.status_code == 302
    dbs.expire_all()
    assert (endpoint.name, endpoint.url, endpoint.events) == (
        "Nhân sự", "https://hr2.example/in", [ISSUED, REVOKED])
    assert client.form(f"/admin/webhooks/{endpoint.id}/deactivate").status_code == 302
    dbs.expire_all()
    assert endpoint.is_active is False
    page = client.get("/admin/webhooks/").get_data(as_text=True)
    assert f'id="endpoint-{endpoint.id}" data-active="false"' in page
    client.form(f"/admin/webhooks/{endpoint.id}/activate")
    dbs.expire_all()
    assert endpoint.is_active is True


def test_a_test_event_reaches_the_receiver_signed(dbs, factory, client, receiver):
    admin = factory.admin()
    endpoint, secret = endpoint_for(dbs, receiver.url, [COMPLETED])
    dbs.flush()
    login(client, admin.email)
    response = client.form(f"/admin/webhooks/{endpoint.id}/ping", follow_redirects=True)
    assert gettext("The endpoint answered %(status)s to the test event.", status=200) \
        in response.get_data(as_text=True)
    (request,) = receiver.requests
    assert request.json["type"] == "ping" and request.header("X-LMS-Event") == "ping"
    assert verify_signature(secret, request.header("X-LMS-Timestamp"), request.body,
                            request.header("X-LMS-Signature"))
    assert deliveries(dbs) == []


def test_the_pages_run_a_fixed_number_of_queries(dbs, factory, client, count_queries):
    admin = factory.admin()
    endpoint, _s = endpoint_for(dbs, "https://a.example/in", [COMPLETED])
    endpoint_id = endpoint.id
    dbs.flush()
    login(client, admin.email)

    def measure() -> tuple[int, int]:
        client.get("/admin/webhooks/")   # (the sign-in session's own bookkeeping comes first)
        with count_queries() as listing:
            assert client.get("/admin/webhooks/").status_code == 200
        with count_queries() as detail:
            assert client.get(f"/admin/webhooks/{endpoint_id}").status_code == 200
        return len(listing), len(detail)

    before = measure()
    for n in range(3):
        endpoint_for(dbs, f"https://b{n}.example/in", [COMPLETED, ISSUED], f"B{n}")
    completed_learner(dbs, factory)
    dbs.flush()
    assert len(deliveries(dbs)) == 7
    assert measure() == before


def test_the_endpoint_page_lists_its_deliveries_page_by_page(dbs, factory, client, app):
    admin = factory.admin()
    endpoint, _s = endpoint_for(dbs, "https://a.example/in", [COMPLETED])
    for n in range(3):
        webhooks.enqueue(dbs, WebhookEvent.COURSE_COMPLETED, f"course.completed:test:{n}",
                         lambda: {"n": 1})
    dbs.flush()
    login(client, admin.email)
    app.config["PAGE_SIZE"], size = 2, app.config["PAGE_SIZE"]
    try:
        first = client.get(f"/admin/webhooks/{endpoint.id}").get_data(as_text=True)
        second = client.get(f"/admin/webhooks/{endpoint.id}?page=2").get_data(as_text=True)
    finally:
        app.config["PAGE_SIZE"] = size
    ids = [d.delivery_id for d in deliveries(dbs)]
    assert [i in first for i in ids] == [False, True, True]
    assert [i in second for i in ids] == [True, False, False]


def test_only_admins_reach_the_webhook_pages(dbs, factory, client):
    unit = factory.unit()
    head = factory.unit_head(unit)
    learner = factory.person(unit=unit)
    endpoint, _s = endpoint_for(dbs, "https://a.example/in", [COMPLETED])
    webhooks.enqueue(dbs, WebhookEvent.COURSE_COMPLETED, "course.completed:x", lambda: {})
    delivery = deliveries(dbs)[0]
    dbs.flush()
    pages = ["/admin/webhooks/", "/admin/webhooks/new", f"/admin/webhooks/{endpoint.id}",
             f"/admin/webhooks/{endpoint.id}/edit"]
    actions = [f"/admin/webhooks/{endpoint.id}/{action}"
               for action in ("rotate", "deactivate", "activate", "ping")]
    actions += ["/admin/webhooks/new", f"/admin/webhooks/{endpoint.id}/edit",
                f"/admin/webhooks/{endpoint.id}/deliveries/{delivery.id}/resend"]
    for person in (head, learner):
        login(client, person.email)
        for url in pages:
            assert client.get(url).status_code == 403, url
        for url in actions:
            assert client.form(url, {"name": "x", "url": "https://x.example",
                                     "events": [COMPLETED]}).status_code == 403, url
    dbs.expire_all()
    assert endpoint.is_active and len(deliveries(dbs)) == 1
    client.delete_cookie(client.application.config["SESSION_COOKIE_NAME"])
    assert client.get("/admin/webhooks/").status_code == 302   # to the sign-in page


def test_a_missing_endpoint_or_delivery_is_404(dbs, factory, client):
    admin = factory.admin()
    endpoint, _s = endpoint_for(dbs, "https://a.example/in", [COMPLETED])
    other, _s = endpoint_for(dbs, "https://b.example/in", [COMPLETED])
    webhooks.enqueue(dbs, WebhookEvent.COURSE_COMPLETED, "course.completed:x", lambda: {})
    delivery = deliveries(dbs, endpoint)[0]
    dbs.flush()
    login(client, admin.email)
    assert client.get(f"/admin/webhooks/{other.id + 100}").status_code == 404
    assert client.form(f"/admin/webhooks/{other.id}/deliveries/{delivery.id}/resend"
                       ).status_code == 404


def test_payload_json_is_what_is_sent(dbs):
    payload = {"id": "x", "type": COMPLETED, "data": {"name": "Nhung"}}
    assert json.loads(delivery.body_of(payload)) == payload


# ---------------------------------------------------------------- concurrency (committed data)

@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    """An app whose transactions really commit (each test cleans up after itself)."""
    with fresh_database("webhooks") as url:
        app = create_app(app_settings(url, str(tmp_path_factory.mktemp("webhooks"))))
        with app.app_context():
            upgrade_database()
        yield app
        with app.app_context():
            db.engine.dispose()


def _clear(app) -> None:
    def work(dbs):
        dbs.execute(WebhookDelivery.__table__.delete())
        dbs.execute(WebhookEndpoint.__table__.delete())
    in_transaction(app, work)


def test_two_delivery_runs_at_once_send_each_delivery_once(committed, receiver):
    def setup(dbs):
        create_endpoint(dbs, None, "HR", receiver.url, [COMPLETED])
        dbs.flush()
        for n in range(7):
            webhooks.enqueue(dbs, WebhookEvent.COURSE_COMPLETED, f"course.completed:{n}:race",
                             lambda n=n: {"n": n})

    _clear(committed)
    in_transaction(committed, setup)
    now = utcnow() + timedelta(seconds=1)
    try:
        reports = race(committed, [lambda dbs: deliver_due(dbs, now, batch_size=2)] * 2)
        assert sum(r.delivered for r in reports) == 7
        ids = receiver.delivery_ids()
        assert len(ids) == len(set(ids)) == 7
        rows = in_transaction(committed, lambda dbs: [(d.status, d.tries, d.delivery_id)
                                                      for d in dbs.scalars(select(WebhookDelivery))])
        assert {(status, tries) for status, tries, _id in rows} == {("delivered", 1)}
        assert sorted(i for _s, _t, i in rows) == sorted(ids)
        # Both run again a minute later: nothing is sent twice.
        race(committed, [lambda dbs: deliver_due(dbs, now + timedelta(minutes=1))] * 2)
        assert len(receiver.requests) == 7
    finally:
        _clear(committed)


def test_one_event_queued_by_two_transactions_at_once_is_queued_once(committed):
    def setup(dbs):
        create_endpoint(dbs, None, "HR", "https://hr.example/in", [COMPLETED])

    def queue(dbs):
        return webhooks.enqueue(dbs, WebhookEvent.COURSE_COMPLETED, "course.completed:1:same",
                                lambda: {"n": 1})

    _clear(committed)
    in_transaction(committed, setup)
    try:
        assert sorted(race(committed, [queue, queue])) == [0, 1]
        count = in_transaction(committed, lambda dbs: len(dbs.scalars(
            select(WebhookDelivery)).all()))
        assert count == 1
    finally:
        _clear(committed)


def test_every_queued_payload_matches_the_documents_webhooks_section(dbs, factory, client):
    import jsonschema_rs

    endpoint_for(dbs, "https://hr.example/in", [COMPLETED, ISSUED, REVOKED])
    _learner, _course, enrolment = completed_learner(dbs, factory)
    certificate = dbs.scalar(select(Certificate).where(Certificate.enrolment_id == enrolment.id))
    certificates.revoke(dbs, certificate, "Cấp nhầm", factory.admin())
    dbs.flush()
    document = client.get("/api/v1/openapi.json").get_json()
    deliveries = list(dbs.scalars(select(WebhookDelivery)))
    assert {d.event for d in deliveries} == {COMPLETED, ISSUED, REVOKED}
    for queued in deliveries:
        schema = document["webhooks"][queued.event]["post"]["requestBody"]["content"][
            "application/json"]["schema"]
        errors = [e.message for e in jsonschema_rs.validator_for(schema).iter_errors(
            queued.payload)]
        assert errors == [], (queued.event, errors)
