"""Attempts: start or resume, save answers as they are given, submit once, grade on the server.

Concurrency, in short:

* One open attempt per person and quiz is a partial unique index; a start that loses the
  race resumes the winner's attempt. Attempt numbers are unique per person and quiz, so
  parallel starts cannot exceed the attempts allowed.
* Saving an answer locks the attempt row (``SELECT … FOR UPDATE``; SQLite serialises
  writers with ``BEGIN IMMEDIATE``), then checks it is open and within the deadline plus
  a grace for latency. Submitting flips the status with a conditional UPDATE, which takes
  the same row lock: a save either lands before the grading reads the answers, or is refused.
* Submitting twice (double click, two tabs, a retried request) grades once: only the
  request whose UPDATE changed the row grades.

Every function takes ``now`` so tests drive the clock.
"""
from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from lms.courses.models import Course
from lms.db import utcnow
from lms.errors import DomainError
from lms.quizzes.grading import UNANSWERED, grade
from lms.quizzes.models import (
    Attempt,
    AttemptAnswer,
    AttemptStatus,
    Grading,
    GrantKind,
    Question,
    QuestionVersion,
    Quiz,
    QuizGrant,
)
from lms.quizzes.spec import QuestionSpec, QuestionType
from lms.quizzes.specio import spec_from_dict
from lms.text import clean, fold

#: Answers arriving this long after the deadline are still taken (network latency).
GRACE = timedelta(seconds=15)
#: An answer given sooner than this after its question was shown is flagged as implausibly fast.
FAST_ANSWER_SECONDS = 3.0


class AttemptClosed(DomainError):
    """The attempt was submitted or its time is up: the answer was not saved."""


# ---------------------------------------------------------------- the state of a person's quiz

@dataclass
class QuizState:
    attempts: list[Attempt]
    open_attempt: Attempt | None
    used: int                 # attempts counted against the limit (since the last reset)
    allowed: int | None       # None: unlimited
    extra_minutes: int
    counted: Attempt | None   # the attempt that counts (highest or last, per the quiz)

    @property
    def remaining(self) -> int | None:
        return None if self.allowed is None else max(0, self.allowed - self.used)

    @property
    def can_start(self) -> bool:
        return self.open_attempt is not None or self.remaining is None or self.remaining > 0

    @property
    def passed(self) -> bool:
        return bool(self.counted and self.counted.passed)

    @property
    def out_of_attempts(self) -> bool:
        return not self.passed and not self.can_start


def quiz_state(dbs: Session, quiz: Quiz, user_id: int) -> QuizState:
    attempts = list(dbs.scalars(select(Attempt).where(
        Attempt.quiz_id == quiz.id, Attempt.user_id == user_id).order_by(Attempt.number)))
    grants = list(dbs.scalars(select(QuizGrant).where(
        QuizGrant.quiz_id == quiz.id, QuizGrant.user_id == user_id).order_by(QuizGrant.id)))
    return state_from(quiz, attempts, grants)


def state_from(quiz: Quiz, attempts: list[Attempt], grants: list[QuizGrant]) -> QuizState:
    """A person's state from their attempts and grants at this quiz (loaded by the caller)."""
    reset_after, extra_attempts, extra_minutes = 0, 0, 0
    for grant in grants:
        if grant.kind == GrantKind.RESET.value:
            reset_after, extra_attempts = grant.amount, 0
        elif grant.kind == GrantKind.EXTRA_ATTEMPTS.value:
            extra_attempts += grant.amount
        elif grant.kind == GrantKind.EXTRA_TIME.value:
            extra_minutes += grant.amount
    last_number = max((a.number for a in attempts), default=0)
    allowed = None if quiz.attempts_allowed == 0 else quiz.attempts_allowed + extra_attempts
    submitted = [a for a in attempts if not a.is_open]
    return QuizState(
        attempts=attempts,
        open_attempt=next((a for a in attempts if a.is_open), None),
        used=max(0, last_number - reset_after),
        allowed=allowed,
        extra_minutes=extra_minutes,
        counted=_counted(quiz, submitted),
    )


