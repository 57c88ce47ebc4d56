"""Signed machine-readable credentials: another system checks a certificate offline with the
key published at the well-known address."""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import secrets
import stat
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lms import create_app
from lms.certificates import keys as keyring
from lms.certificates import services
from lms.certificates.credentials import (
    base58_decode,
    base58_encode,
    canonical_json,
    credential_for,
    multibase_base58btc,
    verify_credential,
)
from lms.certificates.keys import SigningKey, key_ring, load_key_ring, public_key_from_jwk
from lms.certificates.models import Certificate
from lms.config import ConfigError
from lms.courses import services as learning
from lms.courses.queries import course_outline
from tests.conftest import app_settings

NAME = "Nguyễn Thị Hồng Nhung"
COURSE = "Kỹ năng số cơ bản cho cán bộ, công chức"


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture()
def certify(dbs, factory):
    """A learner completes a course and receives its certificate through the issuing service."""
    def make(name: str = NAME, estimated_minutes: int = 240, **fields) -> Certificate:
        learner = factory.person(name=name)
        course = factory.course(title=COURSE, lessons=1, estimated_minutes=estimated_minutes)
        enrolment = None
        for lesson in course_outline(dbs, course, None).lessons:
            enrolment = learning.complete_lesson(dbs, learner, lesson)
        # Completion issues it (the course_completed receiver); this returns that one.
        certificate = services.issue_for_enrolment(dbs, enrolment, render=False)
        for field, value in fields.items():
            setattr(certificate, field, value)
        dbs.flush()
        return certificate
    return make


def published_keys(client) -> dict[str, Ed25519PublicKey]:
    response = client.get("/.well-known/lms-keys.json")
    assert response.status_code == 200
    return {jwk["kid"]: public_key_from_jwk(jwk) for jwk in response.get_json()["keys"]}


def fetch(client, certificate: Certificate) -> dict:
    response = client.get(f"/certificates/{certificate.code}/credential.json")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True))


