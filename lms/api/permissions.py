"""Who may manage the API's clients (tokens that read and change the ministry's data)."""
from __future__ import annotations

from typing import Any

from lms.auth.permissions import is_admin


def can_manage_api_clients(user: Any) -> bool:
    """Creating, changing, rotating and revoking API clients, and reading their call logs:
    admins only (a client can read every unit or change the organisation)."""
    return is_admin(user)


def can_manage_webhooks(user: Any) -> bool:
    """Registering webhook endpoints, seeing their signing secrets once, their deliveries
    (which carry people's data) and sending a delivery again: admins only."""
    return is_admin(user)
