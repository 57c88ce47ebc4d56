"""Demo courses and realistic learning progress for the demo ministry.

The six courses (Vietnamese and English) are course packages in seeds/courses/, loaded
through the same importer as `lms import-course`, their question banks and final quizzes
(quizzes.yaml) included. Progress goes through the learning and quiz services, so
completions fire the same events as a learner's click would: whoever completes a course
has done its lessons and passed its required quiz (sometimes at the second try).
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta
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
from lms.quizzes.attempts import mark_shown, save_answers, start_attempt, submit_attempt
from lms.quizzes.grading import correct_response
from lms.quizzes.models import Quiz
from lms.quizzes.spec import QuestionSpec, QuestionType
from lms.quizzes.specio import spec_from_dict
from lms.text import clean

COURSES = Path(__file__).resolve().parent / "courses"
LEARNER_EMAIL = "learner@mofa.example"


def load_courses(dbs: Session) -> list[Course]:
    """Import every course package of the demo (updating courses that already exist; a
    package that did not change writes nothing, so loading twice is a no-op)."""
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
    quizzes = {c.id: list(dbs.scalars(select(Quiz).where(
        Quiz.course_id == c.id, Quiz.is_required.is_(True), Quiz.is_archived.is_(False))
        .order_by(Quiz.position))) for c in courses}
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
            made += _learn(dbs, rng, person, course, outlines[course.id], quizzes[course.id],
                           zeal[person.unit_id], now)
    learner = dbs.scalar(select(User).where(User.email == LEARNER_EMAIL))
    if learner is not None:  # the demo learner: one course done, one half-way, one not started
        for course, share in zip(courses[:3], (1.0, 0.5, 0.0), strict=False):
            made += _learn(dbs, rng, learner, course, outlines[course.id], quizzes[course.id],
                           share, now, exact=True)
    dbs.flush()
    return made


def _learn(dbs: Session, rng: random.Random, person: User, course: Course, lessons: list,
           quizzes: list[Quiz], zeal: float, now, exact: bool = False) -> int:
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
    moments = []
    for _lesson in done:
        moment = min(now - timedelta(hours=1), moment + timedelta(minutes=rng.randint(8, 60 * 30)))
        moments.append(moment)
    if len(done) == len(required):
        # The quizzes come before the lesson records are written, so that passing does not
        # complete the course "now": the refresh below records the completion at its time.
        for quiz in quizzes:
            moment = _pass_quiz(dbs, rng, person, quiz, min(
                now - timedelta(minutes=50), moment + timedelta(minutes=rng.randint(5, 60 * 24))))
    for lesson, at in zip(done, moments, strict=True):
        dbs.add(LessonProgress(user_id=person.id, lesson_id=lesson.id, course_id=course.id,
                               completed_at=at))
    enrolment.status = EnrolmentStatus.IN_PROGRESS.value
    enrolment.started_at = enrolment.enrolled_at + timedelta(hours=1)
    enrolment.last_lesson_id = done[-1].id
    enrolment.last_activity_at = moment
    dbs.flush()
    refresh_enrolment(dbs, enrolment, at=moment)
    return 1


def _pass_quiz(dbs: Session, rng: random.Random, person: User, quiz: Quiz,
               at: datetime) -> datetime:
    """Attempts until one passes: a first try that may fall short, the last one allowed
    always good enough. Returns when the passing attempt was submitted."""
    skill = rng.uniform(0.6, 1.0)
    tries = quiz.attempts_allowed or 3
    for number in range(1, tries + 1):
        attempt = start_attempt(dbs, quiz, person, now=at, rng=rng)
        positions = [answer.position for answer in attempt.answers]
        mark_shown(dbs, attempt, positions, now=at)
        raw = {}
        for answer in attempt.answers:
            spec = spec_from_dict(answer.version.spec)
            right = number == tries or rng.random() < skill
            value = _answer(spec, answer.display, right)
            if value is not None:
                raw[answer.position] = value
        minutes = rng.randint(4, max(5, (quiz.time_limit_minutes or 30) - 2))
        at = at + timedelta(minutes=minutes)
        save_answers(dbs, attempt, raw, now=at)
        submit_attempt(dbs, attempt, now=at)
        if attempt.passed:
            return at
        skill = min(1.0, skill + 0.25)
        at = at + timedelta(hours=rng.randint(1, 48))
    return at


def _answer(spec: QuestionSpec, display: list, right: bool) -> object:
    """What the quiz page would send for the right answer, or for a wrong one (``None``:
    left unanswered)."""
    kind = QuestionType(spec.type)
    key = correct_response(spec)
    if kind is QuestionType.SINGLE:
        wrong = [i for i, choice in enumerate(spec.choices) if choice.fraction <= 0]
        pick = key if right or not wrong else wrong[0]
        return str(display.index(pick))
    if kind is QuestionType.MULTIPLE:
        wrong = [i for i, choice in enumerate(spec.choices) if choice.fraction <= 0]
        picks = list(key) if right or not wrong else [key[0], wrong[0]]
        return [str(display.index(i)) for i in picks]
    if kind is QuestionType.TRUE_FALSE:
        return "true" if bool(spec.correct) == right else "false"
    if kind is QuestionType.ORDERING:
        order = list(range(len(spec.order)))
        return [str(display.index(i)) for i in (order if right else order[::-1])]
    if not right:
        return None
    if kind is QuestionType.SHORT_ANSWER:
        return key
    if kind is QuestionType.NUMERIC:
        return str(int(key)) if key.is_integer() else repr(key)
    if kind is QuestionType.MATCHING:
        return {str(index): str(display.index(clean(text))) for index, text in key.items()}
    return None