def _counted(quiz: Quiz, submitted: list[Attempt]) -> Attempt | None:
    if not submitted:
        return None
    if quiz.grading == Grading.LAST.value:
        return max(submitted, key=lambda a: a.number)
    return max(submitted, key=lambda a: (a.percent or 0, -a.number))


# ---------------------------------------------------------------- starting

def start_attempt(dbs: Session, quiz: Quiz, user: Any, now: datetime | None = None,
                  rng: random.Random | None = None) -> Attempt:
    """Resume the open attempt, or start a new one if the limit allows."""
    now = now or utcnow()
    if quiz.is_archived:
        raise DomainError(_("This quiz is closed."))
    state = quiz_state(dbs, quiz, user.id)
    if state.open_attempt is not None:
        if not finalise_if_expired(dbs, state.open_attempt, now):
            return state.open_attempt
        state = quiz_state(dbs, quiz, user.id)
    if not state.can_start:
        raise DomainError(_("You have used all your attempts at this quiz."))
    drawn = draw_questions(dbs, quiz, rng or random.SystemRandom())
    minutes = quiz.time_limit_minutes
    deadline = now + timedelta(minutes=minutes + state.extra_minutes) if minutes else None
    number = max((a.number for a in state.attempts), default=0) + 1
    try:
        with dbs.begin_nested():
            attempt = Attempt(quiz_id=quiz.id, user_id=user.id, number=number, started_at=now,
                              deadline_at=deadline, status=AttemptStatus.OPEN.value)
            dbs.add(attempt)
            dbs.flush()
            dbs.add_all(AttemptAnswer(
                attempt_id=attempt.id, position=position, question_id=version.question_id,
                version_id=version.id, display=display, max_score=round(float(version.points), 4))
                for position, (version, display) in enumerate(drawn, start=1))
            dbs.flush()
    except IntegrityError:
        # Another request started an attempt at the same moment: resume theirs.
        winner = dbs.scalar(select(Attempt).where(
            Attempt.quiz_id == quiz.id, Attempt.user_id == user.id,
            Attempt.status == AttemptStatus.OPEN.value))
        if winner is None:
            raise DomainError(_("The quiz could not be started; please try again.")) from None
        return winner
    _touch_enrolment(dbs, quiz, user, now)
    return attempt


def _touch_enrolment(dbs: Session, quiz: Quiz, user: Any, now: datetime) -> None:
    from lms.courses.models import EnrolmentStatus
    from lms.courses.services import enrol, enrolment_for
    course = dbs.get(Course, quiz.course_id)
    enrolment = enrolment_for(dbs, user.id, course.id) or enrol(dbs, user, course)
    enrolment.last_activity_at = now
    if enrolment.status == EnrolmentStatus.NOT_STARTED.value:
        enrolment.status = EnrolmentStatus.IN_PROGRESS.value
        enrolment.started_at = now
    dbs.flush()


def draw_questions(dbs: Session, quiz: Quiz,
                   rng: random.Random) -> list[tuple[QuestionVersion, list]]:
    """The questions of a new attempt (current versions) and each one's display order.

    Raises :class:`DomainError` when a category has too few live questions to draw from.
    """
    fixed_ids = [s.question_id for s in quiz.slots if s.question_id]
    category_ids = {s.category_id for s in quiz.slots if s.category_id}
    live = (Question.is_archived.is_(False))
    candidates: dict[int, list[int]] = {cid: [] for cid in category_ids}
    if category_ids:
        for question_id, category_id in dbs.execute(
                select(Question.id, Question.category_id).where(
                    Question.category_id.in_(category_ids), live,
                    Question.id.not_in(fixed_ids) if fixed_ids else True)
                .order_by(Question.id)):
            candidates[category_id].append(question_id)
    chosen: list[int] = []
    for slot in quiz.slots:
        if slot.question_id:
            chosen.append(slot.question_id)
            continue
        pool = [q for q in candidates[slot.category_id] if q not in chosen]
        if len(pool) < slot.draw_count:
            raise DomainError(_("This quiz is not ready: it needs more questions. Please tell "
                                "the course's trainer."))
        chosen.extend(rng.sample(pool, slot.draw_count))
    if not chosen:
        raise DomainError(_("This quiz is not ready: it needs more questions. Please tell "
                            "the course's trainer."))
    if quiz.shuffle_questions:
        rng.shuffle(chosen)
    versions = {v.question_id: v for v in dbs.scalars(
        select(QuestionVersion).join(Question, and_(
            Question.id == QuestionVersion.question_id,
            Question.current_version == QuestionVersion.number))
        .where(Question.id.in_(chosen)))}
    drawn = []
    for question_id in chosen:
        version = versions[question_id]
        drawn.append((version, display_order(spec_from_dict(version.spec), quiz.shuffle_choices, rng)))
    return drawn


