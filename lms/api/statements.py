"""xAPI 1.0.3 statements made from what the platform recorded, for a Learning Record Store.

"completed" comes from an enrolment's completion, "passed" / "failed" from a submitted
quiz attempt. A statement's id is a UUID derived from what it states, so pulling the same
period twice gives the same ids and the LRS keeps each statement once.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import literal, select, union_all
from sqlalchemy.orm import Bundle, Session

from lms.courses.models import Course, Enrolment
from lms.courses.permissions import visible_learners_clause
from lms.db import iso_utc
from lms.org.models import Unit, User
from lms.org.permissions import people_in_scopes_clause
from lms.quizzes.models import Attempt, AttemptStatus, Quiz
from lms.urls import external_url

XAPI_VERSION = "1.0.3"
VERBS = {
    "completed": {"id": "http://adlnet.gov/expapi/verbs/completed",
                  "display": {"en-US": "completed", "vi-VN": "đã hoàn thành"}},
    "passed": {"id": "http://adlnet.gov/expapi/verbs/passed",
               "display": {"en-US": "passed", "vi-VN": "đã đạt"}},
    "failed": {"id": "http://adlnet.gov/expapi/verbs/failed",
               "display": {"en-US": "failed", "vi-VN": "chưa đạt"}},
}
COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"
ASSESSMENT_TYPE = "http://adlnet.gov/expapi/activities/assessment"
# Statement ids are uuid5 names in this namespace (fixed: changing it changes every id).
NAMESPACE = uuid.UUID("7d1c3c52-4d0e-5a57-9a3a-3b1d6c0f8e21")
# The kind of row behind a statement (part of the sort key).
COMPLETION, ATTEMPT = 1, 2
# Who, as the statements need it: the name and the code, not the whole account.
PERSON = Bundle("person", User.full_name, User.employee_code)


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime


def statement_keys(viewer: Any, period: Period, unit: Unit | None, verbs: set[str]):
    """(timestamp, kind, id) of every statement in the period the viewer may read, as a
    subquery; ordered and paged by the caller."""
    people = select(User.id).where(visible_learners_clause(viewer))
    if unit is not None:
        people = people.where(people_in_scopes_clause([unit.path]))
    parts = []
    if "completed" in verbs:
        parts.append(select(Enrolment.completed_at.label("at"), literal(COMPLETION).label("kind"),
                            Enrolment.id.label("row_id"))
                     .where(Enrolment.completed_at >= period.since,
                            Enrolment.completed_at < period.until,
                            Enrolment.user_id.in_(people)))
    outcomes = [flag for flag, verb in ((True, "passed"), (False, "failed")) if verb in verbs]
    if outcomes:
        parts.append(select(Attempt.submitted_at.label("at"), literal(ATTEMPT).label("kind"),
                            Attempt.id.label("row_id"))
                     .where(Attempt.status == AttemptStatus.SUBMITTED.value,
                            Attempt.submitted_at >= period.since,
                            Attempt.submitted_at < period.until,
                            Attempt.passed.in_(outcomes),
                            Attempt.user_id.in_(people)))
    return union_all(*parts).subquery("statement_keys") if parts else None


def load_statements(dbs: Session, keys: Sequence[tuple[datetime, int, int]]) -> list[dict[str, Any]]:
    """The statements of one page of keys: two queries whatever the page size."""
    completion_ids = [row_id for _at, kind, row_id in keys if kind == COMPLETION]
    attempt_ids = [row_id for _at, kind, row_id in keys if kind == ATTEMPT]
    made: dict[tuple[int, int], dict[str, Any]] = {}
    if completion_ids:
        for enrolment, person, course in dbs.execute(
                select(Enrolment, PERSON, Course).join(User, User.id == Enrolment.user_id)
                .join(Course, Course.id == Enrolment.course_id)
                .where(Enrolment.id.in_(completion_ids))):
            made[(COMPLETION, enrolment.id)] = completion_statement(enrolment, person, course)
    if attempt_ids:
        for attempt, person, quiz, course in dbs.execute(
                select(Attempt, PERSON, Quiz, Course).join(User, User.id == Attempt.user_id)
                .join(Quiz, Quiz.id == Attempt.quiz_id).join(Course, Course.id == Quiz.course_id)
                .where(Attempt.id.in_(attempt_ids))):
            made[(ATTEMPT, attempt.id)] = attempt_statement(attempt, person, quiz, course)
    return [made[(kind, row_id)] for _at, kind, row_id in keys if (kind, row_id) in made]


def _actor(person: Any) -> dict[str, Any]:
    """Identified by the employee code (an e-mail address may change; the code does not)."""
    return {"objectType": "Agent", "name": person.full_name,
            "account": {"homePage": external_url("home.index"), "name": person.employee_code}}


def course_activity(course: Course) -> dict[str, Any]:
    return {"objectType": "Activity", "id": external_url("courses.course_page", slug=course.slug),
            "definition": {"type": COURSE_TYPE, "name": {"vi-VN": course.title}}}


def _statement(key: str, person: Any, verb: str, activity: dict[str, Any],
               result: dict[str, Any], at: datetime, context: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(NAMESPACE, key)),
        "actor": _actor(person),
        "verb": VERBS[verb],
        "object": activity,
        "result": result,
        "context": {"platform": "lms", "language": "vi-VN", **context},
        "timestamp": iso_utc(at),
        "version": XAPI_VERSION,
    }


def completion_statement(enrolment: Enrolment, person: Any, course: Course) -> dict[str, Any]:
    assert enrolment.completed_at is not None
    result: dict[str, Any] = {"completion": True}
    if enrolment.quiz_score is not None:
        result["score"] = {"scaled": round(min(max(enrolment.quiz_score, 0), 100) / 100, 4)}
    return _statement(f"completed:{enrolment.id}:{enrolment.completed_at.isoformat()}", person,
                      "completed", course_activity(course), result, enrolment.completed_at, {})


def attempt_statement(attempt: Attempt, person: Any, quiz: Quiz, course: Course) -> dict[str, Any]:
    assert attempt.submitted_at is not None
    verb = "passed" if attempt.passed else "failed"
    result: dict[str, Any] = {"success": bool(attempt.passed), "completion": True}
    if attempt.score is not None and attempt.max_score:
        raw, top = round(attempt.score, 4), round(attempt.max_score, 4)
        result["score"] = {"raw": raw, "min": 0, "max": top,
                           "scaled": round(min(max(raw / top, 0), 1), 4)}
    activity = {"objectType": "Activity",
                "id": external_url("quizzes.quiz_page", quiz_id=quiz.id),
                "definition": {"type": ASSESSMENT_TYPE, "name": {"vi-VN": quiz.title}}}
    context = {"contextActivities": {"parent": [course_activity(course)]}}
    return _statement(f"attempt:{attempt.id}:{verb}", person, verb, activity, result,
                      attempt.submitted_at, context)


def key_columns(keys) -> tuple:
    return (keys.c.at, keys.c.kind, keys.c.row_id)
