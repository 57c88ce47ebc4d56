"""Certificates through the API: verification by code or serial, and a person's list."""
from __future__ import annotations

import pytest

from lms.certificates import services as certificates
from tests.api.support import populated_ministry


@pytest.fixture()
def ministry(dbs, factory):
    return populated_ministry(dbs, factory)


def test_a_certificate_is_verified_by_code_or_serial_with_the_public_facts(
        api, dbs, ministry, new_token):
    token = new_token(["certificates:read"])
    certificate = ministry.certificate
    by_code = api.get(f"/certificates/{certificate.code}", token).get_json()
    by_serial = api.get(f"/certificates/{certificate.serial.lower()}", token).get_json()
    assert by_code == by_serial
    facts = certificates.public_facts(dbs, certificate)
    assert by_code["status"] == "valid" == facts["status"]
    assert by_code["full_name"] == "Nguyễn Văn Anh" == facts["full_name"]
    assert by_code["serial"] == certificate.serial
    assert by_code["verify_url"] == certificates.verify_url(certificate.code)
    assert "code" not in by_code and "email" not in by_code   # nothing more than the public page


def test_a_revoked_certificate_says_so_with_the_reason(api, dbs, ministry, new_token, factory):
    token = new_token(["certificates:read"])
    certificates.revoke(dbs, ministry.certificate, "Cấp nhầm người", factory.admin())
    dbs.flush()
    body = api.get(f"/certificates/{ministry.certificate.code}", token).get_json()
    assert body["status"] == "revoked" and body["revoked_reason"] == "Cấp nhầm người"
    assert body["revoked_at"]


def test_a_persons_list_keeps_replaced_certificates_with_their_status(
        api, dbs, ministry, new_token, factory):
    token = new_token(["certificates:read"])
    replacement = certificates.reissue(dbs, ministry.certificate, factory.admin(),
                                       full_name="Nguyễn Văn Ánh")
    dbs.flush()
    items = api.pages(f"/people/{ministry.learner.employee_code}/certificates?limit=1", token)
    assert [(i["serial"], i["status"]) for i in items] == [
        (ministry.certificate.serial, "superseded"), (replacement.serial, "valid")]
    assert items[1]["full_name"] == "Nguyễn Văn Ánh"
    assert items[1]["course"]["slug"] == ministry.course.slug


def test_a_client_scoped_to_another_department_cannot_list_the_persons_certificates(
        api, ministry, new_token):
    outsider = new_token(["certificates:read"], unit=ministry.sibling)
    insider = new_token(["certificates:read"], unit=ministry.dept)
    path = f"/people/{ministry.learner.employee_code}/certificates"
    assert api.get(path, outsider).status_code == 403
    assert api.get(path, insider).status_code == 200
