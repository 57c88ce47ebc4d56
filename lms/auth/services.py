"""Sign-in checks, lockout and password changes."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import current_app
from flask_babel import format_time
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lms.audit.services import record
from lms.auth.passwords import check_password_policy, hash_password, needs_rehash, verify_password
from lms.auth.sessions import end_all_sessions
from lms.db import utcnow
from lms.errors import DomainError
from lms.org.models import User
from lms.text import clean

log = logging.getLogger(__name__)


class SignInError(DomainError):
    """Sign-in refused; the message says why in words safe to show."""


def find_by_login(dbs: Session, identifier: str) -> User | None:
    """The person whose e-mail or employee code is ``identifier`` (any letter case)."""
    identifier = clean(identifier).lower()
    if not identifier:
        return None
    return dbs.scalar(select(User).where(
        or_(User.email == identifier, func.lower(User.employee_code) == identifier)
    ))


def authenticate(dbs: Session, identifier: str, password: str) -> User:
    """Check a sign-in; counts failures and locks the account after too many.

    The caller commits in every case, so failures are remembered.
    """
    user = find_by_login(dbs, identifier)
    now = utcnow()
    if user is not None and user.locked_until and user.locked_until > now:
        raise SignInError(_(
            "This account is locked after too many failed sign-ins. Try again after "
            "%(time)s, or ask an administrator to unlock it.", time=format_time(user.locked_until)))
    if user is None or not verify_password(user.password_hash, password):
        if user is not None:
            _count_failure(dbs, user)
        raise SignInError(_("The e-mail/employee code or the password is wrong."))
    if not user.is_active:
        raise SignInError(_("This account has been deactivated. Please contact your "
                            "unit's administrator."))
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    log.info("user %s signed in", user.id)
    return user


def _count_failure(dbs: Session, user: User) -> None:
    cfg = current_app.config
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= cfg["LOGIN_MAX_FAILURES"]:
        user.failed_logins = 0
        user.locked_until = utcnow() + timedelta(minutes=cfg["LOGIN_LOCK_MINUTES"])
        record(dbs, None, "account.locked", user)
        log.warning("user %s locked after repeated failed sign-ins", user.id)


def change_own_password(dbs: Session, user: User, current: str, new: str) -> None:
    """A person changes their own password; every session of theirs ends."""
    if not verify_password(user.password_hash, current):
        raise DomainError(_("Your current password is not correct."), field="current_password")
    if current == new:
        raise DomainError(_("The new password must differ from the current one."),
                          field="new_password")
    check_password_policy(new, email=user.email, employee_code=user.employee_code)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    end_all_sessions(dbs, user.id, "password_changed")
    record(dbs, user, "password.changed", user)


def set_temporary_password(dbs: Session, actor: Any, person: User, password: str) -> None:
    """An admin sets a password the person must change at their next sign-in."""
    check_password_policy(password, email=person.email, employee_code=person.employee_code)
    person.password_hash = hash_password(password)
    person.must_change_password = True
    person.failed_logins = 0
    person.locked_until = None
    end_all_sessions(dbs, person.id, "password_reset")
    record(dbs, actor, "password.reset", person)


def unlock(dbs: Session, actor: Any, person: User) -> None:
    person.failed_logins = 0
    person.locked_until = None
    record(dbs, actor, "account.unlocked", person)
