"""Remediation for mandatory courses: extra attempts, resets and time extensions.

Nothing is deleted: a reset only moves the point from which attempts are counted, so
every earlier attempt stays in the person's history. Each grant records who gave it and why.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms.audit.services import record
from lms.errors import DomainError
from lms.org.models import Role, RoleGrant, Unit, User
from lms.quizzes.models import Attempt, GrantKind, Quiz, QuizGrant
from lms.quizzes.permissions import can_remediate
from lms.text import clean


def grant(dbs: Session, quiz: Quiz, person: User, kind: str, reason: str, actor: Any,
          amount: int = 0) -> QuizGrant:
    """Give ``person`` extra attempts (``amount``), a reset, or ``amount`` more minutes."""
    if not can_remediate(actor, person):
        raise DomainError(_("You may not change this person's quiz."))
    reason = clean(reason)
    if len(reason) < 5:
        raise DomainError(_("Give a reason (at least 5 characters)."), field="reason")
    if kind == GrantKind.EXTRA_ATTEMPTS.value:
        if not 1 <= amount <= 10:
            raise DomainError(_("Grant 1 to 10 extra attempts."), field="amount")
    elif kind == GrantKind.EXTRA_TIME.value:
        if not 1 <= amount <= 600:
            raise DomainError(_("Extend the time by 1 to 600 minutes."), field="amount")
    elif kind == GrantKind.RESET.value:
        amount = dbs.scalar(select(func.coalesce(func.max(Attempt.number), 0)).where(
            Attempt.quiz_id == quiz.id, Attempt.user_id == person.id))
    else:
        raise DomainError(_("Unknown kind of grant."))
    item = QuizGrant(quiz_id=quiz.id, user_id=person.id, kind=kind, amount=amount,
                     reason=reason[:2000], granted_by_id=getattr(actor, "id", None))
    dbs.add(item)
    dbs.flush()
    record(dbs, actor, f"quiz.grant.{kind}", quiz, label=f"{quiz.title} – {person.full_name}",
           person_id=person.id, amount=amount, reason=reason)
    return item


def grants_for(dbs: Session, quiz_id: int, user_id: int) -> list[QuizGrant]:
    return list(dbs.scalars(select(QuizGrant).where(
        QuizGrant.quiz_id == quiz_id, QuizGrant.user_id == user_id).order_by(QuizGrant.created_at)))


def who_can_help(dbs: Session, person: User, limit: int = 5) -> list[User]:
    """The people a learner who ran out of attempts can ask: the heads of their unit and the
    units above it (nearest first), then trainers."""
    ancestor_ids = [int(part) for part in person.unit.path.strip("/").split("/") if part]
    heads = dbs.execute(
        select(User, Unit.path).join(RoleGrant, RoleGrant.user_id == User.id)
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .where(RoleGrant.role == Role.UNIT_HEAD.value, RoleGrant.unit_id.in_(ancestor_ids),
               User.is_active.is_(True), User.id != person.id)
        .order_by(func.length(Unit.path).desc(), User.sort_name).limit(limit)).all()
    helpers = [user for user, _path in heads]
    trainers = dbs.scalars(
        select(User).join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role == Role.TRAINER.value, User.is_active.is_(True),
               User.id.not_in([u.id for u in helpers] + [person.id]))
        .distinct().order_by(User.sort_name).limit(max(1, limit - len(helpers)))).all()
    return helpers + list(trainers)

