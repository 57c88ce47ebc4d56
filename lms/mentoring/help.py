"""Help requests: a learner asks about a lesson or a quiz result, a mentor answers in a
thread, the learner marks it solved. While the learner waits longer than the escalation
delay (working days in their unit's timezone), the unit's other mentors are brought in.
"""
from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from lms.courses.models import Course, Lesson
from lms.db import utcnow
from lms.mentoring.models import HelpMessage, HelpRecipient, HelpRequest, HelpStatus
from lms.mentoring.permissions import can_answer_help_request
from lms.mentoring.services import (
    MentoringError,
    current_mentor,
    nearest_role_holders,
    unit_mentors,
)
from lms.mentoring.workdays import add_working_days
from lms.notify.services import notify
from lms.org.models import Role, Unit, User
from lms.quizzes.models import Attempt
from lms.text import nfc

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4000
# A second identical question within this time is the same request (a double click, a retry).
REPEAT_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class Escalation:
    """How long a learner waits before the unit's other mentors are brought in."""

    working_days: int = 2
    holidays: Collection[date] = ()

    @classmethod
    def from_config(cls, config: Any) -> Escalation:
        return cls(config.get("HELP_ESCALATION_WORKING_DAYS", 2), config.get("HOLIDAYS", ()))

    def due(self, since: datetime, unit: Unit) -> datetime:
        return add_working_days(since, self.working_days, unit.timezone, self.holidays)


def _message(body: str) -> str:
    # Line breaks are kept (steps, lists), trailing spaces dropped, the text stored as NFC.
    text = nfc("\n".join(line.rstrip() for line in (body or "").replace("\r\n", "\n")
                         .split("\n")).strip())
    if not text:
        raise MentoringError(_("Write your question or answer first."), field="body")
    if len(text) > MAX_MESSAGE_CHARS:
        raise MentoringError(_("Keep the message under %(n)d characters.", n=MAX_MESSAGE_CHARS),
                             field="body")
    return text


def place_of(dbs: Session, *, lesson: Lesson | None = None,
             attempt: Attempt | None = None) -> tuple[Course | None, str]:
    """The course and a readable name of where the question comes from."""
    if lesson is not None:
        course = dbs.get(Course, lesson.course_id)
        return course, f"{course.title} — {lesson.title}"
    if attempt is not None:
        course = dbs.get(Course, attempt.quiz.course_id)
        return course, _("%(course)s — %(quiz)s (attempt %(n)d)", course=course.title,
                         quiz=attempt.quiz.title, n=attempt.number)
    return None, ""


def who_answers(dbs: Session, learner: User) -> tuple[User | None, list[User]]:
    """The learner's own mentor, or else the mentors of their unit."""
    mentor = current_mentor(dbs, learner.id)
    if mentor is not None and mentor.is_active:
        return mentor, []
    return None, [m for m in unit_mentors(dbs, learner.unit) if m.id != learner.id]


def ask_for_help(dbs: Session, learner: User, question: str, escalation: Escalation, *,
                 lesson: Lesson | None = None, attempt: Attempt | None = None,
                 now: datetime | None = None) -> HelpRequest:
    """Open a help request from ``learner`` about a lesson or one of their quiz attempts."""
    body = _message(question)
    if attempt is not None and attempt.user_id != learner.id:
        raise MentoringError(_("You can ask for help only about your own quiz attempts."))
    now = now or utcnow()
    course, place = place_of(dbs, lesson=lesson, attempt=attempt)
    repeat = dbs.scalar(
        select(HelpRequest).join(HelpMessage, HelpMessage.request_id == HelpRequest.id)
        .where(HelpRequest.learner_id == learner.id, HelpRequest.status == HelpStatus.OPEN.value,
               HelpRequest.place == place[:520], HelpRequest.created_at >= now - REPEAT_WINDOW,
               HelpMessage.body == body)
        .limit(1))
    if repeat is not None:
        return repeat
    mentor, unit_team = who_answers(dbs, learner)
    if mentor is None and not unit_team:
        raise MentoringError(_("Nobody in your unit is a mentor yet. Ask your unit head to "
                               "name one, or contact the IT team."))
    request = HelpRequest(
        learner_id=learner.id, mentor_id=mentor.id if mentor else None, unit_id=learner.unit_id,
        course_id=course.id if course else None, lesson_id=lesson.id if lesson else None,
        attempt_id=attempt.id if attempt else None, place=place[:520], created_at=now,
        waiting_since=now, escalate_at=escalation.due(now, learner.unit), last_message_at=now)
    request.messages.append(HelpMessage(author_id=learner.id, body=body, created_at=now))
    dbs.add(request)
    dbs.flush()
    if unit_team:
        _add_recipients(dbs, request, [m.id for m in unit_team], "unit", now)
    answerers = [mentor.id] if mentor else [m.id for m in unit_team]
    notify(dbs, answerers, "help_request", actor=learner, at=now,
           params=_params(request, learner))
    log.info("help request %s from %s to %s", request.id, learner.id, answerers)
    return request


