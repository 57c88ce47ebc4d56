"""Recertification: from a month before expiry the holder takes the course again (lessons and
the required quiz count afresh, earlier history kept) and the new completion is certified anew."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from lms.certificates import recertification, services
from lms.certificates.models import Certificate
from lms.courses import services as learning
from lms.courses.queries import course_outline
from lms.db import utcnow
from lms.errors import DomainError
from lms.quizzes import attempts as engine
from tests.conftest import login


def certificates_of(dbs, person) -> list[Certificate]:
    return list(dbs.scalars(select(Certificate).where(Certificate.user_id == person.id)
                            .order_by(Certificate.id)))


def pass_quiz(dbs, quiz, person, now=None):
    attempt = engine.start_attempt(dbs, quiz, person, now=now)
    engine.save_answers(dbs, attempt, {a.position: a.display.index(0) for a in attempt.answers}, now=now)
    assert engine.submit_attempt(dbs, attempt, now=now)
    return attempt


@pytest.fixture()
def yearly(dbs, factory):
    """A yearly course with one lesson and a required one-attempt quiz, completed and certified."""
    learner = factory.person(name="Đặng Quốc Việt")
    course = factory.course(lessons=1, validity_months=12)
    quiz = factory.quiz(course, questions=2, attempts_allowed=1, pass_mark=100)
    [lesson] = course_outline(dbs, course, None).lessons
    learning.complete_lesson(dbs, learner, lesson)
    pass_quiz(dbs, quiz, learner)
    [certificate] = certificates_of(dbs, learner)
    return learner, course, quiz, lesson, certificate


def test_renewal_opens_a_month_before_expiry(dbs, yearly):
    learner, _course, _quiz, _lesson, certificate = yearly
    enrolment = learning.enrolment_for(dbs, learner.id, certificate.course_id)
    too_early = certificate.expires_at - timedelta(days=31)
    assert not recertification.can_renew(certificate, enrolment, too_early)
    with pytest.raises(DomainError):
        recertification.renew(dbs, certificate, learner, now=too_early)
    assert recertification.can_renew(certificate, enrolment, certificate.expires_at - timedelta(days=29))
    assert recertification.can_renew(certificate, enrolment, certificate.expires_at + timedelta(days=90))


def test_taking_the_course_again_issues_a_new_certificate_and_keeps_the_history(dbs, yearly):
    learner, course, quiz, lesson, first = yearly
    first.expires_at = utcnow() - timedelta(days=3)  # expired three days ago (lessons run on the real clock)
    dbs.flush()
    later = utcnow()
    enrolment = recertification.renew(dbs, first, learner, now=later)

    assert (enrolment.status, enrolment.progress_pct, enrolment.completed_at) == ("in_progress", 0, None)
    assert course_outline(dbs, course, learner.id).done == set()  # the old tick no longer counts
    assert engine.quiz_state(dbs, quiz, learner.id).can_start      # a fresh attempt despite the limit

    learning.complete_lesson(dbs, learner, lesson)
    assert not enrolment.is_completed            # the quiz passed last year does not count
    pass_quiz(dbs, quiz, learner, now=later + timedelta(minutes=5))
    dbs.refresh(enrolment)
    assert enrolment.is_completed

    first_again, second = certificates_of(dbs, learner)
    assert first_again.id == first.id and second.serial != first.serial
    assert services.status_of(first, later) == "expired" and services.status_of(second) == "valid"
    assert len(engine.quiz_state(dbs, quiz, learner.id).attempts) == 2   # both attempts kept
    assert not recertification.can_renew(first, enrolment)               # the old one is done with


def test_only_the_holder_renews_through_my_certificates(client, dbs, yearly, factory):
    learner, course, _quiz, _lesson, certificate = yearly
    certificate.expires_at = utcnow() + timedelta(days=10)
    dbs.flush()
    other = factory.person()
    login(client, other.email)
    assert client.form(f"/certificates/{certificate.id}/renew").status_code == 404

    login(client, learner.email)
    page = client.get("/certificates").get_data(as_text=True)
    assert f"/certificates/{certificate.id}/renew" in page
    response = client.form(f"/certificates/{certificate.id}/renew")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/courses/{course.slug}")
    enrolment = learning.enrolment_for(dbs, learner.id, course.id)
    dbs.refresh(enrolment)
    assert enrolment.status == "in_progress" and enrolment.cycle_started_at is not None
