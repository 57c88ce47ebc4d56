from typing import Any

from lms.auth.permissions import is_admin


def can_view_audit_log(user: Any) -> bool:
    """The audit log names people and actions across the whole ministry: admins only."""
    return is_admin(user)
