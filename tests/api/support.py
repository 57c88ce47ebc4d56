"""A small ministry with something in every feed: enrolments, a completion with its
certificate, a passed and a failed quiz attempt."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from lms.certificates.models import Certificate
from lms.courses import services as learning
from lms.org.models import Unit, User
from lms.quizzes import attempts as engine


@dataclass
class Ministry:
    dept: Unit
    division: Unit
    sibling: Unit
    learner: User          # completed the course (certificate), passed the quiz
    colleague: User        # in the division, failed the quiz
    outsider: User         # in the sibling department
    course: Any
    quiz: Any
    certificate: Certificate


def take_quiz(dbs, quiz, person, right: bool):
    attempt = engine.start_attempt(dbs, quiz, person)
    engine.save_answers(dbs, attempt, {
        a.position: a.display.index(0 if right else 1) for a in attempt.answers})
    engine.submit_attempt(dbs, attempt)
    return attempt


def populated_ministry(dbs, factory) -> Ministry:
    dept = factory.unit("Vụ Hợp tác quốc tế", code="HTQT")
    division = factory.unit("Phòng Châu Á", parent=dept, code="HTQT-A", kind="division")
    sibling = factory.unit("Vụ Lễ tân", code="LT")
    learner = factory.person("Nguyễn Văn Anh", unit=division, position="Chuyên viên")
    colleague = factory.person("Trần Thị Bình", unit=division)
    outsider = factory.person("Hoàng Văn Em", unit=sibling)
    course = factory.course("Kỹ năng số cơ bản", lessons=2)
    quiz = factory.quiz(course, questions=2)
    factory.assignment(course, unit=factory.root)
    for lesson in course.modules[0].lessons:
        learning.complete_lesson(dbs, learner, lesson)
    take_quiz(dbs, quiz, learner, right=True)
    take_quiz(dbs, quiz, colleague, right=False)
    learning.complete_lesson(dbs, outsider, course.modules[0].lessons[0])
    dbs.flush()
    certificate = dbs.scalar(select(Certificate).where(Certificate.user_id == learner.id))
    assert certificate is not None, "completing the course issues its certificate"
    return Ministry(dept, division, sibling, learner, colleague, outsider, course, quiz, certificate)
