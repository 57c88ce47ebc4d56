"""The home page: what each person sees first, by their roles."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from lms.audit.queries import recent_events
from lms.auth.permissions import is_admin
from lms.db import db, utcnow
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
    mentored = [(g.unit or user.unit, _colleagues(g.unit_id or user.unit_id)) for g in user.grants
                if g.role == Role.MENTOR.value]
    admin = _admin_figures() if is_admin(user) else None
    events = recent_events(db.session, limit=8) if admin else []
    return render_template("home/index.html", user=user, headed=headed, mentored=mentored,
                           admin=admin, events=events)


def _colleagues(unit_id: int) -> int:
    unit = db.session.get(Unit, unit_id)
    subtree = select(Unit.id).where(Unit.path.startswith(unit.path))
    return db.session.scalar(select(func.count()).select_from(User).where(
        User.unit_id.in_(subtree), User.is_active.is_(True))) or 0


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
