"""Who may see the scheduler and the e-mail outbox (every job, every person's e-mail)."""
from __future__ import annotations

from typing import Any

from lms.auth.permissions import is_admin


def can_watch_scheduler(user: Any) -> bool:
    """The scheduler's jobs and runs, the outbox, and retrying failed e-mails: admins only."""
    return is_admin(user)
