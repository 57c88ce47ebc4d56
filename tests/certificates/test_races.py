"""Races on a database whose transactions really commit: register numbers without gaps or
duplicates under concurrent issuing, one certificate however many issues of the same
completion run at once."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lms import create_app
from lms.certificates import services
from lms.certificates.models import Certificate, RegisterCounter
from lms.certificates.register import allocate_serial
from lms.cli import upgrade_database
from lms.courses import authoring
from lms.courses import services as learning
from lms.courses.models import Course, Enrolment, Lesson
from lms.db import db
from lms.org import services as org
from lms.org.models import User
from tests.conftest import app_settings, fresh_database
from tests.races import in_transaction, race

WORKERS = 8


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    with fresh_database("certrace") as url:
        app = create_app(app_settings(url, str(tmp_path_factory.mktemp("certrace"))))
        with app.app_context():
            upgrade_database()
            dbs = db.session
            root = org.create_unit(dbs, None, org.UnitData(code="BNG", name="Bộ Ngoại giao",
                                                           kind="ministry"))
            for slug, lessons in (("mot-bai", 1), ("hai-bai", 2)):
                course = authoring.create_course(dbs, None, authoring.CourseData(
                    slug=slug, title="Khoá học đua tranh", topic="security"))
                module = authoring.add_module(dbs, None, course, "Chương 1")
                for n in range(lessons):
                    authoring.add_lesson(dbs, None, module, authoring.LessonData(
                        title=f"Bài {n + 1}", body="Nội dung."))
                authoring.set_course_status(dbs, None, course, "published")
            for n in range(WORKERS):
                org.create_person(dbs, None, org.PersonData(
                    employee_code=f"C{n}", full_name=f"Người Đua {n}", email=f"c{n}@mofa.example",
                    unit_id=root.id), audit=False)
            dbs.commit()
        yield app
        with app.app_context():
            db.engine.dispose()


def person(dbs, n: int) -> User:
    return dbs.scalar(select(User).where(User.employee_code == f"C{n}"))


def course(dbs, slug: str) -> Course:
    return dbs.scalar(select(Course).where(Course.slug == slug))


def test_concurrent_allocations_leave_no_gap_and_no_duplicate(committed):
    class Undo(Exception):
        pass

    def take(keep: bool):
        def work(s):
            serials = [allocate_serial(s, "RACE", 2026) for _ in range(5)]
            if not keep:
                raise Undo(serials)  # a failed issue: its numbers must come back
            return serials
        return work

    results = race(committed, [take(keep=n % 4 != 3) for n in range(WORKERS)])
    kept = [serial for r in results if isinstance(r, list) for serial in r]
    assert all(isinstance(r, (list, Undo)) for r in results), results
    assert sum(isinstance(r, Undo) for r in results) == 2
    assert sorted(kept) == [f"RACE-2026-{n:06d}" for n in range(1, len(kept) + 1)]
    with committed.app_context():
        assert db.session.get(RegisterCounter, ("RACE", 2026)).last_number == len(kept) == 30


def test_two_completions_at_once_issue_one_certificate(committed):
    def setup(s):
        learner, two = person(s, 0), course(s, "hai-bai")
        first = s.scalars(select(Lesson).where(Lesson.course_id == two.id).order_by(Lesson.position)).first()
        learning.complete_lesson(s, learner, first)
    in_transaction(committed, setup)

    def finish(s):
        learner, two = person(s, 0), course(s, "hai-bai")
        last = s.scalars(select(Lesson).where(Lesson.course_id == two.id)
                         .order_by(Lesson.position.desc())).first()
        return learning.complete_lesson(s, learner, last).id

    results = race(committed, [finish, finish])
    assert not [r for r in results if isinstance(r, Exception)], results
    with committed.app_context():
        learner = person(db.session, 0)
        certificates = db.session.scalars(select(Certificate).where(
            Certificate.user_id == learner.id)).all()
        assert len(certificates) == 1 and certificates[0].pdf_sha256


def test_parallel_issues_of_one_completion_make_one_certificate_and_use_one_number(committed):
    def setup(s):
        one = course(s, "mot-bai")
        one.certificate_enabled = False  # completed without a certificate, issued later
        learner = person(s, 1)
        lesson = s.scalar(select(Lesson).where(Lesson.course_id == one.id))
        enrolment = learning.complete_lesson(s, learner, lesson)
        one.certificate_enabled = True
        return enrolment.id, s.scalar(select(func.coalesce(func.sum(RegisterCounter.last_number), 0)))

    enrolment_id, numbers_before = in_transaction(committed, setup)
    results = race(committed, [lambda s: services.issue_for_enrolment(
        s, s.get(Enrolment, enrolment_id)).id] * WORKERS)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(set(results)) == 1
    with committed.app_context():
        assert db.session.scalar(select(func.count(Certificate.id)).where(
            Certificate.enrolment_id == enrolment_id)) == 1
        numbers_after = db.session.scalar(select(func.sum(RegisterCounter.last_number)))
        assert numbers_after == numbers_before + 1  # the losers gave their numbers back