def test_the_credential_verifies_with_the_key_from_the_well_known_address(app, client, certify):
    certificate = certify()
    credential = fetch(client, certificate)
    base = app.config["BASE_URL"]

    assert verify_credential(credential, published_keys(client))
    assert credential["@context"] == ["https://www.w3.org/ns/credentials/v2",
                                      "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["id"] == f"{base}/verify/{certificate.code}"
    assert credential["id"] == services.verify_url(certificate.code)  # the QR code's address
    assert credential["issuer"]["type"] == ["Profile"] and credential["issuer"]["name"]
    assert credential["validFrom"] == stamp(certificate.issued_at) and "validUntil" not in credential
    subject = credential["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    assert subject["name"] == NAME  # every diacritic, as printed
    assert subject["achievement"]["name"] == COURSE
    assert subject["achievement"]["type"] == ["Achievement"]
    assert subject["achievement"]["criteria"]["narrative"]
    assert credential["credentialStatus"]["id"] == (
        f"{base}/certificates/{certificate.code}/credential.json")
    proof = credential["proof"]
    assert proof["type"] == "DataIntegrityProof" and proof["cryptosuite"] == "eddsa-jcs-2022"
    assert proof["proofPurpose"] == "assertionMethod" and proof["created"] == stamp(certificate.issued_at)
    assert proof["verificationMethod"].startswith(f"{base}/.well-known/lms-keys.json#")
    assert proof["proofValue"].startswith("z") and len(base58_decode(proof["proofValue"][1:])) == 64


def test_another_system_verifies_with_json_hashlib_and_an_ed25519_library(client, certify):
    """The recipe in the module docstring, done by hand: nothing of ours but the two URLs."""
    credential = fetch(client, certify())
    jwks = client.get("/.well-known/lms-keys.json").get_json()

    proof = dict(credential.pop("proof"))
    signature = base58_decode(proof.pop("proofValue")[1:])
    kid = proof["verificationMethod"].rsplit("#", 1)[1]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="))

    def jcs(value) -> bytes:
        return json.dumps(value, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()

    key.verify(signature, hashlib.sha256(jcs(proof)).digest()
               + hashlib.sha256(jcs(credential)).digest())


@pytest.mark.parametrize("tamper", [
    "one letter of the name",
    "one tone mark of the name",
    "the course title",
    "a later validity",
    "the issue date",
    "the proof's date",
    "one byte of the signature",
    "the signature dropped",
    "an unknown key id",
])
def test_changing_one_byte_fails(client, certify, tamper):
    credential = fetch(client, certify())
    keys = published_keys(client)
    assert verify_credential(credential, keys)
    forged = copy.deepcopy(credential)
    subject = forged["credentialSubject"]
    if tamper == "one letter of the name":
        subject["name"] = subject["name"].replace("Nhung", "Nhunh")
    elif tamper == "one tone mark of the name":
        subject["name"] = subject["name"].replace("Hồng", "Hổng")
    elif tamper == "the course title":
        subject["achievement"]["name"] += "."
    elif tamper == "a later validity":
        forged["validUntil"] = "2099-01-01T00:00:00Z"
    elif tamper == "the issue date":
        forged["validFrom"] = stamp(datetime.fromisoformat(forged["validFrom"])
                                   + timedelta(seconds=1))
    elif tamper == "the proof's date":
        forged["proof"]["created"] = "2020-01-01T00:00:00Z"
    elif tamper == "one byte of the signature":
        signature = bytearray(base58_decode(forged["proof"]["proofValue"][1:]))
        signature[10] ^= 0x01
        forged["proof"]["proofValue"] = multibase_base58btc(bytes(signature))
    elif tamper == "the signature dropped":
        del forged["proof"]["proofValue"]
    elif tamper == "an unknown key id":
        forged["proof"]["verificationMethod"] += "x"
    assert forged != credential
    assert not verify_credential(forged, keys)


def test_a_different_key_fails(app, client, certify, dbs):
    certificate = certify()
    credential = fetch(client, certificate)
    kid = credential["proof"]["verificationMethod"].rsplit("#", 1)[1]
    stranger = Ed25519PrivateKey.generate()
    assert not verify_credential(credential, {kid: stranger.public_key()})

    # A forger signing with their own key under our key id is refused too.
    forged = credential_for(certificate, app.config["BASE_URL"], key=SigningKey(stranger, kid))
    assert forged["proof"]["verificationMethod"] == credential["proof"]["verificationMethod"]
    assert not verify_credential(forged, published_keys(client))
    assert verify_credential(forged, {kid: stranger.public_key()})


def test_the_credential_is_the_same_whoever_asks_and_whenever(app, client, certify):
    certificate = certify()
    first = client.get(f"/certificates/{certificate.code}/credential.json")
    again = client.get(f"/certificates/{certificate.code}/credential.json",
                       headers={"Accept-Language": "en"})
    assert first.get_data() == again.get_data()
    assert first.headers["Cache-Control"] == "private, no-cache"
    unchanged = client.get(f"/certificates/{certificate.code}/credential.json",
                           headers={"If-None-Match": first.headers["ETag"]})
    assert unchanged.status_code == 304


def test_an_expiring_certificate_says_until_when_and_still_verifies(client, certify):
    past = datetime(2026, 1, 1, tzinfo=timezone.utc)
    credential = fetch(client, certify(expires_at=past))
    assert credential["validUntil"] == "2026-01-01T00:00:00Z"
    assert verify_credential(credential, published_keys(client))


def test_hours_are_written_as_text_not_as_a_float(client, certify):
    credential = fetch(client, certify(estimated_minutes=90))
    text = json.dumps(credential, ensure_ascii=False)
    assert ("1,5" in text) or ("1.5" in text)
    with pytest.raises(TypeError):
        canonical_json({"hours": 1.5})
    assert canonical_json({"b": 1, "a": ["Đặng Quốc Việt", True, None]}) == (
        '{"a":["Đặng Quốc Việt",true,null],"b":1}'.encode())


def test_unknown_codes_are_not_found(client):
    response = client.get(f"/certificates/{secrets.token_urlsafe(24)}/credential.json")
    assert response.status_code == 404 and response.get_json() == {"status": "unknown"}
    assert client.get(f"/certificates/{'x' * 500}/credential.json").status_code == 404


def test_a_revoked_certificate_gives_no_credential_but_its_status(app, client, certify, factory):
    certificate = certify()
    assert client.get(f"/certificates/{certificate.code}/credential.json").status_code == 200
    services.revoke(factory.dbs, certificate, "Cấp nhầm người", factory.admin())
    response = client.get(f"/certificates/{certificate.code}/credential.json")
    assert response.status_code == 410 and response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == {
        "status": "revoked",
        "revokedAt": stamp(certificate.revoked_at),
        "verify": f"{app.config['BASE_URL']}/verify/{certificate.code}"}


def test_after_a_name_correction_only_the_new_certificate_has_a_credential(
        app, client, certify, factory):
    old = certify(name="Bui Thanh Son")
    new = services.reissue(factory.dbs, old, factory.admin(), full_name="Bùi Thanh Sơn")
    response = client.get(f"/certificates/{old.code}/credential.json")
    assert response.status_code == 410
    assert response.get_json() == {"status": "superseded",
                                   "verify": f"{app.config['BASE_URL']}/verify/{old.code}"}
    assert new.code not in response.get_data(as_text=True)  # no way from the old code to the new
    credential = fetch(client, new)
    assert credential["credentialSubject"]["name"] == "Bùi Thanh Sơn"
    assert verify_credential(credential, published_keys(client))


def test_the_credential_shares_the_verify_pages_rate_limit(app, client, certify, monkeypatch):
    certificate = certify()
    monkeypatch.setitem(app.config, "VERIFY_RATE_LIMIT", "3 per minute")
    credential = f"/certificates/{certificate.code}/credential.json"
    statuses = [client.get(url).status_code
                for url in (credential, f"/verify/{certificate.code}", credential, credential)]
    assert statuses == [200, 200, 200, 429]


def test_the_key_set_is_a_jwks_of_public_ed25519_keys(client):
    response = client.get("/.well-known/lms-keys.json")
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    jwks = response.get_json()
    assert list(jwks) == ["keys"] and len(jwks["keys"]) == 1
    jwk = jwks["keys"][0]
    assert set(jwk) == {"kty", "crv", "x", "kid", "use", "alg"}  # no private part ("d")
    assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("OKP", "Ed25519", "sig", "EdDSA")
    assert len(base64.urlsafe_b64decode(jwk["x"] + "=")) == 32 and "=" not in jwk["x"]
    # The kid is the RFC 7638 thumbprint: anyone can recompute it from x.
    thumbprint = hashlib.sha256(
        json.dumps({"crv": "Ed25519", "kty": "OKP", "x": jwk["x"]},
                   separators=(",", ":")).encode()).digest()
    assert jwk["kid"] == base64.urlsafe_b64encode(thumbprint).rstrip(b"=").decode()


def test_keys_persist_across_app_instances_with_the_same_instance_folder(tmp_path):
    def app_in(folder):
        return create_app(app_settings(f"sqlite:///{tmp_path / 'unused.db'}", str(folder)))

    first, second, elsewhere = app_in(tmp_path / "a"), app_in(tmp_path / "a"), app_in(tmp_path / "b")
    assert key_ring(first).current.kid == key_ring(second).current.kid
    assert key_ring(first).current.kid != key_ring(elsewhere).current.kid
    key_file = tmp_path / "a" / keyring.KEY_FILE_NAME
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert os.listdir(tmp_path / "a").count(keyring.KEY_FILE_NAME) == 1  # no leftovers
    assert [name for name in os.listdir(tmp_path / "a") if name.startswith(".")] == []


def test_a_configured_key_file_is_used_and_never_replaced_when_missing(tmp_path):
    private_key = Ed25519PrivateKey.generate()
    path = tmp_path / "platform.pem"
    path.write_bytes(private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    ring = load_key_ring(tmp_path / "instance", key_file=str(path))
    assert ring.current.kid == keyring.key_id(private_key.public_key())
    assert not (tmp_path / "instance" / keyring.KEY_FILE_NAME).exists()
    with pytest.raises(ConfigError):
        load_key_ring(tmp_path / "instance", key_file=str(tmp_path / "lost.pem"))


def test_after_a_key_rotation_old_credentials_still_verify(app, dbs, certify, tmp_path):
    certificate = certify()
    old_ring = load_key_ring(tmp_path)
    old_credential = credential_for(certificate, app.config["BASE_URL"], key=old_ring.current)

    retired = tmp_path / "credential_key.2026.pem"
    (tmp_path / keyring.KEY_FILE_NAME).rename(retired)
    retired_public = tmp_path / "retired-public.pem"
    retired_public.write_bytes(old_ring.current.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    for listed in (str(retired), [str(retired_public)]):
        new_ring = load_key_ring(tmp_path, retired_files=listed)
        assert new_ring.current.kid != old_ring.current.kid
        assert list(new_ring.public_keys) == [new_ring.current.kid, old_ring.current.kid]
        published = {jwk["kid"]: public_key_from_jwk(jwk) for jwk in new_ring.jwks()["keys"]}
        assert verify_credential(old_credential, published)
        assert verify_credential(credential_for(certificate, app.config["BASE_URL"],
                                                key=new_ring.current), published)
    # Without the retired key, the old credentials no longer verify.
    assert not verify_credential(old_credential, load_key_ring(tmp_path).public_keys)


def test_base58_round_trips_leading_zero_bytes():
    for data in (b"", b"\0", b"\0\0\x01\xff", os.urandom(64), b"\0" + os.urandom(63)):
        assert base58_decode(base58_encode(data)) == data
    assert base58_encode(b"hello world") == "StV1DL6CwTryKyV"
