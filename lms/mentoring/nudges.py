"""Nudges: a short message from a mentor to mentees, from a ready template (shown to each
mentee in their own language) or in the mentor's own words."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms.db import utcnow
from lms.mentoring.models import Mentorship
from lms.mentoring.services import MentoringError
from lms.notify.models import Notification
from lms.notify.services import notify
from lms.org.models import User
from lms.text import nfc

MAX_NUDGE_CHARS = 500

NUDGE_TEMPLATES = {
    "overdue": _l("Your training is past its due date. Shall we find half an hour this week "
                  "to finish it together?"),
    "inactive": _l("I have not seen you in the course for a while. If something is in the way, "
                   "tell me and I will help."),
    "quiz": _l("The quiz can be tricky. Let us go through the questions you found hard before "
               "your next attempt."),
    "encourage": _l("You are making good progress. Keep going, and ask me whenever you need "
                    "help."),
}


def template_text(params: dict[str, Any]) -> str:
    """The words of a template nudge, in the reader's language."""
    template = NUDGE_TEMPLATES.get(str(params.get("template", "")))
    return str(template) if template is not None else ""


def send_nudge(dbs: Session, mentor: User, mentee_ids: Iterable[int], *, template: str = "",
               message: str = "", now: datetime | None = None) -> int:
    """Send one nudge to each listed mentee; only the mentor's current mentees can get one."""
    ids = set(mentee_ids)
    if not ids:
        raise MentoringError(_("Choose at least one colleague."))
    message = nfc((message or "").strip())
    if template and template not in NUDGE_TEMPLATES:
        raise MentoringError(_("Choose one of the ready messages."), field="template")
    if not template and not message:
        raise MentoringError(_("Choose a ready message or write your own."), field="message")
    if len(message) > MAX_NUDGE_CHARS:
        raise MentoringError(_("Keep the message under %(n)d characters.", n=MAX_NUDGE_CHARS),
                             field="message")
    mine = set(dbs.scalars(select(Mentorship.mentee_id).where(
        Mentorship.mentor_id == mentor.id, Mentorship.ended_at.is_(None),
        Mentorship.mentee_id.in_(ids))))
    if mine != ids:
        raise MentoringError(_("You can send nudges only to your own mentees."))
    params = {"mentor": mentor.full_name}
    if not message:
        params["template"] = template
    return notify(dbs, mine, "nudge", actor=mentor, params=params, body=message,
                  at=now or utcnow())


def last_nudged(dbs: Session, mentor_id: int, mentee_ids: Iterable[int]) -> dict[int, datetime]:
    """When this mentor last nudged each of these mentees (one GROUP BY)."""
    ids = list(mentee_ids)
    if not ids:
        return {}
    return dict(dbs.execute(
        select(Notification.user_id, func.max(Notification.created_at))
        .where(Notification.kind == "nudge", Notification.actor_id == mentor_id,
               Notification.user_id.in_(ids))
        .group_by(Notification.user_id)).all())
