"""Absolute links (e-mails, QR codes, printed sheets) come from LMS_BASE_URL.

Never from the request's Host header, which a client controls: a forged Host must
not be able to plant its own address in a password e-mail or a certificate's QR code.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for


def external_url(endpoint: str, **values: Any) -> str:
    """``url_for`` made absolute with the configured base URL, in a request or outside one
    (CLI commands, background jobs, the scheduler)."""
    base = current_app.config["BASE_URL"]
    script_root = current_app.config.get("APPLICATION_ROOT") or "/"
    if has_request_context():
        path = url_for(endpoint, _external=False, **values)
    else:
        path = current_app.url_map.bind("localhost", script_name=script_root).build(endpoint, values)
    if script_root != "/" and path.startswith(script_root):
        path = path[len(script_root.rstrip("/")):]
    return f"{base}{path}"


def local_path(link: str | None) -> str | None:
    """``link`` if it is a path on this site ("/help/3"), else None: a redirect taken from
    a form, a query string or a notification never leads to another site (no "//host", no
    scheme, no backslash tricks)."""
    if not link or not link.startswith("/") or link.startswith("//"):
        return None
    if "\\" in link or any(ord(ch) < 32 or ord(ch) == 127 for ch in link):
        return None
    parts = urlsplit(link)
    if parts.scheme or parts.netloc:
        return None
    return link
