"""A learner earns a certificate and anyone verifies it, in a real browser.

Learner signs in → finishes a one-lesson course → My certificates lists the certificate →
downloads the PDF → opens the verification address printed under the QR code (signed
out, as anyone who scans it) → the page says the certificate is valid. Every page is
checked with axe-core; screenshots go to test-artifacts/.
"""
from __future__ import annotations

import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from lms.auth.passwords import hash_password
from lms.courses import authoring
from lms.db import db
from lms.org import services
from tests.certificates.support import pdf_text, qr_codes, words
from tests.e2e.conftest import LiveServer, allow_console_error, check_accessibility, screenshot

pytestmark = pytest.mark.e2e

PASSWORD = "ChungNhan-2025-e2e"
NAME = "Tôn Nữ Thị Phương Thảo"
TITLE = "Chữ ký số trong văn bản điện tử"


def one_lesson_course(server: LiveServer) -> str:
    token = secrets.token_hex(3)
    with server.app.app_context():
        session = db.session
        course = authoring.create_course(session, None, authoring.CourseData(
            slug=f"chu-ky-so-{token}", title=TITLE, summary="Ký số văn bản điện tử.",
            topic="documents", estimated_minutes=90))
        module = authoring.add_module(session, None, course, "Chương 1")
        authoring.add_lesson(session, None, module, authoring.LessonData(
            title="Chữ ký số là gì", body="## Chữ ký số\n\nChữ ký số bảo đảm tính toàn vẹn."))
        authoring.set_course_status(session, None, course, "published")
        session.commit()
        return course.slug


def create_learner(server: LiveServer) -> str:
    token = secrets.token_hex(3)
    email = f"chungnhan.{token}@mofa.example"
    with server.app.app_context():
        services.create_person(db.session, None, services.PersonData(
            employee_code=f"CN{token.upper()}", full_name=NAME, email=email,
            unit_id=server.seed.division_id, position="Chuyên viên"),
            password_hash=hash_password(PASSWORD), must_change_password=False)
        db.session.commit()
    return email


def test_learner_downloads_the_certificate_and_its_qr_link_says_valid(page: Page,
                                                                      server: LiveServer) -> None:
    slug = one_lesson_course(server)
    email = create_learner(server)
    page.goto("/login")
    page.locator("#login").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()

    # -- finish the course's only lesson
    page.goto(f"/courses/{slug}")
    page.locator(f"form[action='/courses/{slug}/enrol'] button").click()
    page.locator("#complete-lesson button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/courses/{slug}$"))

    # -- My certificates, from the main menu
    page.locator("nav.site-nav a[href='/certificates']").click()
    expect(page.locator("main h1")).to_be_visible()
    row = page.locator("table.certificates-table tbody tr").filter(has_text=TITLE)
    expect(row).to_have_count(1)
    expect(row.locator(".badge--published")).to_be_visible()
    serial = row.locator("td").nth(2).inner_text().strip()
    assert re.fullmatch(r"BNG-\d{4}-\d{6}", serial)
    check_accessibility(page, "my certificates")
    screenshot(page, "my-certificates", server.db_kind)

    # -- download the PDF: the name, course and number exactly as printed
    with page.expect_download() as info:
        row.locator("a[href$='.pdf']").click()
    download = info.value
    assert download.suggested_filename == f"chung-nhan-{serial}.pdf"
    pdf = Path(download.path()).read_bytes()
    text = words(pdf_text(pdf))
    assert NAME in text and TITLE in text and serial in text and "1,5 giờ" in text

    # -- the QR code, scanned from the page's picture and opened signed out (as anyone who
    # scans it); the address printed under it is the same
    [scanned] = qr_codes(pdf)
    printed = re.search(r"https?://\S+/verify/\s?\S+", text)
    assert printed and printed.group(0).replace(" ", "") == scanned, (text, scanned)
    verify_path = urlsplit(scanned).path
    assert row.locator(f"a[href='{verify_path}']").count() == 1  # the same link as on the page
    page.context.clear_cookies()
    page.goto(verify_path)
    result = page.locator(".verify-result")
    expect(result).to_have_class(re.compile(r"verify-result--valid"))
    expect(result).to_contain_text(NAME)
    expect(result).to_contain_text(TITLE)
    expect(result).to_contain_text(serial)
    expect(page.locator("nav.site-nav")).to_have_count(0)  # nobody is signed in
    check_accessibility(page, "verify page")
    screenshot(page, "verify-valid", server.db_kind)

    # -- typing the number works too
    page.goto("/verify")
    check_accessibility(page, "verify form")
    page.locator("#serial").fill(serial.lower())
    page.locator("form.verify-search button[type=submit]").click()
    expect(page.locator(".verify-result")).to_have_class(re.compile(r"verify-result--valid"))
    allow_console_error(page, r"404")  # an unknown number is answered "not found"
    page.goto("/verify?serial=BNG-1999-000001")
    expect(page.locator(".verify-result")).to_have_class(re.compile(r"verify-result--unknown"))
    screenshot(page, "verify-unknown", server.db_kind)
