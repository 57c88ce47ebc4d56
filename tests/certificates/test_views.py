"""My certificates, the PDF download (served from storage) and the public verification page."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from lms.certificates import rendering, services, storage
from lms.db import utcnow
from lms.i18n import local_date
from lms.org.models import Role
from tests.certificates.support import complete
from tests.conftest import login

NAME = "Đặng Quốc Việt"
EMAIL = "viet@mofa.example"


@pytest.fixture()
def renders(monkeypatch):
    """Counts the PDFs rendered."""
    calls = []
    real = rendering.render_pdf

    def counting(values, template):
        calls.append(values.serial)
        return real(values, template)
    monkeypatch.setattr(rendering, "render_pdf", counting)
    return calls


@pytest.fixture()
def learner(factory):
    return factory.person(name=NAME, email=EMAIL, unit=factory.unit(name="Cục Lãnh sự"))


@pytest.fixture()
def certificate(dbs, factory, learner):
    complete(dbs, learner, factory.course(title="Chữ ký số trong văn bản điện tử", lessons=1))
    return services.live_certificate(dbs, *_completion(dbs, learner))


def _completion(dbs, person):
    from sqlalchemy import select

    from lms.courses.models import Enrolment
    enrolment = dbs.scalar(select(Enrolment).where(Enrolment.user_id == person.id))
    return enrolment.id, enrolment.completed_at


def text_of(response) -> str:
    return response.get_data(as_text=True)


# ---------------------------------------------------------------- My certificates

def test_my_certificates_lists_the_learners_certificates_with_links(client, certificate, learner):
    login(client, EMAIL)
    page = text_of(client.get("/certificates"))
    assert "Chữ ký số trong văn bản điện tử" in page and certificate.serial in page
    assert f'href="/certificates/{certificate.id}.pdf"' in page
    assert f'href="/verify/{certificate.code}"' in page
    assert "badge--published" in page  # valid
    assert 'href="/certificates" aria-current="page"' in page  # in the main menu


def test_my_certificates_shows_only_ones_own(client, factory, certificate):
    factory.person(email="other@mofa.example")
    login(client, "other@mofa.example")
    page = text_of(client.get("/certificates"))
    assert certificate.serial not in page and "/certificates/" not in page.split("<main", 1)[1]


def test_my_certificates_needs_signing_in(client):
    response = client.get("/certificates")
    assert response.status_code == 302 and "/login" in response.location


def test_my_certificates_shows_expired_revoked_and_replaced(client, dbs, factory, learner, certificate):
    other = factory.course(title="An toàn thông tin", lessons=1, validity_months=1)
    complete(dbs, learner, other)
    expired = services.live_certificate(dbs, *_completion_of(dbs, learner, other))
    expired.expires_at = utcnow() - timedelta(days=2)
    admin = factory.admin()
    services.revoke(dbs, certificate, "Cấp nhầm khoá học", admin)
    third = factory.course(title="Cổng thông tin điện tử", lessons=1)
    complete(dbs, learner, third)
    replaced = services.live_certificate(dbs, *_completion_of(dbs, learner, third))
    new = services.reissue(dbs, replaced, admin, full_name="Đặng Quốc Việt")
    dbs.flush()
    login(client, EMAIL)
    page = text_of(client.get("/certificates"))
    assert page.count("badge--error") == 1 and "Cấp nhầm khoá học" in page
    assert page.count("badge--warn") == 1
    assert page.count("badge--archived") == 1 and new.serial in page
    assert page.count("badge--published") == 1


def _enrolment(dbs, person, course):
    from sqlalchemy import select

    from lms.courses.models import Enrolment
    return dbs.scalar(select(Enrolment).where(Enrolment.user_id == person.id,
                                              Enrolment.course_id == course.id))


def _completion_of(dbs, person, course):
    enrolment = _enrolment(dbs, person, course)
    return enrolment.id, enrolment.completed_at


def test_my_certificates_runs_a_fixed_number_of_queries(client, dbs, factory, learner, certificate,
                                                        count_queries):
    login(client, EMAIL)
    client.get("/certificates")
    with count_queries() as one:
        client.get("/certificates")
    for n in range(3):
        complete(dbs, learner, factory.course(title=f"Khoá {n}", lessons=1))
    with count_queries() as four:
        page = text_of(client.get("/certificates"))
    assert page.count("badge--published") == 4
    assert len(four) == len(one)


# ---------------------------------------------------------------- download

def test_the_pdf_is_served_from_storage_never_rendered_again(client, dbs, factory, learner, renders):
    complete(dbs, learner, factory.course(title="Chữ ký số", lessons=1))
    certificate = services.live_certificate(dbs, *_completion(dbs, learner))
    assert renders == [certificate.serial]
    login(client, EMAIL)
    url = f"/certificates/{certificate.id}.pdf"
    with client.get(url) as response:
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        assert response.data == storage.path_for(certificate.pdf_sha256).read_bytes()
        assert (f"filename=chung-nhan-{certificate.serial}.pdf"
                in response.headers["Content-Disposition"])
        assert "private" in response.headers["Cache-Control"]
        etag = response.headers["ETag"]
    assert etag.strip('"') == certificate.pdf_sha256
    with client.get(url, headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304
    with client.get(url) as response:
        assert response.status_code == 200
    assert renders == [certificate.serial]  # rendered once, at issue


def test_a_lost_file_is_rendered_again_once(client, dbs, certificate, renders):
    storage.path_for(certificate.pdf_sha256).unlink()
    login(client, EMAIL)
    for _ in range(2):
        with client.get(f"/certificates/{certificate.id}.pdf") as response:
            assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    assert renders == [certificate.serial]


def test_others_and_trainers_get_404_admins_may_download(client, factory, certificate):
    url = f"/certificates/{certificate.id}.pdf"
    factory.person(email="other@mofa.example")
    login(client, "other@mofa.example")
    assert client.get(url).status_code == 404
    assert client.get("/certificates/999999.pdf").status_code == 404
    factory.person(email="trainer@mofa.example", roles=((Role.TRAINER.value, None),))
    login(client, "trainer@mofa.example")
    assert client.get(url).status_code == 404
    factory.admin(email="admin@mofa.example")
    login(client, "admin@mofa.example")
    with client.get(url) as response:
        assert response.status_code == 200


def test_downloading_needs_signing_in(client, certificate):
    response = client.get(f"/certificates/{certificate.id}.pdf")
    assert response.status_code == 302 and "/login" in response.location


# ---------------------------------------------------------------- public verification

def facts_of(page: str) -> str:
    return re.sub(r"\s+", " ", page)


def test_a_valid_certificate_verifies_without_signing_in(client, certificate):
    response = client.get(f"/verify/{certificate.code}")
    page = text_of(response)
    assert response.status_code == 200 and "verify-result--valid" in page
    for fact in (NAME, "Chữ ký số trong văn bản điện tử", certificate.serial, "BỘ NGOẠI GIAO"):
        assert fact in page
    # Nothing more personal: no e-mail, no unit, no employee code.
    assert EMAIL not in page and "Cục Lãnh sự" not in page
    assert response.headers["X-Robots-Tag"] == "noindex"
    assert "no-store" in response.headers["Cache-Control"]


def printed_date(app, moment) -> str:
    """A date as the verification page prints it to someone not signed in."""
    with app.test_request_context("/"):
        return local_date(moment)


def test_an_expired_certificate_says_so_with_its_date(app, client, dbs, certificate):
    certificate.expires_at = utcnow() - timedelta(days=40)
    dbs.flush()
    page = text_of(client.get(f"/verify/{certificate.code}"))
    assert "verify-result--expired" in page
    assert printed_date(app, certificate.expires_at) in page


def test_a_revoked_certificate_says_so_with_date_and_reason(app, client, dbs, factory, certificate):
    services.revoke(dbs, certificate, "Gian lận khi làm bài kiểm tra", factory.admin())
    certificate.revoked_at = utcnow() - timedelta(days=40)  # revoked well before today
    dbs.flush()
    page = text_of(client.get(f"/verify/{certificate.code}"))
    assert "verify-result--revoked" in page and "Gian lận khi làm bài kiểm tra" in page
    assert printed_date(app, certificate.revoked_at) in page


def test_a_replaced_certificate_points_to_nothing_personal(client, dbs, factory, certificate):
    new = services.reissue(dbs, certificate, factory.admin(), full_name="Đặng Quốc Việt")
    page = text_of(client.get(f"/verify/{certificate.code}"))
    assert "verify-result--superseded" in page
    assert new.code not in page and new.serial not in page
    assert "verify-result--valid" in text_of(client.get(f"/verify/{new.code}"))


def test_an_unknown_code_is_not_found(client, certificate):
    response = client.get("/verify/" + "x" * 32)
    assert response.status_code == 404 and "verify-result--unknown" in text_of(response)
    assert client.get("/verify/" + "y" * 500).status_code == 404


def test_the_serial_can_be_typed(client, certificate):
    page = text_of(client.get("/verify"))
    assert 'name="serial"' in page and "verify-result" not in page
    for typed in (certificate.serial, certificate.serial.lower(), f"  {certificate.serial} "):
        response = client.get("/verify", query_string={"serial": typed})
        assert response.status_code == 200 and "verify-result--valid" in text_of(response)
    pasted = client.get("/verify", query_string={"serial": f"https://x/verify/{certificate.code}"})
    assert "verify-result--valid" in text_of(pasted)
    unknown = client.get("/verify", query_string={"serial": "BNG-1999-000001"})
    assert unknown.status_code == 404 and "verify-result--unknown" in text_of(unknown)


def test_verification_is_rate_limited(client, app, certificate):
    app.config["VERIFY_RATE_LIMIT"] = "3 per minute"
    try:
        statuses = [client.get(f"/verify/{certificate.code}").status_code for _ in range(3)]
        statuses.append(client.get("/verify", query_string={"serial": certificate.serial}).status_code)
    finally:
        app.config["VERIFY_RATE_LIMIT"] = "30 per minute"
    assert statuses == [200, 200, 200, 429]
