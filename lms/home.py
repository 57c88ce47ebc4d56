"""The home page: what each person sees first, by their roles."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from lms.audit.queries import recent_events
from lms.auth.permissions import is_admin
from lms.db import db, utcnow
from lms.mentoring.models import HelpRequest, HelpStatus
from lms.mentoring.needs import needs_of
from lms.mentoring.permissions import (
    can_open_mentoring,
    current_mentees,
    help_requests_to_me_clause,
)
from lms.org.models import Role, Unit, User
from lms.org.queries import unit_summary

bp = Blueprint("home", __name__)


@bp.route("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("reports.movement"))  # the public page, with its Sign in button
    user = current_user._get_current_object()
    headed = [(g.unit, unit_summary(db.session, g.unit)) for g in user.grants
              if g.role == Role.UNIT_HEAD.value and g.unit]
    mentoring = _mentoring_figures(user) if can_open_mentoring(db.session, user) else None
    admin = _admin_figures() if is_admin(user) else None
    events = recent_events(db.session, limit=8) if admin else []
    return render_template("home/index.html", user=user, headed=headed, mentoring=mentoring,
                           admin=admin, events=events)


@dataclass(frozen=True)
class MentoringFigures:
    """The mentor's panel: mentees, how many need help, the help requests still open."""

    units: list[Any]
    mentees: int
    needing_help: int
    open_requests: int
    waiting: int


def _mentoring_figures(user: User) -> MentoringFigures:
    mine = current_mentees(user.id)
    mentees = db.session.scalar(select(func.count()).select_from(mine.subquery())) or 0
    needing = len(needs_of(db.session, mine, utcnow(),
                           current_app.config["MENTOR_INACTIVE_DAYS"])) if mentees else 0
    open_requests, waiting = db.session.execute(
        select(func.count(), func.count(HelpRequest.waiting_since))
        .where(help_requests_to_me_clause(user), HelpRequest.status == HelpStatus.OPEN.value)).one()
    units = [g.unit or user.unit for g in user.grants if g.role == Role.MENTOR.value]
    return MentoringFigures(units, mentees, needing, open_requests or 0, waiting or 0)


def _admin_figures() -> dict[str, int]:
    row = db.session.execute(select(
        func.count(User.id).filter(User.is_active.is_(True)),
        func.count(User.id).filter(User.is_active.is_(False)),
        func.count(User.id).filter(User.locked_until > utcnow()),
        func.count(User.id).filter(User.password_hash.is_(None), User.is_active.is_(True)),
    )).one()
    units = db.session.execute(select(
        func.count(Unit.id).filter(Unit.is_active.is_(True)),
        func.count(Unit.id).filter(Unit.kind == "mission", Unit.is_active.is_(True)),
    )).one()
    return {"active": row[0], "inactive": row[1], "locked": row[2], "no_password": row[3],
            "units": units[0], "missions": units[1]}
