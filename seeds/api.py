"""A demo API client, so the API can be tried at once with a known token (like the demo
passwords, it is for the demo ministry only)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms.api.clients import SCOPES, create_client, hash_token
from lms.api.models import ApiClient

DEMO_CLIENT = "Hệ thống quản lý nhân sự (demo)"
DEMO_TOKEN = "lms_demo-hocvuso2025-chi-dung-cho-du-lieu-mau"


def seed_api_client(dbs: Session) -> str:
    """The demo client (made once) and its token."""
    exists = dbs.scalar(select(ApiClient.id).where(ApiClient.token_sha256 == hash_token(DEMO_TOKEN)))
    if exists is None:
        client, _token = create_client(dbs, None, DEMO_CLIENT, list(SCOPES))
        client.token_sha256, client.token_prefix = hash_token(DEMO_TOKEN), DEMO_TOKEN[:10]
        dbs.flush()
    return DEMO_TOKEN
