"""Certificates as signed machine-readable credentials (Open Badges 3.0 / W3C VC 2.0).

``credential_for(certificate, base_url)`` gives a certificate as an ``OpenBadgeCredential``
in the Verifiable Credentials 2.0 data model, secured by an embedded Data Integrity proof
with the ``eddsa-jcs-2022`` cryptosuite (W3C "Data Integrity EdDSA Cryptosuites v1.0"),
made with the platform's Ed25519 key (``lms.certificates.keys``). It is served at
``/certificates/<code>/credential.json``; the public keys at ``/.well-known/lms-keys.json``.

The proof, exactly as the cryptosuite specifies:

- the proof configuration is the proof without ``proofValue``, with the document's
  ``@context``; the document is the credential without ``proof``;
- both are canonicalised with JCS (RFC 8785). For the values a credential holds here
  (strings, integers, booleans, nested objects and lists, ASCII keys; no floats: hours are
  written as text) ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
  encoded as UTF-8 is byte-for-byte JCS; ``canonical_json`` refuses floats to keep it so;
- ``sha256(JCS(proof configuration)) || sha256(JCS(document))`` is signed with Ed25519;
- ``proofValue`` is the 64-byte signature in multibase base58btc (``"z"`` + base58).

The credential is deterministic: the same certificate and key always give the same bytes
(Ed25519 signatures are deterministic and the proof's ``created`` is the issue time).

Revocation is checked online: ``credentialStatus`` names the credential's own URL, which
answers 200 with the credential while it stands and 410 Gone with
``{"status": "revoked" | "superseded", ...}`` once it was revoked or replaced by a reissue;
the human-readable verify page is the credential's ``id``. Expiry needs no look-up:
``validUntil`` is in the signed credential.

Verifying in another system, offline once the key set is fetched (Python, ``cryptography``)::

    import base64, hashlib, json, urllib.request
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    def jcs(value):  # JCS for JSON without floats
        return json.dumps(value, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()

    keys = json.load(urllib.request.urlopen("https://lms.example/.well-known/lms-keys.json"))
    with open("credential.json", encoding="utf-8") as fh:
        credential = json.load(fh)
    proof = dict(credential.pop("proof"))
    signature_b58 = proof.pop("proofValue")[1:]          # drop the multibase "z"
    signature = sum(B58.index(c) * 58 ** i
                    for i, c in enumerate(reversed(signature_b58))).to_bytes(64, "big")
    kid = proof["verificationMethod"].rsplit("#", 1)[1]
    jwk = next(k for k in keys["keys"] if k["kid"] == kid)
    key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="))
    key.verify(signature, hashlib.sha256(jcs(proof)).digest()
               + hashlib.sha256(jcs(credential)).digest())   # raises InvalidSignature

(``verify_credential`` below does the same with every check the cryptosuite asks for.)
"""
from __future__ import annotations

import copy
import hashlib
import json
import uuid
from datetime import datetime, timezone
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import current_app
from flask_babel import force_locale, format_decimal
from flask_babel import gettext as _

from lms.certificates.keys import SigningKey, key_ring
from lms.certificates.models import Certificate, CertificateTemplate
from lms.certificates.register import REGISTER_TIMEZONE

CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]
PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_PURPOSE = "assertionMethod"
STATUS_TYPE = "LmsCredentialStatus"
KEYS_PATH = "/.well-known/lms-keys.json"

# What the certificate prints when it has no template of its own (the column's default).
DEFAULT_ISSUER_NAME: str = CertificateTemplate.__table__.c.issuer_name.default.arg
BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


# --- encodings ---------------------------------------------------------------------------

