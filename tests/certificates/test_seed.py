"""The demo's certificates: every demo completion certified through the same service (real
PDFs), one revoked and one expired, and nothing more on a second run.

(`lms seed-demo` as a whole runs in tests/test_cli.py; here the demo ministry and courses
are loaded and a handful of people complete courses, to keep the test quick.)
"""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lms.audit.models import AuditEvent
from lms.certificates import services, storage
from lms.certificates.models import Certificate, CertificateJob
from lms.courses.models import Course, Enrolment
from lms.courses.queries import course_outline
from lms.db import utcnow
from lms.org.models import User
from lms.quizzes.models import Quiz
from lms.seeds import certificates as demo_certificates
from lms.seeds.demo import load_demo
from lms.seeds.learning import _learn, load_courses
from tests.certificates.support import pdf_text, words


def learn(dbs, person, slug):
    course = dbs.scalar(select(Course).where(Course.slug == slug))
    quizzes = list(dbs.scalars(select(Quiz).where(Quiz.course_id == course.id,
                                                  Quiz.is_required.is_(True))))
    _learn(dbs, random.Random(1), person, course, course_outline(dbs, course, None).lessons,
           quizzes, 1.0, utcnow(), exact=True)


@pytest.fixture()
def demo(dbs):
    load_demo(dbs)
    load_courses(dbs)
    people = dbs.scalars(select(User).where(User.email.not_like("%.%@%"))
                         .order_by(User.employee_code).limit(3)).all()
    learner = dbs.scalar(select(User).where(User.email == "learner@mofa.example"))
    with demo_certificates.issuing_deferred():
        learn(dbs, learner, "cong-cu-so-hang-ngay")
        for person in people:
            learn(dbs, person, "an-toan-thong-tin")
            learn(dbs, person, "van-ban-dien-tu")
    dbs.commit()
    assert dbs.scalar(select(func.count()).select_from(Certificate)) == 0
    return learner


def counts(dbs) -> tuple[int, int, int]:
    dbs.expire_all()
    return tuple(dbs.scalar(select(func.count()).select_from(model))
                 for model in (Certificate, CertificateJob, AuditEvent))


def test_the_demo_certifies_its_completions_with_one_revoked_and_one_expired(app, dbs, demo):
    result = demo_certificates.seed_certificates(app, dbs, workers=0)

    dbs.expire_all()
    completed = dbs.scalars(select(Enrolment).where(Enrolment.status == "completed")).all()
    assert len(completed) == 8  # 1 + 3 × 2, and Bùi Thanh Sơn's of 14 months ago
    for enrolment in completed:
        certificate = services.live_certificate(dbs, enrolment.id, enrolment.completed_at)
        assert certificate is not None and storage.path_for(certificate.pdf_sha256).is_file()
    assert result.total == 8

    assert services.status_of(result.revoked) == "revoked"
    assert result.revoked.revoked_reason == "Cấp nhầm người"
    admin = dbs.scalar(select(User).where(User.email == "admin@mofa.example"))
    assert result.revoked.revoked_by_id == admin.id and result.revoked.user_id != demo.id

    expired = result.expired
    assert services.status_of(expired) == "expired"
    assert expired.full_name == "Bùi Thanh Sơn" and expired.course_title.startswith("An toàn thông tin")
    assert expired.serial.startswith(f"BNG-{expired.issued_at.year}-")
    assert expired.expires_at < utcnow() < expired.issued_at + timedelta(days=500)
    assert "Bùi Thanh Sơn" in words(pdf_text(storage.read_bytes(expired.pdf_sha256)))

    assert result.valid.user_id == demo.id and services.status_of(result.valid) == "valid"
    lines = "\n".join(result.lines())
    for certificate in (result.valid, result.revoked, result.expired):
        assert f"/verify/{certificate.code}" in lines and certificate.serial in lines

    # A second run finds everything in place.
    before = counts(dbs)
    again = demo_certificates.seed_certificates(app, dbs, workers=0)
    assert counts(dbs) == before
    assert again.lines() == result.lines()


def test_completions_inside_issuing_deferred_wait_for_the_bulk_issue(dbs, demo):
    assert dbs.scalar(select(func.count()).select_from(Certificate)) == 0
    # Outside the block, a completion is certified at once again.
    person = dbs.scalar(select(User).where(User.email == "mentor@mofa.example"))
    learn(dbs, person, "dich-vu-cong-vneid")
    assert dbs.scalar(select(func.count()).select_from(Certificate)) == 1
