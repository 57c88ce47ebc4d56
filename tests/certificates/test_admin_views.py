"""Trainers design certificate templates (previewed with sample data; a broken one refused at
save time with WeasyPrint's message, nothing saved) and choose a course's template; trainers
and admins find certificates, reissue after a name correction and issue in bulk; only admins
revoke.

The pages are read in English (the language is switched after signing in), so the
assertions do not depend on the Vietnamese catalog.
"""
from __future__ import annotations

import io
import zipfile
from html import unescape

import pytest
from PIL import Image
from sqlalchemy import func, select

from lms.audit.models import AuditEvent
from lms.certificates import jobs, services, storage
from lms.certificates.models import (
    Certificate,
    CertificateJob,
    CertificateTemplate,
    CourseCertificate,
)
from lms.org import services as org
from lms.org.models import Role
from lms.seeds.certificates import issuing_deferred
from tests.certificates.support import complete, pdf_text, words
from tests.conftest import login

LEARNER = "Nguyễn Thị Hồng Nhung"


def sign_in(client, person):
    """Sign in and read the pages in English."""
    login(client, person.email)
    client.form("/language/en", {"next": "/"})
    return client


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def png(colour=(180, 30, 40), size=(80, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def count(dbs, model) -> int:
    return dbs.scalar(select(func.count()).select_from(model))


def audit_actions(dbs) -> list[str]:
    return list(dbs.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


@pytest.fixture()
def trainer(factory):
    return factory.person(name="Lê Thu Hương", email="trainer@mofa.example",
                          roles=((Role.TRAINER.value, None),))


@pytest.fixture()
def admin(factory):
    return factory.admin(name="Trần Minh Quân", email="admin@mofa.example")


@pytest.fixture()
def learner(factory):
    return factory.person(name=LEARNER, email="learner@mofa.example",
                          unit=factory.unit(name="Cục Lãnh sự"))


@pytest.fixture()
def course(factory):
    return factory.course(title="Chữ ký số trong văn bản điện tử", lessons=1)


@pytest.fixture()
def certificate(dbs, learner, course):
    enrolment = complete(dbs, learner, course)
    return services.live_certificate(dbs, enrolment.id, enrolment.completed_at)


def template_form(**overrides) -> dict:
    data = {
        "name": "Mẫu Cục Cơ yếu", "design": "modern", "bilingual": "y",
        "issuer_name": "BỘ NGOẠI GIAO", "issuer_name_en": "MINISTRY OF FOREIGN AFFAIRS",
        "heading": "GIẤY CHỨNG NHẬN", "heading_en": "CERTIFICATE OF COMPLETION",
        "body": "đã hoàn thành chương trình bồi dưỡng", "body_en": "has completed the training",
        "signer_name": "Phạm Quang Hiệu", "signer_title": "Thứ trưởng",
        "signer_title_en": "Deputy Minister", "save": "1",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# ---------------------------------------------------------------- designer

def test_trainer_creates_a_template_with_a_logo(client, dbs, trainer):
    sign_in(client, trainer)
    assert "New template" in text(client.get("/author/certificate-templates"))
    form = client.get("/author/certificate-templates/new")
    assert form.status_code == 200 and 'formtarget="_blank"' in text(form)

    response = client.form("/author/certificate-templates/new", template_form(
        logo=(io.BytesIO(png()), "logo.png")), content_type="multipart/form-data")

    assert response.status_code == 302
    template = dbs.scalar(select(CertificateTemplate).where(
        CertificateTemplate.name == "Mẫu Cục Cơ yếu"))
    assert (template.design, template.signer_name, template.logo_type) == (
        "modern", "Phạm Quang Hiệu", "image/png")
    assert storage.path_for(template.logo_sha256).read_bytes() == png()
    assert template.updated_by_id == trainer.id
    assert "certificate_template.created" in audit_actions(dbs)
    page = text(client.get(response.location))
    assert "Current logo" in page and "The certificate template Mẫu Cục Cơ yếu was saved." in page
    with client.get(f"/author/certificate-templates/{template.id}/image/logo") as image:
        assert image.status_code == 200 and image.data == png()
    assert "Mẫu Cục Cơ yếu" in text(client.get("/author/certificate-templates"))


def test_trainer_edits_a_template_and_chooses_it_for_a_course(client, dbs, trainer, course):
    sign_in(client, trainer)
    client.form("/author/certificate-templates/new", template_form(
        logo=(io.BytesIO(png()), "logo.png")), content_type="multipart/form-data")
    template = dbs.scalar(select(CertificateTemplate).where(
        CertificateTemplate.name == "Mẫu Cục Cơ yếu"))

    refused = client.form(f"/author/certificate-templates/{template.id}", template_form(
        register_prefix="HV-NG"), content_type="multipart/form-data")
    assert refused.status_code == 422
    assert "The register prefix is 1 to 20 letters (A–Z) or digits" in text(refused)
    edited = client.form(f"/author/certificate-templates/{template.id}", template_form(
        name="Mẫu kỹ năng số", design="classic", remove_logo="y", signer_name="Lê Hoài Trung",
        register_prefix=" hvng "), content_type="multipart/form-data")
    assert edited.status_code == 302
    dbs.refresh(template)
    assert (template.name, template.design, template.signer_name, template.logo_sha256,
            template.register_prefix) == ("Mẫu kỹ năng số", "classic", "Lê Hoài Trung", None, "HVNG")

    # The course page links to the course's certificate settings.
    assert (f'href="/author/courses/{course.id}/certificate"'
            in text(client.get(f"/author/courses/{course.id}")))
    settings = f"/author/courses/{course.id}/certificate"
    assert client.get(settings).status_code == 200
    saved = client.form(settings, {"template_id": str(template.id), "hours": "1,5",
                                   "title_en": "Digital signatures in e-documents"})
    assert saved.status_code == 302
    link = dbs.get(CourseCertificate, course.id)
    assert (link.template_id, link.hours, link.title_en) == (
        template.id, 1.5, "Digital signatures in e-documents")
    assert services.template_for_course(dbs, course).id == template.id

    preview = client.get(f"{settings}/preview.pdf")
    assert preview.status_code == 200 and preview.mimetype == "application/pdf"
    assert preview.headers["Content-Disposition"].startswith("inline")
    printed = words(pdf_text(preview.data))
    for fact in ("Chữ ký số trong văn bản điện tử", "Digital signatures in e-documents",
                 "Lê Hoài Trung", "1,5 giờ"):
        assert fact in printed


def test_course_settings_refuse_bad_hours(client, dbs, trainer, course):
    sign_in(client, trainer)
    template = services.default_template(dbs)
    response = client.form(f"/author/courses/{course.id}/certificate",
                           {"template_id": str(template.id), "hours": "nhiều"})
    assert response.status_code == 200 and "Enter a number of hours" in text(response)
    assert dbs.get(CourseCertificate, course.id) is None


def test_preview_prints_the_unsaved_values_with_sample_data_and_saves_nothing(client, dbs, trainer):
    sign_in(client, trainer)
    before = count(dbs, CertificateTemplate)

    response = client.form("/author/certificate-templates/new", template_form(
        save=None, preview="1", signer_name="Nguyễn Minh Vũ", name=""),
        content_type="multipart/form-data")

    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("inline")
    printed = words(pdf_text(response.data))
    assert "Nguyễn Minh Vũ" in printed and "Deputy Minister" in printed
    assert "Nguyễn Thị Hồng Nhung" in printed  # the sample learner
    assert "đã hoàn thành chương trình bồi dưỡng" in printed
    assert count(dbs, CertificateTemplate) == before


def test_a_template_that_cannot_be_rendered_is_refused_with_weasyprints_message(client, dbs,
                                                                                 trainer):
    sign_in(client, trainer)
    before = (count(dbs, CertificateTemplate), len(audit_actions(dbs)))
    broken = b"\x89PNG\r\n\x1a\n" + b"not really a picture" * 10  # a PNG header, then junk

    response = client.form("/author/certificate-templates/new", template_form(
        logo=(io.BytesIO(broken), "logo.png")), content_type="multipart/form-data")

    page = text(response)
    assert response.status_code == 422
    assert "The template was not saved." in page
    assert "Failed to load image at 'data:image/png;base64,…'" in page  # WeasyPrint's words
    assert "iVBOR" not in page  # the image is not pasted into the page
    assert (count(dbs, CertificateTemplate), len(audit_actions(dbs))) == before
    import hashlib
    assert not storage.path_for(hashlib.sha256(broken).hexdigest()).exists()

    # The same image in the preview: the form, with the error, instead of a PDF.
    preview = client.form("/author/certificate-templates/new", template_form(
        save=None, preview="1", logo=(io.BytesIO(broken), "logo.png")),
        content_type="multipart/form-data")
    assert preview.status_code == 422 and "The preview could not be made." in text(preview)


def test_wording_that_does_not_fit_one_page_is_refused_and_the_template_stays_as_it_was(
        client, dbs, trainer):
    sign_in(client, trainer)
    client.form("/author/certificate-templates/new", template_form(),
                content_type="multipart/form-data")
    template = dbs.scalar(select(CertificateTemplate).where(
        CertificateTemplate.name == "Mẫu Cục Cơ yếu"))
    long_text = "Lời văn rất dài của giấy chứng nhận. " * 50

    response = client.form(f"/author/certificate-templates/{template.id}", template_form(
        name="Đổi tên", body=long_text[:2000], body_en=long_text[:2000]),
        content_type="multipart/form-data")

    assert response.status_code == 422
    assert "does not fit on one page" in text(response)
    dbs.refresh(template)
    assert (template.name, template.body) == ("Mẫu Cục Cơ yếu", "đã hoàn thành chương trình bồi dưỡng")


def test_a_non_image_logo_and_a_taken_name_are_refused(client, dbs, trainer):
    sign_in(client, trainer)
    refused = client.form("/author/certificate-templates/new", template_form(
        logo=(io.BytesIO(b"%PDF-1.7 not an image"), "logo.png")),
        content_type="multipart/form-data")
    assert refused.status_code == 422 and "is not a PNG or JPEG image" in text(refused)
    client.form("/author/certificate-templates/new", template_form(),
                content_type="multipart/form-data")
    again = client.form("/author/certificate-templates/new", template_form(),
                        content_type="multipart/form-data")
    assert again.status_code == 422 and "Another template already has this name." in text(again)
    assert count(dbs, CertificateTemplate) == 1


def test_making_a_template_the_default_unmarks_the_previous_one(client, dbs, trainer):
    first = services.default_template(dbs)
    sign_in(client, trainer)
    client.form("/author/certificate-templates/new", template_form(is_default="y"),
                content_type="multipart/form-data")
    dbs.expire_all()
    defaults = dbs.scalars(select(CertificateTemplate.name).where(
        CertificateTemplate.is_default.is_(True))).all()
    assert defaults == ["Mẫu Cục Cơ yếu"]
    assert services.default_template(dbs).id != first.id


# ---------------------------------------------------------------- permissions

def admin_pages(certificate, course) -> list[str]:
    return [
        "/author/certificate-templates", "/author/certificate-templates/new",
        f"/author/courses/{course.id}/certificate",
        f"/author/courses/{course.id}/certificate/preview.pdf",
        "/admin/certificates", f"/admin/certificates/courses/{course.id}",
        f"/admin/certificates/people/{certificate.user_id}",
        f"/admin/certificates/{certificate.id}", f"/admin/certificates/{certificate.id}/reissue",
        f"/admin/certificates/courses/{course.id}/issue",
    ]


def test_a_learner_gets_403_on_every_certificate_admin_page(client, dbs, factory, certificate,
                                                            course):
    job = CertificateJob(course_id=course.id, status="done", total=0, enrolment_ids=[])
    dbs.add(job)
    dbs.flush()
    template = services.default_template(dbs)
    other = factory.person(email="other@mofa.example")
    sign_in(client, other)
    for url in [*admin_pages(certificate, course), f"/author/certificate-templates/{template.id}",
                f"/admin/certificates/jobs/{job.id}", f"/admin/certificates/jobs/{job.id}/status.json",
                f"/admin/certificates/jobs/{job.id}/certificates.zip"]:
        assert client.get(url).status_code == 403, url
    for url in [f"/admin/certificates/{certificate.id}/revoke",
                f"/admin/certificates/{certificate.id}/reissue",
                f"/admin/certificates/courses/{course.id}/issue",
                f"/admin/certificates/jobs/{job.id}/resume",
                "/author/certificate-templates/new"]:
        assert client.form(url, {"reason": "x", "confirm": "y"}).status_code == 403, url
    dbs.refresh(certificate)
    assert certificate.revoked_at is None and certificate.superseded_by_id is None


def test_signed_out_visitors_are_sent_to_sign_in(client, certificate, course):
    for url in admin_pages(certificate, course):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.location, url


def test_trainers_design_templates_but_the_register_is_the_admins(client, dbs, trainer,
                                                                  certificate, course):
    """The issue gives revoking, reissuing and bulk issuing to admins; trainers design."""
    sign_in(client, trainer)
    pages = admin_pages(certificate, course)
    design = [url for url in pages if url.startswith("/author/")]
    assert len(design) == 4
    for url in design:
        assert client.get(url).status_code == 200, url
    for url in set(pages) - set(design):
        assert client.get(url).status_code == 403, url
    for url, data in ((f"/admin/certificates/{certificate.id}/revoke", {"reason": "Sai tên"}),
                      (f"/admin/certificates/{certificate.id}/reissue", {"full_name": "Tên Khác"}),
                      (f"/admin/certificates/courses/{course.id}/issue", {})):
        assert client.form(url, data).status_code == 403, url
    assert client.get(f"/certificates/{certificate.id}.pdf").status_code in (403, 404)
    assert "/admin/certificates" not in text(client.get("/author/certificate-templates"))
    dbs.refresh(certificate)
    assert certificate.revoked_at is None and certificate.superseded_by_id is None


def test_admin_revokes_with_a_reason_and_the_verify_page_says_so(client, dbs, admin, certificate):
    sign_in(client, admin)
    url = f"/admin/certificates/{certificate.id}/revoke"
    assert "Revoke the certificate" in text(client.get(f"/admin/certificates/{certificate.id}"))

    empty = client.form(url, {"reason": "  "})
    assert empty.status_code == 422 and "Please give the reason" in text(empty)
    dbs.refresh(certificate)
    assert certificate.revoked_at is None

    done = client.form(url, {"reason": "Cấp nhầm người"})
    assert done.status_code == 302
    dbs.refresh(certificate)
    assert (certificate.revoked_reason, certificate.revoked_by_id) == ("Cấp nhầm người", admin.id)
    event = dbs.scalar(select(AuditEvent).where(AuditEvent.action == "certificate.revoked"))
    assert event.actor_id == admin.id and event.details["reason"] == "Cấp nhầm người"
    page = text(client.get(done.location))
    assert "Cấp nhầm người" in page and "Revoke the certificate" not in page
    verify = text(client.get(f"/verify/{certificate.code}"))
    assert "verify-result--revoked" in verify and "Cấp nhầm người" in verify
    again = client.form(url, {"reason": "Lần nữa"}, follow_redirects=True)
    assert "already been revoked" in text(again)
    dbs.refresh(certificate)
    assert certificate.revoked_reason == "Cấp nhầm người"


def test_reissue_after_a_name_correction_supersedes_the_old_certificate(client, dbs, admin,
                                                                        learner, certificate):
    org.update_person(dbs, None, learner, org.PersonData(
        employee_code=learner.employee_code, full_name="Nguyễn Thị Hồng Nhung Anh",
        email=learner.email, unit_id=learner.unit_id))
    dbs.flush()
    sign_in(client, admin)
    url = f"/admin/certificates/{certificate.id}/reissue"
    page = text(client.get(url))
    assert LEARNER in page and "Nguyễn Thị Hồng Nhung Anh" in page
    assert "The new certificate will print the name as registered now." in page

    unconfirmed = client.form(url, {})
    assert unconfirmed.status_code == 422 and "Tick the box to confirm." in text(unconfirmed)
    dbs.refresh(certificate)
    assert certificate.superseded_by_id is None

    response = client.form(url, {"confirm": "y"})

    assert response.status_code == 302
    dbs.refresh(certificate)
    new = dbs.get(Certificate, certificate.superseded_by_id)
    assert new.full_name == "Nguyễn Thị Hồng Nhung Anh" and new.serial != certificate.serial
    assert new.code != certificate.code and new.issued_by_id == admin.id
    assert "Nguyễn Thị Hồng Nhung Anh" in words(pdf_text(storage.read_bytes(new.pdf_sha256)))
    assert services.status_of(certificate) == "superseded"
    assert response.location.endswith(f"/admin/certificates/{new.id}")
    page = text(client.get(response.location))
    assert certificate.serial in page  # "replaces"
    old_page = text(client.get(f"/admin/certificates/{certificate.id}"))
    assert new.serial in old_page and "Reissue this certificate" not in old_page
    assert "certificate.reissued" in audit_actions(dbs)


# ---------------------------------------------------------------- lists

def test_course_list_searches_by_name_and_serial_and_filters_by_status(client, dbs, factory, admin,
                                                                      course, certificate):
    others = [factory.person(name=name) for name in ("Bùi Thanh Sơn", "Đặng Quốc Việt")]
    issued = [services.live_certificate(dbs, e.id, e.completed_at)
              for e in (complete(dbs, p, course) for p in others)]
    services.revoke(dbs, issued[0], "Cấp nhầm người", admin)
    dbs.flush()
    sign_in(client, admin)
    url = f"/admin/certificates/courses/{course.id}"

    page = text(client.get(url))
    assert all(c.serial in page for c in (certificate, *issued))
    by_name = text(client.get(url, query_string={"q": "dang quoc"}))
    assert issued[1].serial in by_name and certificate.serial not in by_name
    by_serial = text(client.get(url, query_string={"q": certificate.serial.lower()}))
    assert certificate.serial in by_serial and issued[1].serial not in by_serial
    revoked = text(client.get(url, query_string={"status": "revoked"}))
    assert issued[0].serial in revoked and certificate.serial not in revoked
    valid = text(client.get(url, query_string={"status": "valid"}))
    assert issued[0].serial not in valid and certificate.serial in valid

    person = text(client.get(f"/admin/certificates/people/{others[0].id}"))
    assert issued[0].serial in person and certificate.serial not in person
    everywhere = text(client.get("/admin/certificates", query_string={"q": "son"}))
    assert issued[0].serial in everywhere and "1 certificate found" in everywhere


def test_course_list_runs_a_fixed_number_of_queries(client, dbs, factory, admin, course,
                                                    certificate, count_queries):
    sign_in(client, admin)
    url = f"/admin/certificates/courses/{course.id}"
    client.get(url)
    with count_queries() as one:
        client.get(url)
    for n in range(4):
        complete(dbs, factory.person(name=f"Người học {n}"), course)
    with count_queries() as five:
        page = text(client.get(url))
    assert "5 certificates found" in page
    assert len(five) == len(one)


# ---------------------------------------------------------------- bulk issue from the page

@pytest.fixture()
def paper_completions(dbs, factory, course):
    """Three people whose completions were recorded without their certificates (e.g.
    imported from a paper session)."""
    people = [factory.person(name=name) for name in ("Vũ Thị Lan", "Phan Văn Hùng", "Lê Ngọc Mai")]
    with issuing_deferred():
        for person in people:
            complete(dbs, person, course)
    dbs.flush()
    return people


def test_bulk_issue_from_the_page_runs_shows_progress_and_offers_the_zip(client, dbs, app, admin,
                                                                         course, certificate,
                                                                         paper_completions,
                                                                         monkeypatch):
    monkeypatch.setitem(app.config, "CERTIFICATE_JOB_RUNNER", "inline")
    monkeypatch.setitem(app.config, "CERTIFICATE_WORKERS", 0)
    sign_in(client, admin)
    url = f"/admin/certificates/courses/{course.id}/issue"
    page = text(client.get(url))
    assert "3 people completed this course" in page and "Issue 3 certificates" in page

    response = client.form(url)

    assert response.status_code == 302 and "/admin/certificates/jobs/" in response.location
    job = dbs.scalar(select(CertificateJob))
    assert (job.status, job.total, job.done, job.failed) == ("done", 3, 3, 0)
    page = text(client.get(response.location))
    assert "3 of 3 processed: 3 issued, 0 could not be issued." in page
    assert 'value="3"' in page and "Download all certificates (ZIP)" in page
    assert "certificates-admin.js" not in page  # finished: nothing left to follow
    state = client.get(f"/admin/certificates/jobs/{job.id}/status.json").get_json()
    assert state["finished"] and (state["done"], state["percent"]) == (3, 100)
    with client.get(f"/admin/certificates/jobs/{job.id}/certificates.zip") as download:
        assert download.status_code == 200 and download.mimetype == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(download.data)).namelist()
    assert len(names) == 3 and any(n.endswith("-vu-thi-lan.pdf") for n in names)
    again = client.form(url, follow_redirects=True)
    assert "already has its certificate" in text(again)
    assert "certificate.bulk_issue" in audit_actions(dbs)


def test_a_running_job_page_follows_its_progress_and_a_stopped_one_can_continue(
        client, dbs, app, admin, course, paper_completions, monkeypatch):
    monkeypatch.setitem(app.config, "CERTIFICATE_JOB_RUNNER", "none")
    sign_in(client, admin)
    client.form(f"/admin/certificates/courses/{course.id}/issue")
    job = dbs.scalar(select(CertificateJob))
    page = text(client.get(f"/admin/certificates/jobs/{job.id}"))
    assert "Waiting to start" in page and "certificates-admin.js" in page
    assert f'data-status-url="/admin/certificates/jobs/{job.id}/status.json"' in page
    assert "Refresh" in page  # without JavaScript
    state = client.get(f"/admin/certificates/jobs/{job.id}/status.json").get_json()
    assert (state["status"], state["processed"], state["finished"]) == ("queued", 0, False)

    # The server "restarted" after one chunk: the job stays "running" with an old heartbeat.
    jobs.run_job(app, job.id, workers=0, chunk_size=2, max_chunks=1)
    dbs.expire_all()
    job.heartbeat_at = job.heartbeat_at - jobs.STALE_AFTER * 2
    dbs.flush()
    page = text(client.get(f"/admin/certificates/jobs/{job.id}"))
    assert "has not moved for a while" in page and "certificates-admin.js" not in page

    monkeypatch.setitem(app.config, "CERTIFICATE_JOB_RUNNER", "inline")
    monkeypatch.setitem(app.config, "CERTIFICATE_WORKERS", 0)
    resumed = client.form(f"/admin/certificates/jobs/{job.id}/resume")
    assert resumed.status_code == 302
    dbs.expire_all()
    assert (job.status, job.done) == ("done", 3)
    assert count(dbs, Certificate) == 3
