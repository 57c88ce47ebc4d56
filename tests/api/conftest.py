"""API fixtures: clients with tokens, and a caller that sends the token."""
from __future__ import annotations

from typing import Any

import pytest

from lms.api.clients import create_client


class Api:
    """Calls /api/v1 with a bearer token, as another system would."""

    def __init__(self, client, token: str | None = None, language: str = "en") -> None:
        self.client = client
        self.token = token
        self.language = language

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        headers = {"Accept-Language": self.language, **extra}
        token = token if token is not None else self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def get(self, path: str, token: str | None = None, **kwargs: Any):
        return self.client.get("/api/v1" + path, headers=self.headers(token), **kwargs)

    def post(self, path: str, json: Any = None, token: str | None = None, **kwargs: Any):
        return self.client.post("/api/v1" + path, json=json, headers=self.headers(token), **kwargs)

    def pages(self, path: str, token: str | None = None) -> list[dict[str, Any]]:
        """Every item of a paginated list, following links.next (which carries the cursor)."""
        items: list[dict[str, Any]] = []
        url = "/api/v1" + path
        for _ in range(1000):
            response = self.client.get(url, headers=self.headers(token))
            assert response.status_code == 200, response.get_json()
            body = response.get_json()
            items.extend(body["data"])
            if body["next_cursor"] is None:
                assert body["links"]["next"] is None
                return items
            assert f"cursor={body['next_cursor']}" in body["links"]["next"]
            url = body["links"]["next"]
        raise AssertionError("pagination did not end")


@pytest.fixture()
def new_token(dbs):
    """``new_token(scopes, unit=None, name=...)`` -> a fresh client's token."""
    def make(scopes: tuple[str, ...] | list[str] = ("progress:read",), unit=None,
             name: str = "Hệ thống nhân sự") -> str:
        _client, token = create_client(dbs, None, name, list(scopes),
                                       unit.id if unit is not None else None)
        dbs.flush()
        return token
    return make


@pytest.fixture()
def api(client) -> Api:
    return Api(client)