def _params(request: HelpRequest, person: User) -> dict[str, Any]:
    return {"name": person.full_name, "place": request.place, "request_id": request.id}


def _add_recipients(dbs: Session, request: HelpRequest, user_ids: list[int], reason: str,
                    now: datetime) -> None:
    if user_ids:
        dbs.execute(insert(HelpRecipient), [
            {"request_id": request.id, "user_id": uid, "reason": reason, "added_at": now}
            for uid in user_ids])


def recipients_of(dbs: Session, request: HelpRequest) -> list[int]:
    return list(dbs.scalars(select(HelpRecipient.user_id)
                            .where(HelpRecipient.request_id == request.id)))


def reply(dbs: Session, author: User, request: HelpRequest, body: str,
          escalation: Escalation, now: datetime | None = None) -> HelpMessage:
    """Add a message to the thread. A mentor's answer stops the waiting clock; a learner's
    message starts it again."""
    if not can_answer_help_request(dbs, author, request):
        raise MentoringError(_("Only the colleague who asked and their mentors can write here."))
    if not request.is_open:
        raise MentoringError(_("This question is marked solved. Ask a new question if you need "
                               "more help."))
    text = _message(body)
    now = now or utcnow()
    message = HelpMessage(author_id=author.id, body=text, created_at=now)
    request.messages.append(message)
    request.last_message_at = now
    params = _params(request, author)
    if author.id == request.learner_id:
        if request.waiting_since is None:
            request.waiting_since = now
            request.escalate_at = escalation.due(now, request.learner.unit)
        others = ([request.mentor_id] if request.mentor_id else []) + recipients_of(dbs, request)
        notify(dbs, others, "help_reply", actor=author, params=params, at=now)
    else:
        request.waiting_since = None
        request.escalate_at = None
        notify(dbs, [request.learner_id], "help_reply", actor=author, params=params, at=now)
    dbs.flush()
    return message


def mark_solved(dbs: Session, learner: User, request: HelpRequest,
                now: datetime | None = None) -> None:
    """The learner closes their question (again is harmless)."""
    if learner.id != request.learner_id:
        raise MentoringError(_("Only the colleague who asked can mark the question solved."))
    if not request.is_open:
        return
    now = now or utcnow()
    request.status = HelpStatus.SOLVED.value
    request.solved_at = now
    request.waiting_since = None
    request.escalate_at = None
    helpers = {m.author_id for m in request.messages if m.author_id != learner.id}
    notify(dbs, helpers, "help_solved", actor=learner, at=now, params=_params(request, learner))
    dbs.flush()


def escalate_due(dbs: Session, now: datetime | None = None) -> int:
    """Bring the unit's other mentors (or, with none, the unit's heads) into every open
    request whose learner has waited past the delay. Running it again does nothing more."""
    now = now or utcnow()
    due = dbs.scalars(
        select(HelpRequest).where(HelpRequest.status == HelpStatus.OPEN.value,
                                  HelpRequest.escalated_at.is_(None),
                                  HelpRequest.escalate_at <= now)
        .order_by(HelpRequest.unit_id, HelpRequest.id).with_for_update(skip_locked=True)).all()
    if not due:
        return 0
    already = {}
    for request_id, user_id in dbs.execute(select(HelpRecipient.request_id, HelpRecipient.user_id)
                                           .where(HelpRecipient.request_id.in_([r.id for r in due]))):
        already.setdefault(request_id, set()).add(user_id)
    team_of: dict[int, list[User]] = {}
    for request in due:
        if request.unit_id not in team_of:
            unit = dbs.get(Unit, request.unit_id)
            team_of[request.unit_id] = (unit_mentors(dbs, unit)
                                        + nearest_role_holders(dbs, unit, Role.UNIT_HEAD))
        taken = already.get(request.id, set()) | {request.learner_id, request.mentor_id}
        mentors = [u for u in team_of[request.unit_id] if u.id not in taken
                   and any(g.role == Role.MENTOR.value for g in u.grants)]
        others = mentors or [u for u in team_of[request.unit_id] if u.id not in taken]
        _add_recipients(dbs, request, [u.id for u in others], "escalated", now)
        request.escalated_at = now
        notify(dbs, [u.id for u in others], "help_escalated", at=now,
               params=_params(request, request.learner))
    dbs.flush()
    log.info("%d help requests escalated", len(due))
    return len(due)
