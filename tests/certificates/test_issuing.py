"""Issuing on completion (once), the values as printed, the register, expiry and
recertification, revoking and reissuing."""
from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from lms.audit.models import AuditEvent
from lms.certificates import rendering, services, storage
from lms.certificates.models import Certificate, CertificateTemplate, CourseCertificate, RegisterCounter
from lms.certificates.register import allocate_serial, format_serial, register_year
from lms.courses import services as learning
from lms.errors import DomainError
from tests.certificates.support import complete, pdf_text, words

NAME = "Nguyễn Thị Hồng Nhung"


def certificates_of(dbs, person) -> list[Certificate]:
    return list(dbs.scalars(select(Certificate).where(Certificate.user_id == person.id)
                            .order_by(Certificate.id)))


# ---------------------------------------------------------------- the register

def test_serials_count_up_per_prefix_and_year(dbs):
    assert [allocate_serial(dbs, "BNG", 2026) for _ in range(3)] == [
        "BNG-2026-000001", "BNG-2026-000002", "BNG-2026-000003"]
    assert allocate_serial(dbs, "BNG", 2027) == "BNG-2027-000001"
    assert allocate_serial(dbs, "HVNG", 2026) == "HVNG-2026-000001"
    assert dbs.get(RegisterCounter, ("BNG", 2026)).last_number == 3


def test_a_rolled_back_issue_gives_its_number_back(dbs):
    allocate_serial(dbs, "BNG", 2026)
    savepoint = dbs.begin_nested()
    allocate_serial(dbs, "BNG", 2026)
    savepoint.rollback()
    assert allocate_serial(dbs, "BNG", 2026) == "BNG-2026-000002"


def test_the_register_year_is_hanois():
    assert register_year(datetime(2026, 12, 31, 16, 59, tzinfo=timezone.utc)) == 2026
    assert register_year(datetime(2026, 12, 31, 17, 0, tzinfo=timezone.utc)) == 2027
    assert format_serial("BNG", 2026, 123) == "BNG-2026-000123"
    assert format_serial("BNG", 2026, 1234567) == "BNG-2026-1234567"


# ---------------------------------------------------------------- issuing on completion

def test_completing_a_course_issues_its_certificate_once_with_the_values_as_printed(dbs, factory):
    unit = factory.unit(name="Cục Lãnh sự")
    learner = factory.person(name=unicodedata.normalize("NFD", NAME), unit=unit)
    course = factory.course(title="An toàn thông tin cơ bản", lessons=2, estimated_minutes=100)
    enrolment = complete(dbs, learner, course)
    complete(dbs, learner, course)  # again: already completed, nothing new

    [certificate] = certificates_of(dbs, learner)
    year = register_year(certificate.issued_at)
    assert certificate.serial == f"BNG-{year}-000001"
    assert len(certificate.code) >= 32 and certificate.code.replace("-", "").replace("_", "").isalnum()
    assert certificate.full_name == NAME  # composed, as registered
    assert (certificate.course_title, certificate.unit_name) == ("An toàn thông tin cơ bản", "Cục Lãnh sự")
    assert certificate.hours == 1.5  # 100 minutes, rounded to half an hour
    assert certificate.completed_at == enrolment.completed_at
    assert certificate.expires_at is None and certificate.enrolment_id == enrolment.id
    assert services.status_of(certificate) == "valid"
    # The PDF is stored by content and says what the row says.
    pdf = storage.path_for(certificate.pdf_sha256).read_bytes()
    assert len(pdf) == certificate.pdf_size
    text = words(pdf_text(pdf))
    assert NAME in text and certificate.serial in text and "1,5 giờ" in text
    assert services.verify_url(certificate.code) in text.replace(" ", "")  # may wrap
    # Issuing again for the same completion returns the same certificate.
    assert services.issue_for_enrolment(dbs, enrolment) is certificate
    assert dbs.scalar(select(func.count(Certificate.id))) == 1


def test_each_issuing_body_numbers_its_own_register(dbs, factory):
    academy = CertificateTemplate(name="Học viện", issuer_name="HỌC VIỆN NGOẠI GIAO",
                                  register_prefix="HVNG")
    dbs.add(academy)
    ministry_course = factory.course(title="Cổng thông tin", lessons=1)
    academy_course = factory.course(title="Kỹ năng số", lessons=1)
    dbs.flush()
    dbs.add(CourseCertificate(course_id=academy_course.id, template_id=academy.id))
    dbs.flush()
    serials = []
    for n in range(2):
        for course in (ministry_course, academy_course):
            complete(dbs, factory.person(name=f"Người Học {n}"), course)
            serials.append(dbs.scalar(select(Certificate.serial).order_by(Certificate.id.desc())))
    year = register_year(services.utcnow())
    assert serials == [f"BNG-{year}-000001", f"HVNG-{year}-000001",
                       f"BNG-{year}-000002", f"HVNG-{year}-000002"]


