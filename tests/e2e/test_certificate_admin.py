"""An admin designs a certificate template and issues certificates in bulk, in a real browser.

Admin signs in → new certificate template (designer form) → saves it → opens a course's
certificate settings from the course editor and chooses the template → issues the
certificates of five paper completions in bulk → the job page's progress bar follows the
job (certificates-admin.js polls its status) → at the end the ZIP is offered. Every page is
checked with axe-core; screenshots go to test-artifacts/.
"""
from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lms.certificates import jobs
from lms.certificates.models import CertificateJob
from lms.courses import authoring
from lms.courses import services as learning
from lms.courses.queries import course_outline
from lms.db import db
from lms.org import services
from lms.seeds.certificates import issuing_deferred
from tests.e2e.conftest import LiveServer, check_accessibility, screenshot

pytestmark = pytest.mark.e2e

PASSWORD = "QuanTri-2025-e2e"
NAMES = ("Vũ Thị Lan", "Phan Văn Hùng", "Lê Ngọc Mai", "Đỗ Quang Huy", "Hồ Thị Ánh")


def course_with_paper_completions(server: LiveServer) -> tuple[int, str]:
    """A one-lesson course and five people whose completions came from a paper session (no
    certificate issued yet)."""
    token = secrets.token_hex(3)
    with server.app.test_request_context():
        session = db.session
        course = authoring.create_course(session, None, authoring.CourseData(
            slug=f"chu-ky-so-giay-{token}", title="Chữ ký số (lớp học trực tiếp)",
            topic="documents", estimated_minutes=120))
        module = authoring.add_module(session, None, course, "Chương 1")
        authoring.add_lesson(session, None, module, authoring.LessonData(
            title="Chữ ký số là gì", body="Nội dung."))
        authoring.set_course_status(session, None, course, "published")
        lesson = course_outline(session, course, None).lessons[0]
        with issuing_deferred():
            for n, name in enumerate(NAMES):
                person = services.create_person(session, None, services.PersonData(
                    employee_code=f"PG{token.upper()}{n}", full_name=name,
                    email=f"giay.{token}.{n}@mofa.example", unit_id=server.seed.division_id))
                learning.complete_lesson(session, person, lesson)
        session.commit()
        return course.id, course.title


def test_admin_designs_a_template_and_issues_certificates_in_bulk(page: Page,
                                                                  server: LiveServer,
                                                                  monkeypatch) -> None:
    admin = server.create_admin(PASSWORD)
    course_id, _title = course_with_paper_completions(server)
    template_name = f"Mẫu lớp trực tiếp {secrets.token_hex(2)}"
    page.goto("/login")
    page.locator("#login").fill(admin["email"])
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()

    # -- the designer
    page.goto("/author/certificate-templates/new")
    page.locator("#name").fill(template_name)
    page.locator("#design").select_option("modern")
    page.locator("#signer_name").fill("Lê Hoài Trung")
    page.locator("#signer_title").fill("Thứ trưởng")
    page.locator("#signer_title_en").fill("Deputy Minister")
    check_accessibility(page, "certificate template designer")
    screenshot(page, "certificate-designer-vi", server.db_kind)
    # "Preview with sample data" opens the PDF in a new tab; nothing is saved.
    with page.context.expect_event(
            "response", lambda r: r.request.method == "POST" and "/new" in r.url) as answer, \
            page.expect_popup() as popup:
        page.locator("button[name=preview]").click()
    assert answer.value.headers["content-type"] == "application/pdf"
    assert answer.value.headers["content-disposition"].startswith("inline")
    popup.value.close()
    page.locator("button[name=save]").click()
    expect(page.locator(".flash--success")).to_be_visible()
    check_accessibility(page, "saved template")

    # -- the course chooses it, from the course editor
    page.goto(f"/author/courses/{course_id}")
    page.locator(f"a[href='/author/courses/{course_id}/certificate']").click()
    page.locator("#template_id").select_option(label=template_name)
    page.locator("#hours").fill("2,5")
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".flash--success")).to_be_visible()
    check_accessibility(page, "course certificate settings")

    # -- bulk issue: queued (nobody runs it yet), then the job moves and the page follows
    monkeypatch.setitem(server.app.config, "CERTIFICATE_JOB_RUNNER", "none")
    page.goto(f"/admin/certificates/courses/{course_id}/issue")
    check_accessibility(page, "bulk issue")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/admin/certificates/jobs/\d+$"))
    expect(page.locator("#job-bar")).to_have_attribute("value", "0")
    check_accessibility(page, "bulk issue job, queued")
    job_id = int(page.url.rsplit("/", 1)[1])

    jobs.run_job(server.app, job_id, workers=0, chunk_size=2, max_chunks=1)
    expect(page.locator("[data-job=summary]")).to_contain_text("2", timeout=10_000)
    expect(page.locator("#job-bar")).to_have_attribute("value", re.compile(r"[24]"))
    screenshot(page, "certificate-bulk-progress-vi", server.db_kind)
    check_accessibility(page, "bulk issue job, running")

    with server.app.app_context():  # the rest, as if the server had restarted in between
        job = db.session.get(CertificateJob, job_id)
        job.heartbeat_at = job.heartbeat_at - jobs.STALE_AFTER * 2
        db.session.commit()
    assert jobs.work_pending(server.app, workers=0) >= 1
    download = page.locator("[data-job=download] a")
    expect(download).to_be_visible(timeout=10_000)  # the script reloaded the finished page
    expect(page.locator("#job-bar")).to_have_attribute("value", "5")
    screenshot(page, "certificate-bulk-done-vi", server.db_kind)
    check_accessibility(page, "bulk issue job, done")
    with page.expect_download() as info:
        download.click()
    assert info.value.suggested_filename.endswith(".zip")

    # -- the course's certificates, with the template's signer on them
    page.goto(f"/admin/certificates/courses/{course_id}")
    expect(page.locator("main tbody tr")).to_have_count(5)
    screenshot(page, "certificate-admin-list-vi", server.db_kind)
    check_accessibility(page, "certificates of a course")
    with server.app.app_context():
        assert db.session.scalar(select(CertificateJob.status).where(
            CertificateJob.id == job_id)) == "done"

    # -- one certificate: revoke (admins), reissue; and the overview pages
    page.locator("main tbody tr").first.locator("td a").first.click()
    expect(page.locator("#reason")).to_be_visible()
    check_accessibility(page, "a certificate")
    page.locator("#reason").fill("Cấp nhầm người")
    page.locator("main form button.button--danger").click()
    expect(page.locator(".flash--success")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Cấp nhầm người")
    screenshot(page, "certificate-admin-revoked-vi", server.db_kind)
    check_accessibility(page, "a revoked certificate")
    page.goto(f"/admin/certificates/courses/{course_id}")
    page.locator("main tbody tr").nth(1).locator("td a").first.click()
    page.locator("a[href$='/reissue']").click()
    check_accessibility(page, "reissue")
    page.locator("#confirm").check()
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator(".flash--success")).to_be_visible()
    for url in ("/admin/certificates", "/author/certificate-templates"):
        page.goto(url)
        check_accessibility(page, url)
    expect(page.locator("main")).to_contain_text(template_name)
