"""Demo courses and realistic learning progress for the demo ministry.

The six courses (Vietnamese and English) are course packages in seeds/courses/, loaded
through the same importer as `lms import-course`. Progress goes through the learning
services, so completions fire the same events as a learner's click would.
"""
from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms.courses import packages
from lms.courses.models import Course, Enrolment, EnrolmentStatus, LessonProgress
from lms.courses.queries import course_outline
from lms.courses.services import enrol, refresh_enrolment
from lms.db import utcnow
from lms.org.models import Unit, User

COURSES = Path(__file__).resolve().parent / "courses"
LEARNER_EMAIL = "learner@mofa.example"


def load_courses(dbs: Session) -> list[Course]:
    """Import every course package of the demo (updating courses that already exist)."""
    loaded = []
    limit = current_app.config["MAX_PACKAGE_BYTES"]
    for folder in sorted(p for p in COURSES.iterdir() if (p / "course.yaml").is_file()):
        content = packages.read_package(folder, limit)
        loaded.append(packages.import_package(dbs, None, content).course)
    return loaded


def spread_progress(dbs: Session, seed: int = 2026) -> int:
    """Enrol demo staff in the Vietnamese courses with progress that differs by unit.

    Idempotent: does nothing once any enrolment exists. Returns the enrolments made.
    """
    if dbs.scalar(select(func.count()).select_from(Enrolment)):
        return 0
    rng = random.Random(seed)
    courses = list(dbs.scalars(select(Course).where(
        Course.language == "vi", Course.status == "published").order_by(Course.slug)))
    if not courses:
        return 0
    outlines = {c.id: course_outline(dbs, c, None).lessons for c in courses}
    units = {u.id: u for u in dbs.scalars(select(Unit))}
    # Some units are keen, some behind: a unit's zeal sets how far its people got.
    zeal = {unit_id: rng.choice((0.35, 0.55, 0.7, 0.85, 0.95)) for unit_id in units}
    now = utcnow()
    made = 0
    people = dbs.scalars(select(User).where(User.is_active.is_(True)).order_by(User.id)).all()
    for person in people:
        if person.email == LEARNER_EMAIL:
            continue
        chosen = rng.sample(courses, k=rng.randint(1, min(4, len(courses))))
        for course in chosen:
            made += _learn(dbs, rng, person, course, outlines[course.id], zeal[person.unit_id], now)
    learner = dbs.scalar(select(User).where(User.email == LEARNER_EMAIL))
    if learner is not None:  # the demo learner: one course done, one half-way, one not started
        for course, share in zip(courses[:3], (1.0, 0.5, 0.0), strict=False):
            made += _learn(dbs, rng, learner, course, outlines[course.id], share, now, exact=True)
    dbs.flush()
    return made


def _learn(dbs: Session, rng: random.Random, person: User, course: Course, lessons: list,
           zeal: float, now, exact: bool = False) -> int:
    required = [lesson for lesson in lessons if lesson.is_required]
    if exact:
        share = zeal
    else:
        roll = rng.random()
        share = 0.0 if roll > zeal + 0.1 else (1.0 if roll < zeal * 0.75 else rng.uniform(0.15, 0.9))
    enrolment = enrol(dbs, person, course)
    enrolment.enrolled_at = now - timedelta(days=rng.randint(20, 70))
    done = required[: round(share * len(required))]
    if not done:
        return 1
    moment = enrolment.enrolled_at + timedelta(hours=rng.randint(1, 96))
    for lesson in done:
        moment = min(now - timedelta(hours=1), moment + timedelta(minutes=rng.randint(8, 60 * 30)))
        dbs.add(LessonProgress(user_id=person.id, lesson_id=lesson.id, course_id=course.id,
                               completed_at=moment))
    enrolment.status = EnrolmentStatus.IN_PROGRESS.value
    enrolment.started_at = enrolment.enrolled_at + timedelta(hours=1)
    enrolment.last_lesson_id = done[-1].id
    enrolment.last_activity_at = moment
    dbs.flush()
    refresh_enrolment(dbs, enrolment, at=moment)
    return 1