def test_a_course_title_that_would_overflow_its_template_is_refused_at_the_setting(dbs, factory):
    from lms.certificates import designer
    from tests.certificates.test_rendering import LONG_TITLE, LONG_TITLE_EN

    wordy = CertificateTemplate(  # the most wording the designer accepts on this design
        name="Nhiều chữ", design="modern",
        body="\n".join(["đã hoàn thành chương trình bồi dưỡng kiến thức"] * 6),
        body_en="\n".join(["has successfully completed the training programme"] * 6))
    dbs.add(wordy)
    dbs.flush()
    rendering.check_template(services.template_values(wordy))
    long = factory.course(title=LONG_TITLE[:255], lessons=1)
    with pytest.raises(DomainError) as refused:
        designer.save_course_certificate(dbs, None, long, designer.CourseCertificateData(
            template_id=wordy.id, hours=2, title_en=LONG_TITLE_EN[:255]))
    assert refused.value.field == "template_id"
    assert dbs.get(CourseCertificate, long.id) is None
    short = factory.course(title="Chữ ký số", lessons=1)
    designer.save_course_certificate(dbs, None, short, designer.CourseCertificateData(
        template_id=wordy.id, hours=2, title_en="Digital signatures"))
    assert dbs.get(CourseCertificate, short.id).template_id == wordy.id


def test_a_course_without_certificate_issues_none(dbs, factory):
    learner = factory.person()
    course = factory.course(lessons=1, certificate_enabled=False)
    enrolment = complete(dbs, learner, course)
    assert certificates_of(dbs, learner) == []
    assert services.issue_for_enrolment(dbs, enrolment) is None


def test_an_unfinished_enrolment_gets_no_certificate(dbs, factory):
    learner = factory.person()
    course = factory.course(lessons=2)
    lesson = learning.required_lesson_ids(dbs, course.id)[0]
    from lms.courses.models import Lesson
    enrolment = learning.complete_lesson(dbs, learner, dbs.get(Lesson, lesson))
    assert services.issue_for_enrolment(dbs, enrolment) is None


def test_the_course_setting_prints_its_hours_english_title_and_template(dbs, factory, app):
    template = CertificateTemplate(name="Hiện đại", design="modern", bilingual=True,
                                   signer_name="Hoàng Đức Thắng", signer_title="Cục trưởng")
    dbs.add(template)
    course = factory.course(title="Văn bản điện tử", lessons=1, validity_months=12)
    dbs.flush()
    dbs.add(CourseCertificate(course_id=course.id, template_id=template.id, hours=3,
                              title_en="Electronic documents"))
    dbs.flush()
    learner = factory.person(name=NAME)
    enrolment = complete(dbs, learner, course)
    [certificate] = certificates_of(dbs, learner)
    assert certificate.template_id == template.id
    assert (certificate.hours, certificate.course_title_en) == (3, "Electronic documents")
    completed = enrolment.completed_at
    assert certificate.expires_at == completed.replace(year=completed.year + 1)
    text = words(pdf_text(storage.path_for(certificate.pdf_sha256).read_bytes()))
    assert "Electronic documents" in text and "Hoàng Đức Thắng" in text and "3 giờ" in text


def test_the_default_template_is_made_once(dbs, factory):
    course = factory.course(lessons=1)
    first = services.template_for_course(dbs, course)
    assert first.is_default and services.template_for_course(dbs, course).id == first.id
    assert dbs.scalar(select(func.count(CertificateTemplate.id))) == 1


def test_the_prefix_comes_from_the_configuration(dbs, factory, app):
    app.config["CERTIFICATE_PREFIX"] = "HVNG"
    try:
        learner = factory.person()
        complete(dbs, learner, factory.course(lessons=1))
    finally:
        app.config["CERTIFICATE_PREFIX"] = "BNG"
    assert certificates_of(dbs, learner)[0].serial.startswith("HVNG-")


def test_a_failure_to_issue_never_undoes_the_completion(dbs, factory, monkeypatch):
    def broken(*_args, **_kw):
        raise RuntimeError("renderer down")
    monkeypatch.setattr(rendering, "render_pdf", broken)
    learner = factory.person()
    enrolment = complete(dbs, learner, factory.course(lessons=1))
    assert enrolment.is_completed
    assert certificates_of(dbs, learner) == []
    assert dbs.scalar(select(func.count(RegisterCounter.prefix))) == 0  # no number was used
    monkeypatch.undo()
    certificate = services.issue_for_enrolment(dbs, enrolment)  # e.g. from a bulk issue later
    assert certificate.serial.endswith("-000001") and certificate.pdf_sha256