def _refuse_floats(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("floats are not canonicalised here: write the number as text or an integer")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("object keys must be strings")
            _refuse_floats(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _refuse_floats(item)


def canonical_json(value: Any) -> bytes:
    """JCS (RFC 8785) bytes of ``value``, which holds no floats (refused with TypeError).

    Without floats JCS differs from sorted compact JSON only in how keys are ordered
    (UTF-16 code units, not code points): the same for every key below U+E000, so for
    all keys here.
    """
    _refuse_floats(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def base58_encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, rest = divmod(number, 58)
        digits.append(BASE58_ALPHABET[rest])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def base58_decode(text: str) -> bytes:
    number = 0
    for char in text:
        index = BASE58_ALPHABET.find(char)
        if index < 0:
            raise ValueError("not base58")
        number = number * 58 + index
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def multibase_base58btc(data: bytes) -> str:
    return "z" + base58_encode(data)


def iso_utc(moment: datetime) -> str:
    """A dateTimeStamp: UTC, whole seconds, ``Z``."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the credential -----------------------------------------------------------------------

def verify_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/verify/{code}"


def credential_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/certificates/{code}/credential.json"


def keys_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}{KEYS_PATH}"


def _hours_text(hours: float | None) -> str:
    value = round(float(hours or 0), 2)
    return format_decimal(value, format="#,##0.##")


def unsigned_credential(certificate: Certificate, base_url: str,
                        issuer_name: str | None = None) -> dict[str, Any]:
    """The credential's content, from the values printed on the certificate.

    Wording is in the platform's default language (``LMS_DEFAULT_LOCALE``) and dates are
    the register's (Hanoi) as printed, whatever the request's, so a certificate's
    credential does not change with who asks.
    """
    base_url = base_url.rstrip("/")
    if issuer_name is None:
        template = certificate.template
        issuer_name = (template.issuer_name if template is not None and template.issuer_name
                       else DEFAULT_ISSUER_NAME)
    locale = current_app.config.get("BABEL_DEFAULT_LOCALE", "vi")
    with force_locale(locale):
        hours = _hours_text(certificate.hours)
        completed = certificate.completed_at.astimezone(REGISTER_TIMEZONE).date().isoformat()
        name = _("Certificate %(serial)s: %(course)s", serial=certificate.serial,
                 course=certificate.course_title)
        description = _("Certificate of completion of the course “%(course)s” (%(hours)s "
                        "hours), issued by %(issuer)s.", course=certificate.course_title,
                        hours=hours, issuer=issuer_name)
        narrative = _("Completed the online course “%(course)s” (%(hours)s hours): every "
                      "lesson and every required quiz, on %(date)s.",
                      course=certificate.course_title, hours=hours, date=completed)
    credential: dict[str, Any] = {
        "@context": list(CONTEXT),
        "id": verify_url(base_url, certificate.code),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": name,
        "issuer": {"id": base_url, "type": ["Profile"], "name": issuer_name},
        "validFrom": iso_utc(certificate.issued_at),
    }
    if certificate.expires_at is not None:
        credential["validUntil"] = iso_utc(certificate.expires_at)
    credential["credentialSubject"] = {
        "type": ["AchievementSubject"],
        "name": certificate.full_name,
        # Open Badges asks for an id or an identifier: the name as printed, in clear.
        "identifier": [{"type": "IdentityObject", "identityType": "name", "hashed": False,
                        "identityHash": certificate.full_name}],
        "activityEndDate": iso_utc(certificate.completed_at),
        "achievement": {
            # Stable whatever the course's address becomes; a name, not a page.
            "id": "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL,
                                               f"{base_url}/courses/{certificate.course_id}")),
            "type": ["Achievement"],
            "achievementType": "CertificateOfCompletion",
            "name": certificate.course_title,
            "description": description,
            "criteria": {"narrative": narrative},
            "inLanguage": locale,
        },
    }
    credential["credentialStatus"] = {"id": credential_url(base_url, certificate.code),
                                      "type": STATUS_TYPE}
    return credential


def _hash_data(proof_config: Mapping[str, Any], document: Mapping[str, Any]) -> bytes:
    return (hashlib.sha256(canonical_json(proof_config)).digest()
            + hashlib.sha256(canonical_json(document)).digest())


def sign(document: Mapping[str, Any], key: SigningKey, verification_method: str,
         created: datetime) -> dict[str, Any]:
    """``document`` with an ``eddsa-jcs-2022`` Data Integrity proof added."""
    unsecured = copy.deepcopy(dict(document))
    unsecured.pop("proof", None)
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": iso_utc(created),
        "verificationMethod": verification_method,
        "proofPurpose": PROOF_PURPOSE,
    }
    if "@context" in unsecured:
        proof["@context"] = copy.deepcopy(unsecured["@context"])
    signature = key.private_key.sign(_hash_data(proof, unsecured))
    proof["proofValue"] = multibase_base58btc(signature)
    return {**unsecured, "proof": proof}


def credential_for(certificate: Certificate, base_url: str,
                   key: SigningKey | None = None) -> dict[str, Any]:
    """The certificate as a signed Open Badges 3.0 credential (see the module docstring).

    Signed with ``key``, by default the platform's current key; its ``verificationMethod``
    is ``<base_url>/.well-known/lms-keys.json#<kid>``.
    """
    key = key or key_ring().current
    document = unsigned_credential(certificate, base_url)
    return sign(document, key, f"{keys_url(base_url)}#{key.kid}", certificate.issued_at)


def verify_credential(credential: Mapping[str, Any],
                      public_keys: Mapping[str, Ed25519PublicKey]) -> bool:
    """Whether ``credential`` carries a valid ``eddsa-jcs-2022`` proof by one of ``public_keys``
    (key id -> key, e.g. from the published key set).

    Pure: checks the signature over every byte of the content, nothing else (not the
    validity period and not revocation, which the caller decides on).
    """
    try:
        proof = credential.get("proof")
        if not isinstance(proof, dict):
            return False
        if (proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE
                or proof.get("proofPurpose") != PROOF_PURPOSE):
            return False
        proof_value = proof.get("proofValue")
        method = proof.get("verificationMethod")
        if not isinstance(proof_value, str) or not proof_value.startswith("z"):
            return False
        if not isinstance(method, str) or "#" not in method:
            return False
        public_key = public_keys.get(method.rsplit("#", 1)[1])
        if public_key is None:
            return False
        signature = base58_decode(proof_value[1:])
        if len(signature) != 64:
            return False
        unsecured = {name: value for name, value in credential.items() if name != "proof"}
        options = {name: value for name, value in proof.items() if name != "proofValue"}
        if "@context" in options:
            # The proof's context must be where the document's begins (and then stands for it).
            context = options["@context"]
            document_context = unsecured.get("@context")
            if not isinstance(context, list) or not isinstance(document_context, list):
                if context != document_context:
                    return False
            elif document_context[:len(context)] != context:
                return False
            unsecured["@context"] = context
        public_key.verify(signature, _hash_data(options, unsecured))
        return True
    except (InvalidSignature, ValueError, TypeError, AttributeError, KeyError):
        return False
