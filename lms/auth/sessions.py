"""Server-side sessions behind Flask-Login.

The cookie holds a random session id; the database row says whether it is still
valid. Signing out, a password change or deactivation ends the rows, and with them
the sessions on every device. A new id is made at each sign-in.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import Flask, current_app, flash, g, request, session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from lms.auth.models import UserSession
from lms.db import db, utcnow
from lms.extensions import login_manager
from lms.org.models import User

TOUCH_INTERVAL = timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(dbs: Session, user: User, ip: str = "", user_agent: str = "") -> str:
    """Create a server-side session for ``user``; returns the id to keep in the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    dbs.add(UserSession(
        token_hash=_hash(token), user_id=user.id, created_at=now, last_seen_at=now,
        expires_at=now + timedelta(hours=current_app.config["SESSION_MAX_HOURS"]),
        ip_address=ip[:64], user_agent=user_agent[:255],
    ))
    dbs.flush()
    return token


def end_all_sessions(dbs: Session, user_id: int, reason: str) -> int:
    """End every open session of a user, on every device; returns how many were open."""
    result = dbs.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_reason=reason)
    )
    return result.rowcount


def sign_in(user: User) -> None:
    """Sign ``user`` in on this browser with a brand-new session id."""
    locale = session.get("lang")
    session.clear()
    token = start_session(db.session, user, request.remote_addr or "",
                          request.headers.get("User-Agent", ""))
    session["sid"] = token
    if locale:
        session["lang"] = locale
    session.permanent = True
    login_user(user)


def sign_out_everywhere(user: User, reason: str = "signed_out") -> None:
    end_all_sessions(db.session, user.id, reason)
    logout_user()
    session.clear()


def _load_user(user_id: str) -> User | None:
    token = session.get("sid")
    if not token or not user_id.isdigit():
        return None
    row = db.session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == _hash(token))
    ).first()
    if row is None:
        return None
    user_session, user = row
    now = utcnow()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    reason = None
    if user_session.ended_at is not None or user.id != int(user_id) or not user.is_active:
        reason = "ended"
    elif now >= user_session.expires_at:
        reason = "expired"
    elif now - user_session.last_seen_at >= idle:
        reason = "idle"
    if reason:
        if user_session.ended_at is None:
            user_session.ended_at, user_session.ended_reason = now, reason
            _commit_bookkeeping()
        g.session_ended = True
        return None
    if now - user_session.last_seen_at >= TOUCH_INTERVAL:
        user_session.last_seen_at = now
        _commit_bookkeeping()
    return user


def _commit_bookkeeping() -> None:
    """Session bookkeeping on a read-only request is best effort: under a burst of writers
    SQLite may refuse it, and the next request simply does it again."""
    try:
        db.session.commit()
    except OperationalError:
        db.session.rollback()


def _check_session() -> None:
    if request.endpoint == "static" or "sid" not in session:
        return
    current_user._get_current_object()  # runs _load_user before the view does anything
    if g.pop("session_ended", False):
        locale = session.get("lang")
        session.clear()
        if locale:
            session["lang"] = locale
        flash(_("Your session has ended. Please sign in again."), "info")


def init_login_manager(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.user_loader(_load_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # the server-side session row does this job
    app.before_request(_check_session)
