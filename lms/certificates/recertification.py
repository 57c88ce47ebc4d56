"""Recertification: a certificate with a validity period expires, and the person takes the
course again to earn a new one.

From :data:`RENEWAL_WINDOW_DAYS` before the expiry, the holder may start a new cycle of the
course: the enrolment is in progress again, only lessons done and quizzes passed from then
on count (``Enrolment.cycle_started_at``), the course's required quizzes are reset for them
(a reset grant, so earlier attempts stay in the history and the attempt limit starts
afresh), and the next completion issues a new certificate with a new register number. The
old certificate is left as it is: valid until its date, then expired.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms.audit.services import record
from lms.certificates.models import Certificate
from lms.courses.models import Enrolment
from lms.courses.services import start_new_cycle
from lms.db import utcnow
from lms.errors import DomainError
from lms.quizzes.models import Attempt, GrantKind, Quiz, QuizGrant

#: The holder may renew this many days before the certificate expires (and any time after).
RENEWAL_WINDOW_DAYS = 30


def can_renew(certificate: Certificate, enrolment: Enrolment | None, now: datetime | None = None) -> bool:
    """The live certificate of the enrolment's current completion, expiring soon or expired."""
    now = now or utcnow()
    return (enrolment is not None and enrolment.is_completed
            and certificate.expires_at is not None
            and certificate.revoked_at is None and certificate.superseded_by_id is None
            and certificate.enrolment_id == enrolment.id
            and certificate.completed_at == enrolment.completed_at
            and now >= certificate.expires_at - timedelta(days=RENEWAL_WINDOW_DAYS))


def renew(dbs: Session, certificate: Certificate, actor: Any, now: datetime | None = None) -> Enrolment:
    """Start the new cycle that leads to a new certificate (see the module's docstring)."""
    now = now or utcnow()
    enrolment = dbs.get(Enrolment, certificate.enrolment_id) if certificate.enrolment_id else None
    if not can_renew(certificate, enrolment, now):
        raise DomainError(_("This certificate cannot be renewed now: renewal opens %(days)d days "
                            "before it expires.", days=RENEWAL_WINDOW_DAYS))
    start_new_cycle(dbs, enrolment, now)
    last_attempts = dbs.execute(
        select(Quiz.id, func.coalesce(func.max(Attempt.number), 0))
        .outerjoin(Attempt, (Attempt.quiz_id == Quiz.id) & (Attempt.user_id == enrolment.user_id))
        .where(Quiz.course_id == enrolment.course_id, Quiz.is_archived.is_(False))
        .group_by(Quiz.id)).all()
    for quiz_id, last in last_attempts:
        dbs.add(QuizGrant(quiz_id=quiz_id, user_id=enrolment.user_id, kind=GrantKind.RESET.value,
                          amount=last, reason=_("Recertification: certificate %(serial)s",
                                                serial=certificate.serial),
                          granted_by_id=getattr(actor, "id", None), created_at=now))
    dbs.flush()
    record(dbs, actor, "certificate.renew", certificate, label=certificate.serial,
           enrolment_id=enrolment.id)
    return enrolment
