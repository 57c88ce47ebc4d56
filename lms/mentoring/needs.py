"""Who needs help: clear rules over a group of people, each one SQL query, with the clock
passed in so tests can move it.

- **waiting**: asked for help, and no mentor has answered their last message yet;
- **overdue**: a course not completed after its due date;
- **failed twice**: failed the same quiz at least twice and not passed it since;
- **inactive**: no activity for N days while assigned training is still open.
"""
from __future__ import annotations

import enum
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from lms.courses.models import Enrolment, EnrolmentStatus
from lms.mentoring.models import HelpRequest, HelpStatus
from lms.quizzes.models import Attempt, AttemptStatus, Quiz


class Need(str, enum.Enum):
    WAITING = "waiting"
    OVERDUE = "overdue"
    FAILED_TWICE = "failed_twice"
    INACTIVE = "inactive"


# The order a mentor should act in: someone waiting for an answer first.
NEED_WEIGHT = {Need.WAITING: 8, Need.OVERDUE: 4, Need.FAILED_TWICE: 2, Need.INACTIVE: 1}
# "Behind": what a nudge is for (a waiting question needs an answer, not a nudge).
BEHIND = frozenset({Need.OVERDUE, Need.FAILED_TWICE, Need.INACTIVE})


def need_score(needs: set[Need]) -> int:
    return sum(NEED_WEIGHT[n] for n in needs)


def waiting_people(people: Select, now: datetime) -> Select:
    return select(HelpRequest.learner_id).where(
        HelpRequest.learner_id.in_(people), HelpRequest.status == HelpStatus.OPEN.value,
        HelpRequest.waiting_since.is_not(None), HelpRequest.waiting_since <= now).distinct()


def overdue_people(people: Select, now: datetime) -> Select:
    return select(Enrolment.user_id).where(
        Enrolment.user_id.in_(people), Enrolment.status != EnrolmentStatus.COMPLETED.value,
        Enrolment.due_at.is_not(None), Enrolment.due_at < now).distinct()


def failed_twice_people(people: Select) -> Select:
    graded = (Attempt.status == AttemptStatus.SUBMITTED.value) & Attempt.passed.is_not(None)
    per_quiz = (select(Attempt.user_id)
                .join(Quiz, Quiz.id == Attempt.quiz_id)
                .where(Attempt.user_id.in_(people), graded, Quiz.is_archived.is_(False))
                .group_by(Attempt.user_id, Attempt.quiz_id)
                .having(func.count().filter(Attempt.passed.is_(False)) >= 2,
                        func.count().filter(Attempt.passed.is_(True)) == 0))
    return per_quiz.distinct()


def inactive_people(people: Select, now: datetime, days: int) -> Select:
    open_assigned = ((Enrolment.source == "assigned")
                     & (Enrolment.status != EnrolmentStatus.COMPLETED.value))
    last_seen = func.max(func.coalesce(Enrolment.last_activity_at, Enrolment.enrolled_at))
    return (select(Enrolment.user_id).where(Enrolment.user_id.in_(people))
            .group_by(Enrolment.user_id)
            .having(func.count().filter(open_assigned) > 0,
                    last_seen < now - timedelta(days=days)))


def needs_of(dbs: Session, people: Select, now: datetime,
             inactive_days: int) -> dict[int, set[Need]]:
    """Each person of ``people`` (a SELECT of user ids) who needs help, with why (4 queries)."""
    rules = ((Need.WAITING, waiting_people(people, now)),
             (Need.OVERDUE, overdue_people(people, now)),
             (Need.FAILED_TWICE, failed_twice_people(people)),
             (Need.INACTIVE, inactive_people(people, now, inactive_days)))
    needs: dict[int, set[Need]] = {}
    for need, query in rules:
        for user_id in dbs.scalars(query):
            needs.setdefault(user_id, set()).add(need)
    return needs