def display_order(spec: QuestionSpec, shuffle: bool, rng: random.Random) -> list:
    """How this learner sees the question's parts. Ordering items and matching answers are
    always shuffled (their given order would be the key); choices only when the quiz says."""
    kind = QuestionType(spec.type)
    if kind in (QuestionType.SINGLE, QuestionType.MULTIPLE):
        order = list(range(len(spec.choices)))
        if shuffle:
            rng.shuffle(order)
        return order
    if kind is QuestionType.ORDERING:
        order = list(range(len(spec.order)))
        for _try in range(10):
            rng.shuffle(order)
            if order != sorted(order):
                break
        return order
    if kind is QuestionType.MATCHING:
        rights = sorted({clean(p.right) for p in spec.pairs}, key=fold)
        rng.shuffle(rights)
        return rights
    return []


# ---------------------------------------------------------------- saving answers

def _lock_open(dbs: Session, attempt: Attempt, now: datetime) -> None:
    """Lock the attempt row and check it still takes answers (refreshes ``attempt``)."""
    status, deadline = dbs.execute(select(Attempt.status, Attempt.deadline_at)
                                   .where(Attempt.id == attempt.id).with_for_update()).one()
    # What this transaction now holds under the lock, without reloading answers and versions.
    set_committed_value(attempt, "status", status)
    set_committed_value(attempt, "deadline_at", deadline)
    if not attempt.is_open:
        raise AttemptClosed(_("This attempt has been submitted; the answer was not saved."))
    if attempt.deadline_at is not None and now > attempt.deadline_at + GRACE:
        raise AttemptClosed(_("The time for this attempt is up; the answer was not saved."))


def save_answers(dbs: Session, attempt: Attempt, raw: dict[int, Any],
                 now: datetime | None = None) -> list[AttemptAnswer]:
    """Store responses given in display terms, keyed by question position.

    Positions that are not part of the attempt are ignored. Raises :class:`AttemptClosed`
    after submission or past the deadline (plus :data:`GRACE`).
    """
    now = now or utcnow()
    _lock_open(dbs, attempt, now)
    by_position = {a.position: a for a in attempt.answers}
    saved = []
    for position, value in raw.items():
        answer = by_position.get(position)
        if answer is None:
            continue
        spec = spec_from_dict(answer.version.spec)
        response = to_response(spec, answer.display, value)
        if response == answer.response:
            continue
        answer.response = response
        answer.response_key = response_key(spec, response)
        answer.saved_at = now
        if answer.answered_at is None and answer.response_key is not None:
            answer.answered_at = now
        saved.append(answer)
    dbs.flush()
    return saved


