"""Settings, read only from LMS_* environment variables.

Every setting has a safe default for a first run on one machine; nothing insecure
is ever a fallback (the secret key is generated once and kept in the instance folder).
"""
from __future__ import annotations

import os
import secrets
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Mapping


class ConfigError(RuntimeError):
    """A setting has a value the platform cannot run with."""


def _env(environ: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = environ.get(f"LMS_{name}")
    return value if value not in (None, "") else default


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = _env(environ, name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"LMS_{name} must be a whole number, got {raw!r}") from exc


def _bool(environ: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = _env(environ, name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def instance_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(_env(environ, "INSTANCE_PATH", str(Path.cwd() / "instance"))).resolve()


def _secret_key(environ: Mapping[str, str], folder: Path) -> str:
    key = _env(environ, "SECRET_KEY")
    if key:
        if len(key) < 32:
            raise ConfigError("LMS_SECRET_KEY must be at least 32 characters long")
        return key
    key_file = folder / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _certificate_prefix(environ: Mapping[str, str]) -> str:
    prefix = (_env(environ, "CERTIFICATE_PREFIX", "BNG") or "BNG").strip().upper()
    if not (1 <= len(prefix) <= 20 and prefix.isascii() and prefix.isalnum()):
        raise ConfigError(f"LMS_CERTIFICATE_PREFIX must be 1-20 letters or digits, got {prefix!r}")
    return prefix


def _holidays(environ: Mapping[str, str]) -> frozenset[date]:
    """Public holidays (not working days) besides weekends: LMS_HOLIDAYS=2026-09-02,2027-02-16"""
    days = set()
    for raw in (_env(environ, "HOLIDAYS", "") or "").replace(";", ",").split(","):
        if raw.strip():
            try:
                days.add(date.fromisoformat(raw.strip()))
            except ValueError as exc:
                raise ConfigError(f"LMS_HOLIDAYS must list dates as YYYY-MM-DD, got {raw!r}") from exc
    return frozenset(days)


def _smtp_tls(environ: Mapping[str, str]) -> str:
    mode = (_env(environ, "SMTP_TLS", "none") or "none").strip().lower()
    if mode not in {"none", "starttls", "ssl"}:
        raise ConfigError(f"LMS_SMTP_TLS must be none, starttls or ssl, got {mode!r}")
    return mode


def load_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config from the environment (``os.environ`` by default)."""
    environ = os.environ if environ is None else environ
    folder = instance_path(environ)
    https = _bool(environ, "HTTPS")
    database_url = _env(environ, "DATABASE_URL", f"sqlite:///{folder / 'lms.db'}")
    return {
        "INSTANCE_PATH": str(folder),
        "SECRET_KEY": _secret_key(environ, folder),
        "DATABASE_URL": database_url,
        "BASE_URL": (_env(environ, "BASE_URL", "http://127.0.0.1:5000") or "").rstrip("/"),
        "HTTPS": https,
        "SQLITE_BUSY_TIMEOUT_MS": _int(environ, "SQLITE_BUSY_TIMEOUT_MS", 15000),
        # Sessions: idle timeout and absolute lifetime, both enforced on the server.
        "SESSION_IDLE_MINUTES": _int(environ, "SESSION_IDLE_MINUTES", 8 * 60),
        "SESSION_MAX_HOURS": _int(environ, "SESSION_MAX_HOURS", 24),
        "SESSION_COOKIE_NAME": "lms_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=_int(environ, "SESSION_MAX_HOURS", 24)),
        # Sign-in throttling: per account (in the database) and per client address.
        "LOGIN_MAX_FAILURES": _int(environ, "LOGIN_MAX_FAILURES", 5),
        "LOGIN_LOCK_MINUTES": _int(environ, "LOGIN_LOCK_MINUTES", 15),
        "LOGIN_RATE_LIMIT": _env(environ, "LOGIN_RATE_LIMIT", "30 per minute;300 per hour"),
        "RATELIMIT_STORAGE_URI": _env(environ, "RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Trust X-Forwarded-For from this many proxies (0 when the app faces clients directly).
        "PROXY_COUNT": _int(environ, "PROXY_COUNT", 0),
        "MAX_CONTENT_LENGTH": _int(environ, "MAX_REQUEST_MB", 32) * 1024 * 1024,
        "MAX_IMPORT_BYTES": _int(environ, "MAX_IMPORT_MB", 5) * 1024 * 1024,
        "MEDIA_PATH": _env(environ, "MEDIA_PATH", str(folder / "media")),
        "MAX_MEDIA_BYTES": _int(environ, "MAX_MEDIA_MB", 50) * 1024 * 1024,
        "MAX_VIDEO_BYTES": _int(environ, "MAX_VIDEO_MB", 500) * 1024 * 1024,
        "MAX_PACKAGE_BYTES": _int(environ, "MAX_PACKAGE_MB", 1024) * 1024 * 1024,
        "PASSWORD_MIN_LENGTH": _int(environ, "PASSWORD_MIN_LENGTH", 10),
        # Certificates: the register's prefix (BNG-2026-000123) and the public verify page's limit.
        "CERTIFICATE_PREFIX": _certificate_prefix(environ),
        "VERIFY_RATE_LIMIT": _env(environ, "VERIFY_RATE_LIMIT", "30 per minute"),
        "CREDENTIAL_KEY_FILE": _env(environ, "CREDENTIAL_KEY_FILE"),
        "CERTIFICATE_JOB_RUNNER": (_env(environ, "CERTIFICATE_JOB_RUNNER", "thread") or "thread").lower(),
        "CERTIFICATE_WORKERS": _int(environ, "CERTIFICATE_WORKERS", 0),  # 0: one per core
        "MAX_CERTIFICATE_IMAGE_BYTES": _int(environ, "MAX_CERTIFICATE_IMAGE_MB", 2) * 1024 * 1024,
        "CREDENTIAL_RETIRED_KEY_FILES": _env(environ, "CREDENTIAL_RETIRED_KEY_FILES", ""),
        # Assignments: people who join a targeted unit late get at least this many days.
        "NEWCOMER_DAYS": _int(environ, "NEWCOMER_DAYS", 30),
        # The public movement page's figures are recomputed at most this often (per process).
        "MOVEMENT_CACHE_SECONDS": _int(environ, "MOVEMENT_CACHE_SECONDS", 300),
        "MAX_DECISION_BYTES": _int(environ, "MAX_DECISION_MB", 10) * 1024 * 1024,
        # Mentoring: a mentee with open training and no activity for this many days needs help;
        # a help request unanswered for this many working days goes to the unit's other mentors.
        "MENTOR_INACTIVE_DAYS": _int(environ, "MENTOR_INACTIVE_DAYS", 14),
        "HELP_ESCALATION_WORKING_DAYS": _int(environ, "HELP_ESCALATION_WORKING_DAYS", 2),
        "HOLIDAYS": _holidays(environ),
        # E-mail: sent from the outbox by the scheduler over SMTP (no host: nothing is sent and
        # the outbox says why). TLS: none | starttls | ssl.
        "SMTP_HOST": _env(environ, "SMTP_HOST", "") or "",
        "SMTP_PORT": _int(environ, "SMTP_PORT", 25),
        "SMTP_USER": _env(environ, "SMTP_USER", "") or "",
        "SMTP_PASSWORD": _env(environ, "SMTP_PASSWORD", "") or "",
        "SMTP_TLS": _smtp_tls(environ),
        "SMTP_TIMEOUT": _int(environ, "SMTP_TIMEOUT", 10),
        "MAIL_FROM": _env(environ, "MAIL_FROM", "Bình dân học vụ số <no-reply@localhost>"),
        "EMAIL_MAX_TRIES": _int(environ, "EMAIL_MAX_TRIES", 8),
        # API: calls per token (flask-limiter syntax); webhooks: attempts and wait per attempt.
        "API_RATE_LIMIT": _env(environ, "API_RATE_LIMIT", "600 per minute"),
        "API_CALL_LOG_DAYS": _int(environ, "API_CALL_LOG_DAYS", 180),
        "WEBHOOK_MAX_TRIES": _int(environ, "WEBHOOK_MAX_TRIES", 10),
        "WEBHOOK_TIMEOUT": _int(environ, "WEBHOOK_TIMEOUT", 10),
        "BABEL_DEFAULT_LOCALE": _env(environ, "DEFAULT_LOCALE", "vi"),
        "BABEL_DEFAULT_TIMEZONE": _env(environ, "DEFAULT_TIMEZONE", "Asia/Ho_Chi_Minh"),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the (server-checked) session
        "LOG_LEVEL": (_env(environ, "LOG_LEVEL", "INFO") or "INFO").upper(),
        # Operations: log lines as JSON (one per request) or text; Prometheus metrics at
        # /metrics when enabled (with a bearer token when one is set); the scheduler counts as
        # down for /readyz when its heartbeat is older than this; where `lms backup` writes.
        "LOG_FORMAT": (_env(environ, "LOG_FORMAT", "text") or "text").lower(),
        "METRICS_ENABLED": _bool(environ, "METRICS"),
        "METRICS_TOKEN": _env(environ, "METRICS_TOKEN", "") or "",
        "SCHEDULER_STALE_SECONDS": _int(environ, "SCHEDULER_STALE_SECONDS", 180),
        "BACKUP_PATH": _env(environ, "BACKUP_PATH", str(folder / "backups")),
        "PAGE_SIZE": _int(environ, "PAGE_SIZE", 50),
        # argon2id cost; tests lower it, production keeps the library's defaults.
        "ARGON2_TIME_COST": _int(environ, "ARGON2_TIME_COST", 3),
        "ARGON2_MEMORY_KIB": _int(environ, "ARGON2_MEMORY_KIB", 65536),
    }
