"""An administrator connects the HR system, in a real browser and over real HTTP.

Data sharing → new API client (staff sync + progress) → the token is shown once → the HR
system syncs a new colleague and reads progress with it → the client's page logs both
calls → a webhook endpoint for completed courses → the colleague completes a course → the
scheduler's delivery run sends a signed event the receiver can verify → the endpoint's page
shows it delivered → the token is revoked and stops working.
"""
from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lms.api.webhooks import verify_signature
from lms.courses import authoring
from lms.courses import services as learning
from lms.db import db, utcnow
from lms.org.models import User
from lms.scheduler import run_now
from tests.api.receiver import Receiver
from tests.e2e.conftest import LiveServer, check_accessibility, screenshot, sign_in

pytestmark = pytest.mark.e2e

PASSWORD = "ChiaSe-2026-e2e"


def call(server: LiveServer, method: str, path: str, token: str, body: dict | None = None):
    """(status, JSON) of an API call over HTTP, as another system makes it."""
    request = urllib.request.Request(
        server.url + "/api/v1" + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                 "Accept-Language": "vi"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def published_course(server: LiveServer, tag: str):
    with server.app.app_context():
        session = db.session
        course = authoring.create_course(session, None, authoring.CourseData(
            slug=f"du-lieu-{tag}", title="Chia sẻ dữ liệu qua LGSP", summary="Kết nối hệ thống.",
            topic="data", estimated_minutes=15))
        module = authoring.add_module(session, None, course, "Chương 1")
        authoring.add_lesson(session, None, module, authoring.LessonData(
            title="LGSP là gì", body="## LGSP\n\nNền tảng chia sẻ, tích hợp dữ liệu của Bộ."))
        authoring.set_course_status(session, None, course, "published")
        session.commit()
        return course.slug


def complete_course(server: LiveServer, employee_code: str, slug: str) -> None:
    from lms.courses.models import Course
    from lms.courses.queries import course_outline

    with server.app.app_context():
        session = db.session
        person = session.scalar(select(User).where(User.employee_code == employee_code))
        course = session.scalar(select(Course).where(Course.slug == slug))
        for lesson in course_outline(session, course, None).lessons:
            learning.complete_lesson(session, person, lesson)
        session.commit()


def test_admin_connects_the_hr_system_and_receives_completions(page: Page,
                                                                server: LiveServer) -> None:
    tag = secrets.token_hex(3)
    admin = server.create_admin(PASSWORD, name="Lê Thị Thu Hà")
    receiver = Receiver().start()
    try:
        sign_in(page, admin["email"], PASSWORD)

        # -- a client for the HR system: the token is shown once
        page.locator("nav.site-nav a[href='/admin/api/clients']").click()
        page.locator("#new-client").click()
        page.locator("#client-form input[name=name]").fill(f"Hệ thống nhân sự {tag}")
        page.locator("#client-form input[value='staff:write']").check()
        page.locator("#client-form input[value='progress:read']").check()
        check_accessibility(page, "new API client")
        page.locator("#client-form button[type=submit]").click()
        token = page.locator("#new-token").inner_text().strip()
        assert token.startswith("lms_")
        client_url = f"/admin/api/clients/{page.locator('#client-name').get_attribute('data-client')}"
        screenshot(page, "api-client-token", server.db_kind)

        # -- the HR system syncs a new colleague, then reads progress
        code = f"NS{tag.upper()}"
        status, body = call(server, "POST", "/staff/sync", token, {"people": [{
            "employee_code": code, "full_name": "Phan Văn Khải", "email": f"khai.{tag}@mofa.example",
            "unit_code": server.seed.division_code, "position": "Chuyên viên"}]})
        assert status == 200 and body["people"]["created"] == 1, body
        status, body = call(server, "GET", f"/people/{code}/progress", token)
        assert status == 200 and body["data"] == []
        status, problem = call(server, "GET", f"/people/{code}/certificates", token)
        assert status == 403 and problem["required_scope"] == "certificates:read"

        page.goto(client_url)
        log = page.locator("#call-log tbody tr")
        expect(log).to_have_count(3)
        expect(page.locator("#call-log tr[data-status='403']")).to_have_count(1)
        check_accessibility(page, "API client with its calls")
        screenshot(page, "api-client-calls", server.db_kind)

        # -- a webhook endpoint for completed courses
        page.locator("nav.site-nav a[href='/admin/api/clients']").click()
        page.locator("#data-sharing-nav a[href='/admin/webhooks/']").click()
        page.locator("#new-endpoint").click()
        page.locator("#endpoint-form input[name=name]").fill(f"Nhân sự {tag}")
        page.locator("#endpoint-form input[name=url]").fill(receiver.url)
        page.locator("#endpoint-form input[value='course.completed']").check()
        for event in ("certificate.issued", "certificate.revoked"):
            page.locator(f"#endpoint-form input[value='{event}']").uncheck()
        check_accessibility(page, "new webhook endpoint")
        page.locator("#endpoint-form button[type=submit]").click()
        secret = page.locator("#signing-secret").inner_text().strip()
        endpoint_id = page.locator("#signing-secret").get_attribute("data-endpoint")

        # -- the colleague completes a course; the scheduler delivers the event
        slug = published_course(server, tag)
        complete_course(server, code, slug)
        run_now(server.app, "api.deliver_webhooks", utcnow() + timedelta(minutes=1))
        assert len(receiver.requests) == 1
        received = receiver.requests[0]
        assert received.json["type"] == "course.completed"
        assert received.json["data"]["person"]["employee_code"] == code
        assert verify_signature(secret, received.header("X-LMS-Timestamp"), received.body,
                                received.header("X-LMS-Signature"), int(time.time()))
        assert not verify_signature("whsec_wrong", received.header("X-LMS-Timestamp"),
                                    received.body, received.header("X-LMS-Signature"),
                                    int(time.time()))

        page.goto(f"/admin/webhooks/{endpoint_id}")
        row = page.locator("#deliveries tbody tr").first
        expect(row).to_have_attribute("data-status", "delivered")
        expect(row).to_have_attribute("data-delivery-id", received.header("X-LMS-Delivery"))
        check_accessibility(page, "webhook endpoint with a delivery")
        screenshot(page, "webhook-delivered", server.db_kind)

        # -- the progress feed now has the completion; revoking stops the token
        status, body = call(server, "GET", f"/people/{code}/progress", token)
        assert [item["status"] for item in body["data"]] == ["completed"]
        page.goto(client_url)
        page.locator("#revoke input[type=checkbox]").check()
        page.locator("#revoke button[type=submit]").click()
        expect(page.locator("#client-name")).to_have_attribute("data-status", "revoked")
        assert call(server, "GET", "/progress", token)[0] == 401
    finally:
        receiver.stop()


def test_the_reference_page_reads_well_on_a_phone(page: Page, server: LiveServer) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/api/v1/docs")
    expect(page.locator("#op-syncStaff")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    check_accessibility(page, "API reference")
    screenshot(page, "api-reference-phone", server.db_kind)