def to_response(spec: QuestionSpec, display: list, value: Any) -> Any:
    """A form value (display positions, texts) as the response shape :func:`grade` takes.

    Anything malformed becomes "no answer" rather than an error: the learner's page only
    sends what it offered.
    """
    kind = QuestionType(spec.type)
    if kind is QuestionType.SINGLE:
        position = _int(value)
        return display[position] if position is not None and 0 <= position < len(display) else None
    if kind is QuestionType.MULTIPLE:
        values = value if isinstance(value, (list, tuple)) else [value] if value not in (None, "") else []
        picked = sorted({display[p] for p in map(_int, values) if p is not None and 0 <= p < len(display)})
        return picked or None
    if kind is QuestionType.TRUE_FALSE:
        text = str(value).strip().lower() if value is not None else ""
        return True if text == "true" else False if text == "false" else None
    if kind in (QuestionType.SHORT_ANSWER, QuestionType.NUMERIC):
        text = clean(str(value)) if value is not None else ""
        return text[:500] or None
    if kind is QuestionType.MATCHING:
        if not isinstance(value, dict):
            return None
        chosen = {}
        lefts = sum(1 for p in spec.pairs if p.left.strip())
        for key, option in value.items():
            index, position = _int(key), _int(option)
            if index is not None and 0 <= index < lefts and position is not None \
                    and 0 <= position < len(display):
                chosen[str(index)] = display[position]
        return chosen or None
    if kind is QuestionType.ORDERING:
        values = value if isinstance(value, (list, tuple)) else []
        positions = [_int(v) for v in values]
        if sorted(p for p in positions if p is not None) != list(range(len(display))):
            return None
        return [display[p] for p in positions]
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        return int(value.strip())
    return None


def response_key(spec: QuestionSpec, response: Any) -> str | None:
    """A short canonical text of a response, for grouping answers in statistics."""
    if response is None:
        return None
    kind = QuestionType(spec.type)
    if kind is QuestionType.MULTIPLE:
        return ",".join(str(i) for i in response)
    if kind is QuestionType.ORDERING:
        return ",".join(str(i) for i in response)
    if kind is QuestionType.MATCHING:
        return "|".join(f"{k}={v}" for k, v in sorted(response.items()))[:200]
    if kind is QuestionType.TRUE_FALSE:
        return "true" if response else "false"
    if kind is QuestionType.SHORT_ANSWER:
        return fold(clean(response))[:200]
    return str(response)[:200]


def grading_response(spec: QuestionSpec, response: Any) -> Any:
    """The stored JSON response in the exact shape :func:`grade` takes."""
    if response is None:
        return None
    if QuestionType(spec.type) is QuestionType.MATCHING and isinstance(response, dict):
        return {int(k): v for k, v in response.items()}
    return response


# ---------------------------------------------------------------- signals

def record_signal(dbs: Session, attempt: Attempt, kind: str, position: int | None = None,
                  now: datetime | None = None) -> None:
    """Count a lost focus or a paste while the attempt is open (quietly ignored otherwise)."""
    now = now or utcnow()
    if kind == "blur":
        dbs.execute(update(Attempt).where(Attempt.id == attempt.id, Attempt.status == "open")
                    .values(focus_lost_count=Attempt.focus_lost_count + 1)
                    .execution_options(synchronize_session=False))
    elif kind == "paste":
        changed = dbs.execute(update(Attempt).where(Attempt.id == attempt.id, Attempt.status == "open")
                              .values(paste_count=Attempt.paste_count + 1)
                              .execution_options(synchronize_session=False)).rowcount
        if changed and position is not None:
            dbs.execute(update(AttemptAnswer).where(
                AttemptAnswer.attempt_id == attempt.id, AttemptAnswer.position == position,
                AttemptAnswer.pasted_at.is_(None)).values(pasted_at=now)
                .execution_options(synchronize_session=False))
    dbs.flush()
    dbs.expire(attempt)


def mark_shown(dbs: Session, attempt: Attempt, positions: list[int], now: datetime | None = None) -> None:
    """Remember when each question was first shown (for the "implausibly fast" signal)."""
    if not attempt.is_open or not positions:
        return
    dbs.execute(update(AttemptAnswer).where(
        AttemptAnswer.attempt_id == attempt.id, AttemptAnswer.position.in_(positions),
        AttemptAnswer.shown_at.is_(None)).values(shown_at=now or utcnow())
        .execution_options(synchronize_session=False))
    for answer in attempt.answers:
        if answer.position in positions:
            dbs.expire(answer, ["shown_at"])


