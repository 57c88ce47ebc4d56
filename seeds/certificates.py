"""Demo certificates: every demo completion of a course that grants one has its certificate,
one was revoked and one has expired, so the verification page can be tried at once.

Certificates go through the same service as a learner's completion
(``services.issue_for_enrolment``), so the PDFs are real. The demo's completions are made
with the completion receiver held back (``issuing_deferred``) and then certified by bulk
jobs (``lms.certificates.jobs``), which render on every core: about half the time of
issuing them one by one as each completion happens. Everything here is idempotent: a second
run finds the certificates, the revoked and the expired one, and changes nothing.
"""
from __future__ import annotations

import random
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterator

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms.certificates import jobs, services
from lms.certificates.models import Certificate
from lms.courses.events import course_completed
from lms.courses.models import Course, Enrolment
from lms.courses.queries import course_outline
from lms.db import utcnow
from lms.org.models import User
from lms.quizzes.models import Quiz
from lms.seeds.demo import NAMED

REVOKE_REASON = "Cấp nhầm người"
EXPIRED_COURSE = "an-toan-thong-tin"     # valid for 12 months
EXPIRED_PERSON = "Bùi Thanh Sơn"         # completed it 14 months ago
EXPIRED_AGO = timedelta(days=425)
ADMIN_EMAIL = "admin@mofa.example"
LEARNER_EMAIL = "learner@mofa.example"


@contextmanager
def issuing_deferred() -> Iterator[None]:
    """Completions inside the block do not issue their certificates at once (the demo
    issues them afterwards, in bulk)."""
    connected = id(services.on_course_completed) in course_completed.receivers
    if connected:
        course_completed.disconnect(services.on_course_completed)
    try:
        yield
    finally:
        if connected:
            course_completed.connect(services.on_course_completed, weak=False)


@dataclass(frozen=True)
class DemoCertificates:
    total: int
    valid: Certificate | None
    revoked: Certificate | None
    expired: Certificate | None

    def lines(self) -> list[str]:
        """What `lms seed-demo` prints (the same on every run)."""
        out = [f"{self.total} certificates of demo staff. Try the verification page:"]
        for label, certificate in (("valid", self.valid), ("revoked", self.revoked),
                                   ("expired", self.expired)):
            if certificate is not None:
                out.append(f"  {label:<8} {certificate.serial}  {certificate.full_name:<24} "
                           f"{services.verify_url(certificate.code)}")
        return out


def seed_certificates(app: Flask, dbs: Session, workers: int | None = None) -> DemoCertificates:
    """Issue the missing certificates of the demo (bulk jobs), then make sure one is revoked
    and one expired. Commits (each bulk job commits its chunks)."""
    _issue_missing(app, dbs, workers)
    expired = _expired(dbs)
    revoked = _revoked(dbs)
    dbs.commit()
    learner = dbs.scalar(select(User).where(User.email == LEARNER_EMAIL))
    valid = None
    if learner is not None:
        valid = dbs.scalar(select(Certificate).where(
            Certificate.user_id == learner.id, Certificate.revoked_at.is_(None),
            Certificate.superseded_by_id.is_(None)).order_by(Certificate.id).limit(1))
    total = dbs.scalar(select(func.count()).select_from(Certificate)) or 0
    return DemoCertificates(total=total, valid=valid, revoked=revoked, expired=expired)


def _issue_missing(app: Flask, dbs: Session, workers: int | None) -> None:
    courses = dbs.scalars(select(Course).where(Course.certificate_enabled.is_(True))
                          .order_by(Course.slug)).all()
    queued = []
    for course in courses:
        if jobs.active_job(dbs, course.id) is None and jobs.eligible_enrolment_ids(dbs, course):
            queued.append(jobs.create_job(dbs, None, course).id)
    dbs.commit()
    if not queued:
        return
    with app.app_context():
        renderer = jobs.Renderer(jobs.worker_count() if workers is None else workers)
    try:
        for job_id in queued:  # one pool for all of them
            jobs.run_job(app, job_id, renderer=renderer)
    finally:
        renderer.close()
    dbs.expire_all()


def _expired(dbs: Session) -> Certificate | None:
    """A certificate whose validity ran out: a completion of the yearly security course
    14 months ago, certified the same day (in that year's register)."""
    now = utcnow()
    found = dbs.scalar(select(Certificate).where(
        Certificate.expires_at.is_not(None), Certificate.expires_at <= now,
        Certificate.revoked_at.is_(None), Certificate.superseded_by_id.is_(None))
        .order_by(Certificate.id).limit(1))
    if found is not None:
        return found
    course = dbs.scalar(select(Course).where(Course.slug == EXPIRED_COURSE))
    if course is None or not course.validity_months or not course.certificate_enabled:
        return None
    enrolled = select(Enrolment.user_id).where(Enrolment.course_id == course.id)
    person = dbs.scalar(select(User).where(User.full_name == EXPIRED_PERSON,
                                           User.id.not_in(enrolled)).limit(1))
    if person is None:  # already enrolled: someone else who never took the course
        logins = [named.login for named in NAMED if named.login]
        person = dbs.scalar(select(User).where(
            User.is_active.is_(True), User.id.not_in(enrolled), User.email.not_in(logins))
            .order_by(User.employee_code).limit(1))
    if person is None:
        return None
    from lms.seeds.learning import _learn  # the demo's own way of completing a course

    lessons = course_outline(dbs, course, None).lessons
    quizzes = list(dbs.scalars(select(Quiz).where(
        Quiz.course_id == course.id, Quiz.is_required.is_(True), Quiz.is_archived.is_(False))
        .order_by(Quiz.position)))
    with issuing_deferred():
        _learn(dbs, random.Random(14), person, course, lessons, quizzes, 1.0, now - EXPIRED_AGO,
               exact=True)
    enrolment = dbs.scalar(select(Enrolment).where(Enrolment.user_id == person.id,
                                                   Enrolment.course_id == course.id))
    if enrolment is None or enrolment.completed_at is None:
        return None
    return services.issue_for_enrolment(dbs, enrolment,
                                        now=enrolment.completed_at + timedelta(hours=2))


def _revoked(dbs: Session) -> Certificate | None:
    """A certificate revoked by the demo admin, "issued to the wrong person"."""
    found = dbs.scalar(select(Certificate).where(Certificate.revoked_at.is_not(None))
                       .order_by(Certificate.id).limit(1))
    if found is not None:
        return found
    admin = dbs.scalar(select(User).where(User.email == ADMIN_EMAIL))
    learner = dbs.scalar(select(User.id).where(User.email == LEARNER_EMAIL))
    now = utcnow()
    candidate = dbs.scalar(select(Certificate).where(
        Certificate.revoked_at.is_(None), Certificate.superseded_by_id.is_(None),
        (Certificate.expires_at.is_(None)) | (Certificate.expires_at > now),
        Certificate.user_id != (learner or -1))
        .order_by(Certificate.serial.desc()).limit(1))
    if candidate is None:
        return None
    return services.revoke(dbs, candidate, REVOKE_REASON, admin)
