"""Password hashing (argon2id) and the password policy."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _

from lms.errors import DomainError

COMMON_PASSWORDS = {
    "1234567890", "12345678910", "0123456789", "password123", "matkhau123", "abc1234567",
    "qwertyuiop", "1qaz2wsx3edc", "administrator", "bongoaigiao", "abcd@12345",
}


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(time_cost=cfg["ARGON2_TIME_COST"], memory_cost=cfg["ARGON2_MEMORY_KIB"])


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; an absent or damaged hash never matches."""
    if not password_hash:
        # Spend the same effort as a real check, so timing does not reveal unknown accounts.
        _hasher().hash(password)
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def check_password_policy(password: str, *, email: str = "", employee_code: str = "") -> None:
    """Raise DomainError when a new password is too weak to accept."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise DomainError(_("The password must be at least %(n)d characters long.", n=minimum))
    if not any(ch.isalpha() for ch in password) or not any(ch.isdigit() for ch in password):
        raise DomainError(_("The password must contain both letters and digits."))
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS:
        raise DomainError(_("This password is too common. Choose another one."))
    for own in (email.lower(), email.split("@")[0].lower(), employee_code.lower()):
        if len(own) >= 4 and own in lowered:  # shorter parts match by chance
            raise DomainError(_("The password must not contain your e-mail or employee code."))
