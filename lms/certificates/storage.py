"""Certificate files (PDFs, logo and seal images): stored once by content.

Files live under the instance folder as ``certificates/ab/abcdef…`` (their sha256), like
course media; the certificate row records the sha256, and downloads are served from here,
never rendered again.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from flask import current_app


def storage_root(area: str = "certificates") -> Path:
    """The folder of one kind of stored file (certificates, decisions) in the instance."""
    return Path(current_app.instance_path) / area


def path_for(sha256: str, area: str = "certificates") -> Path:
    """Where the file with this sha256 is (or would be) stored."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256 hex digest")
    return storage_root(area) / sha256[:2] / sha256


def store_bytes(data: bytes, area: str = "certificates") -> str:
    """Store ``data`` by content (atomically, once) and return its sha256."""
    sha = hashlib.sha256(data).hexdigest()
    target = path_for(sha, area)
    if target.exists():
        return sha
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return sha


def store_pdf(data: bytes) -> str:
    """Store a rendered certificate PDF; returns its sha256."""
    if not data.startswith(b"%PDF-"):
        raise ValueError("not a PDF")
    return store_bytes(data)


def read_bytes(sha256: str) -> bytes | None:
    """The stored file's content, or None when it is not (or no longer) there."""
    path = path_for(sha256)
    return path.read_bytes() if path.is_file() else None