def test_an_actor_issuing_is_audited_and_recorded_on_the_certificate(dbs, factory):
    admin = factory.admin()
    learner = factory.person()
    course = factory.course(lessons=1, certificate_enabled=False)
    enrolment = complete(dbs, learner, course)
    course.certificate_enabled = True
    certificate = services.issue_for_enrolment(dbs, enrolment, actor=admin, render=False)
    assert certificate.issued_by_id == admin.id and certificate.pdf_sha256 is None
    assert dbs.scalar(select(AuditEvent.target_id).where(
        AuditEvent.action == "certificate.issued")) == certificate.id
    assert services.ensure_pdf(dbs, certificate) == certificate.pdf_sha256 is not None


# ---------------------------------------------------------------- expiry and recertification

def test_expiry_and_a_fresh_completion_issue_a_new_certificate(dbs, factory):
    learner = factory.person()
    course = factory.course(lessons=1, validity_months=12)
    enrolment = complete(dbs, learner, course)
    [first] = certificates_of(dbs, learner)
    later = first.expires_at + timedelta(days=1)
    assert services.status_of(first, first.expires_at - timedelta(seconds=1)) == "valid"
    assert services.status_of(first, later) == "expired"
    # The course is taken again (how an enrolment becomes due again is the recertification
    # issue's business): a new completion date makes a new certificate, the old one stays.
    enrolment.completed_at = later
    dbs.flush()
    second = services.issue_for_enrolment(dbs, enrolment, now=later)
    assert second.id != first.id and second.serial != first.serial
    assert second.expires_at == services.add_months(later, 12)
    assert services.status_of(second, later) == "valid"
    assert services.status_of(first, later) == "expired"


def test_months_are_added_like_a_calendar_does():
    moment = datetime(2026, 1, 31, 9, tzinfo=timezone.utc)
    assert services.add_months(moment, 1) == datetime(2026, 2, 28, 9, tzinfo=timezone.utc)
    assert services.add_months(moment, 12) == datetime(2027, 1, 31, 9, tzinfo=timezone.utc)
    assert services.add_months(moment, 25) == datetime(2028, 2, 29, 9, tzinfo=timezone.utc)


# ---------------------------------------------------------------- revoke and reissue

@pytest.fixture()
def issued(dbs, factory):
    learner = factory.person(name="Nguyễn Thị Hồng Nhungg")
    complete(dbs, learner, factory.course(lessons=1))
    return certificates_of(dbs, learner)[0]


def test_revoking_needs_a_reason_and_is_audited(dbs, factory, issued):
    admin = factory.admin()
    with pytest.raises(DomainError):
        services.revoke(dbs, issued, "   ", admin)
    services.revoke(dbs, issued, "Cấp nhầm người", admin)
    assert services.status_of(issued) == "revoked"
    assert (issued.revoked_reason, issued.revoked_by_id) == ("Cấp nhầm người", admin.id)
    event = dbs.scalar(select(AuditEvent).where(AuditEvent.action == "certificate.revoked"))
    assert event.target_id == issued.id and event.details["reason"] == "Cấp nhầm người"
    with pytest.raises(DomainError):
        services.revoke(dbs, issued, "again", admin)


def test_reissuing_after_a_name_correction_supersedes_the_old_certificate(dbs, factory, issued):
    admin = factory.admin()
    old_serial, old_code, old_pdf = issued.serial, issued.code, issued.pdf_sha256
    new = services.reissue(dbs, issued, admin, full_name=unicodedata.normalize("NFD", NAME))
    assert issued.superseded_by_id == new.id and services.status_of(issued) == "superseded"
    assert new.full_name == NAME and services.status_of(new) == "valid"
    assert new.serial != old_serial and new.code != old_code and new.pdf_sha256 != old_pdf
    assert (new.course_title, new.completed_at, new.enrolment_id) == (
        issued.course_title, issued.completed_at, issued.enrolment_id)
    assert NAME in pdf_text(storage.path_for(new.pdf_sha256).read_bytes())
    assert services.live_certificate(dbs, new.enrolment_id, new.completed_at) is new
    event = dbs.scalar(select(AuditEvent).where(AuditEvent.action == "certificate.reissued"))
    assert event.details["replaces"] == old_serial
    with pytest.raises(DomainError):
        services.reissue(dbs, issued, admin)  # already replaced


def test_reissuing_takes_the_corrected_registered_name_by_default(dbs, factory, issued):
    from lms.org.models import User
    dbs.get(User, issued.user_id).full_name = NAME
    new = services.reissue(dbs, issued, factory.admin())
    assert new.full_name == NAME


def test_a_revoked_certificate_is_not_reissued(dbs, factory, issued):
    admin = factory.admin()
    services.revoke(dbs, issued, "Sai thông tin", admin)
    with pytest.raises(DomainError):
        services.reissue(dbs, issued, admin)