def fast_answer_ids(answers: Iterable[AttemptAnswer]) -> set[int]:
    """The answers of one attempt given implausibly fast: less than FAST_ANSWER_SECONDS after
    the learner could start on them, that is after the question was shown and after the
    answer given before it (on a one-page quiz every question is shown at once, so the time
    between answers is what tells)."""
    given = sorted((a for a in answers if a.answered_at is not None),
                   key=lambda a: (a.answered_at, a.position))
    fast: set[int] = set()
    previous: datetime | None = None
    for answer in given:
        start = max(filter(None, (answer.shown_at, previous)), default=None)
        if start is not None and (answer.answered_at - start).total_seconds() < FAST_ANSWER_SECONDS:
            fast.add(answer.id)
        previous = answer.answered_at
    return fast


# ---------------------------------------------------------------- submitting and grading

def submit_attempt(dbs: Session, attempt: Attempt, now: datetime | None = None,
                   auto: bool = False) -> bool:
    """Close and grade the attempt. Returns True for the one call that graded it."""
    now = now or utcnow()
    changed = dbs.execute(
        update(Attempt).where(Attempt.id == attempt.id, Attempt.status == AttemptStatus.OPEN.value)
        .values(status=AttemptStatus.SUBMITTED.value, submitted_at=now, auto_submitted=auto)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        dbs.refresh(attempt)
        return False
    for name, value in (("status", AttemptStatus.SUBMITTED.value), ("submitted_at", now),
                        ("auto_submitted", auto)):
        set_committed_value(attempt, name, value)  # as written; the answers stay loaded
    _reload_responses(dbs, attempt)
    grade_attempt(dbs, attempt)
    refresh_quiz_score(dbs, attempt.user_id, dbs.get(Quiz, attempt.quiz_id).course_id)
    if attempt.passed:
        _refresh_completion(dbs, attempt)
    return True


def _reload_responses(dbs: Session, attempt: Attempt) -> None:
    """Read the responses again now that this transaction has closed the attempt.

    The caller may have loaded the answers before its UPDATE waited for a save holding the
    attempt's lock (PostgreSQL, READ COMMITTED): that save was acknowledged, so it must be
    graded. Saves after the UPDATE are refused, so what is read here is final."""
    rows = dbs.execute(select(AttemptAnswer.id, AttemptAnswer.response, AttemptAnswer.response_key,
                              AttemptAnswer.answered_at, AttemptAnswer.saved_at)
                       .where(AttemptAnswer.attempt_id == attempt.id))
    fresh = {row.id: row for row in rows}
    for answer in attempt.answers:
        row = fresh[answer.id]
        for name in ("response", "response_key", "answered_at", "saved_at"):
            set_committed_value(answer, name, getattr(row, name))


def finalise_if_expired(dbs: Session, attempt: Attempt, now: datetime | None = None) -> bool:
    """Submit an open attempt whose time (plus grace) is up, with what was saved."""
    now = now or utcnow()
    if attempt.is_open and attempt.deadline_at is not None and now > attempt.deadline_at + GRACE:
        return submit_attempt(dbs, attempt, now=attempt.deadline_at, auto=True)
    return False


def close_expired_attempts(dbs: Session, now: datetime | None = None) -> int:
    """Submit every open attempt past its deadline (for the scheduler and `lms` CLI)."""
    now = now or utcnow()
    expired = dbs.scalars(select(Attempt).where(
        Attempt.status == AttemptStatus.OPEN.value, Attempt.deadline_at.is_not(None),
        Attempt.deadline_at < now - GRACE)
        .options(selectinload(Attempt.answers).selectinload(AttemptAnswer.version))).all()
    return sum(finalise_if_expired(dbs, attempt, now) for attempt in expired)


def grade_attempt(dbs: Session, attempt: Attempt) -> None:
    """(Re)grade every answer with the version it points at, then the attempt's totals."""
    quiz = dbs.get(Quiz, attempt.quiz_id)
    for answer in attempt.answers:
        _grade_answer(answer, spec_from_dict(answer.version.spec))
    _total(attempt, quiz)
    dbs.flush()


def _grade_answer(answer: AttemptAnswer, spec: QuestionSpec) -> None:
    result = grade(spec, grading_response(spec, answer.response))
    answer.score, answer.fraction, answer.state = result.score, result.fraction, result.state
    answer.max_score = round(float(spec.points), 4)


def _total(attempt: Attempt, quiz: Quiz) -> None:
    score = round(sum(a.score or 0 for a in attempt.answers), 4)
    maximum = round(sum(a.max_score for a in attempt.answers), 4)
    attempt.score, attempt.max_score = score, maximum
    attempt.percent = round(100 * score / maximum, 2) if maximum else 0.0
    attempt.passed = attempt.percent + 1e-9 >= quiz.pass_mark


def _refresh_completion(dbs: Session, attempt: Attempt) -> None:
    from lms.courses.services import enrolment_for, refresh_enrolment
    quiz = dbs.get(Quiz, attempt.quiz_id)
    enrolment = enrolment_for(dbs, attempt.user_id, quiz.course_id)
    if enrolment is not None:
        refresh_enrolment(dbs, enrolment)


def feedback_for(spec: QuestionSpec, answer: AttemptAnswer) -> tuple[str, ...]:
    return grade(spec, grading_response(spec, answer.response)).feedback


# ---------------------------------------------------------------- regrading

@dataclass
class RegradeReport:
    answers_changed: int = 0
    attempts_changed: int = 0
    newly_passed: int = 0
    skipped_incompatible: int = 0


def compatible(old: QuestionSpec, new: QuestionSpec) -> bool:
    """A stored response can be graded against ``new``: same type, same parts to point at."""
    if old.type != new.type:
        return False
    kind = QuestionType(new.type)
    if kind in (QuestionType.SINGLE, QuestionType.MULTIPLE):
        return len(old.choices) == len(new.choices)
    if kind is QuestionType.ORDERING:
        return len(old.order) == len(new.order)
    if kind is QuestionType.MATCHING:
        return sum(1 for p in old.pairs if p.left.strip()) == sum(1 for p in new.pairs if p.left.strip())
    return True


def regrade_quiz(dbs: Session, quiz: Quiz, actor: Any = None) -> RegradeReport:
    """Grade every submitted attempt again with each question's current version.

    Use after fixing a question's key. Answers whose question changed shape (another type,
    another number of choices) keep their version and score. A course completed stays
    completed; a person who now passes completes it.
    """
    from lms.audit.services import record
    report = RegradeReport()
    attempts = list(dbs.scalars(select(Attempt).where(
        Attempt.quiz_id == quiz.id, Attempt.status == AttemptStatus.SUBMITTED.value)
        .options(selectinload(Attempt.answers).selectinload(AttemptAnswer.version))))
    if not attempts:
        return report
    current = {v.question_id: v for v in dbs.scalars(
        select(QuestionVersion).join(Question, and_(
            Question.id == QuestionVersion.question_id,
            Question.current_version == QuestionVersion.number))
        .where(Question.id.in_(select(AttemptAnswer.question_id).join(
            Attempt, Attempt.id == AttemptAnswer.attempt_id).where(Attempt.quiz_id == quiz.id))))}
    specs: dict[int, QuestionSpec] = {}

    def spec(version: QuestionVersion) -> QuestionSpec:
        if version.id not in specs:
            specs[version.id] = spec_from_dict(version.spec)
        return specs[version.id]

    rescored: set[int] = set()
    for attempt in attempts:
        before = (attempt.score, attempt.passed)
        for answer in attempt.answers:
            latest = current.get(answer.question_id)
            if latest is None or latest.id == answer.version_id:
                continue
            if not compatible(spec(answer.version), spec(latest)):
                report.skipped_incompatible += 1
                continue
            old_score = answer.score
            answer.version_id, answer.version = latest.id, latest
            _grade_answer(answer, spec(latest))
            report.answers_changed += int(old_score != answer.score)
        _total(attempt, quiz)
        if (attempt.score, attempt.passed) != before:
            report.attempts_changed += 1
            rescored.add(attempt.user_id)
            if attempt.passed and not before[1]:
                report.newly_passed += 1
                dbs.flush()
                _refresh_completion(dbs, attempt)
    dbs.flush()
    for user_id in rescored:
        refresh_quiz_score(dbs, user_id, quiz.course_id)
    record(dbs, actor, "quiz.regrade", quiz, label=quiz.title, answers=report.answers_changed,
           attempts=report.attempts_changed)
    return report


# ---------------------------------------------------------------- course completion

def required_quizzes_passed(dbs: Session, user_id: int, course_id: int,
                            since: datetime | None = None) -> list[bool]:
    """The completion rule's share: one bool per live required quiz of the course
    (counting attempts submitted ``since`` the enrolment's current cycle began)."""
    quizzes = list(dbs.scalars(select(Quiz).where(
        Quiz.course_id == course_id, Quiz.is_required.is_(True), Quiz.is_archived.is_(False))))
    if not quizzes:
        return []
    rows = dbs.execute(select(Attempt.quiz_id, Attempt.number, Attempt.percent, Attempt.passed).where(
        Attempt.user_id == user_id, Attempt.quiz_id.in_([q.id for q in quizzes]),
        Attempt.status == AttemptStatus.SUBMITTED.value,
        Attempt.submitted_at >= since if since is not None else True)).all()
    results = []
    for quiz in quizzes:
        mine = [r for r in rows if r.quiz_id == quiz.id]
        if quiz.grading == Grading.LAST.value:
            last = max(mine, key=lambda r: r.number, default=None)
            results.append(bool(last and last.passed))
        else:
            results.append(any(r.passed for r in mine))
    return results


def refresh_quiz_score(dbs: Session, user_id: int, course_id: int) -> None:
    """Keep the enrolment's average quiz score (what the reports read) up to date: the
    mean of the counted score of each live quiz of the course the person has taken."""
    refresh_course_quiz_scores(dbs, course_id, user_id)


def refresh_course_quiz_scores(dbs: Session, course_id: int, user_id: int | None = None) -> None:
    """The same for everyone who took a quiz of the course (after a quiz is archived,
    restored or counts another attempt): one read of the attempts, one batched update."""
    from lms.courses.models import Enrolment
    query = (select(Attempt.user_id, Attempt.quiz_id, Attempt.percent, Quiz.grading, Quiz.is_archived)
             .join(Quiz, Quiz.id == Attempt.quiz_id)
             .where(Quiz.course_id == course_id, Attempt.status == AttemptStatus.SUBMITTED.value)
             .order_by(Attempt.number))
    if user_id is not None:
        query = query.where(Attempt.user_id == user_id)
    kept: dict[int, dict[int, float]] = {}
    for row in dbs.execute(query):
        scores = kept.setdefault(row.user_id, {})
        if row.is_archived:
            continue
        percent = row.percent or 0.0
        if row.grading == Grading.LAST.value or row.quiz_id not in scores:
            scores[row.quiz_id] = percent
        else:
            scores[row.quiz_id] = max(scores[row.quiz_id], percent)
    if not kept:
        return
    values = [{"uid": uid, "score": round(sum(s.values()) / len(s), 2) if s else None}
              for uid, s in kept.items()]
    table = Enrolment.__table__
    dbs.execute(table.update().where(table.c.user_id == bindparam("uid"),
                                     table.c.course_id == course_id)
                .values(quiz_score=bindparam("score")), values)
    for loaded in list(dbs.identity_map.values()):   # the batched UPDATE bypassed the session
        if isinstance(loaded, Enrolment) and loaded.course_id == course_id:
            dbs.expire(loaded, ["quiz_score"])


def answered_count(attempt: Attempt) -> int:
    return sum(1 for a in attempt.answers if a.response is not None and a.state != UNANSWERED)


def seconds_left(attempt: Attempt, now: datetime | None = None) -> int | None:
    if attempt.deadline_at is None:
        return None
    return max(0, int((attempt.deadline_at - (now or utcnow())).total_seconds()))


def attempts_count(dbs: Session, quiz_id: int) -> int:
    return dbs.scalar(select(func.count(Attempt.id)).where(Attempt.quiz_id == quiz_id)) or 0
