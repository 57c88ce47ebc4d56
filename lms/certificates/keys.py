"""The platform's Ed25519 keys that sign certificate credentials.

The current key signs every credential handed out. It is read from
``LMS_CREDENTIAL_KEY_FILE`` when that is set (a PEM file the operator provides; a missing
file is an error, never silently replaced by a new key), otherwise from
``<instance>/credential_key.pem``, generated on first use like the secret key (PKCS#8 PEM,
file mode 0600).

Every key is published at ``/.well-known/lms-keys.json`` as a JSON Web Key Set. Its key id
(``kid``) is the key's RFC 7638 JWK thumbprint (base64url SHA-256 of the public key's
canonical JWK), so anyone can recompute it from the published ``x``.

Rotation, kept simple: move the old key file aside (e.g. to
``instance/credential_key.2026.pem``), list it in ``LMS_CREDENTIAL_RETIRED_KEY_FILES``
(comma-separated paths; a PEM private or public key each) and restart. A new current key is
then generated (or point ``LMS_CREDENTIAL_KEY_FILE`` at a new one); the retired keys stay in
the published set, so credentials signed before the rotation keep verifying offline.
Drop a retired key from the list only to make its credentials fail on purpose (a key that
leaked).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import Flask, current_app

from lms.config import ConfigError

KEY_FILE_NAME = "credential_key.pem"
_EXTENSION = "lms.credential_keys"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """The RFC 7638 thumbprint of the key's JWK: members crv, kty, x in that (sorted) order."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": b64url(raw_public_bytes(public_key))},
                           separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The public key as a JWK (RFC 8037 OKP key, for EdDSA signatures)."""
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw_public_bytes(public_key)),
            "kid": key_id(public_key), "use": "sig", "alg": "EdDSA"}


def public_key_from_jwk(jwk: dict[str, Any]) -> Ed25519PublicKey:
    """The key back from a published JWK (what a verifying system does with the key set)."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 key")
    return Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    kid: str

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @classmethod
    def of(cls, private_key: Ed25519PrivateKey) -> SigningKey:
        return cls(private_key, key_id(private_key.public_key()))


@dataclass(frozen=True)
class KeyRing:
    """The key that signs now and every key still published (the current one first)."""

    current: SigningKey
    retired: tuple[Ed25519PublicKey, ...] = field(default=())

    @property
    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        keys = {self.current.kid: self.current.public_key}
        for key in self.retired:
            keys.setdefault(key_id(key), key)
        return keys

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [public_jwk(key) for key in self.public_keys.values()]}


def _pem_private_key(data: bytes, path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 private key")
    return key


def load_or_create_private_key(path: Path, create: bool = True) -> Ed25519PrivateKey:
    """The private key in ``path``; when absent and ``create``, a new one written there.

    The file appears atomically (written aside, then hard-linked into place), so workers
    starting together agree on one key: whoever links second reads the winner's key.
    """
    try:
        return _pem_private_key(path.read_bytes(), path)
    except FileNotFoundError:
        if not create:
            raise ConfigError(f"the credential signing key {path} does not exist") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _pem_private_key(path.read_bytes(), path)
    finally:
        temporary.unlink(missing_ok=True)
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A retired key: a PEM public key, or a private key whose public half is published."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"the retired credential key {path} does not exist") from None
    if b"PRIVATE KEY" in data:
        return _pem_private_key(data, path).public_key()
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path} is not an Ed25519 public key")
    return key


def _paths(value: str | Iterable[str] | None) -> list[Path]:
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [Path(item.strip()) for item in items if str(item).strip()]


def load_key_ring(instance_path: str | Path, key_file: str | None = None,
                  retired_files: str | Iterable[str] | None = None) -> KeyRing:
    """Read (or on first use create) the keys from the files the settings name."""
    if key_file:
        private_key = load_or_create_private_key(Path(key_file), create=False)
    else:
        private_key = load_or_create_private_key(Path(instance_path) / KEY_FILE_NAME)
    retired = tuple(load_public_key(path) for path in _paths(retired_files))
    return KeyRing(SigningKey.of(private_key), retired)


def key_ring(app: Flask | None = None) -> KeyRing:
    """The app's keys, read once per process (``LMS_CREDENTIAL_KEY_FILE``,
    ``LMS_CREDENTIAL_RETIRED_KEY_FILES``, else the instance folder)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    ring = app.extensions.get(_EXTENSION)
    if ring is None:
        ring = load_key_ring(app.instance_path, app.config.get("CREDENTIAL_KEY_FILE"),
                             app.config.get("CREDENTIAL_RETIRED_KEY_FILES"))
        app.extensions[_EXTENSION] = ring
    return ring
