"""The certificate PDF from plain values: correct Vietnamese, bundled fonts, one A4 page, PDF/A,
not blank, nothing fetched from outside."""
from __future__ import annotations

import base64
import unicodedata
from dataclasses import replace
from datetime import date

import pytest

from lms.certificates import rendering
from lms.certificates.rendering import CertificateValues, TemplateValues
from lms.errors import DomainError
from tests.certificates.support import (
    changed_share,
    first_page_pixels,
    first_page_png,
    pdf_fonts,
    pdf_metadata,
    pdf_pages,
    pdf_text,
    qr_codes,
    words,
)

VOWELS = "aăâeêioôơuưy"
TONES = ("\u0300", "\u0301", "\u0303", "\u0309", "\u0323")  # huyền, sắc, ngã, hỏi, nặng


def every_tone(vowels: str) -> str:
    """Each vowel with each of the five tone marks (decomposed), one word per vowel, and đ."""
    return " ".join("".join(v + tone for tone in TONES) for v in vowels) + " " + (
        "đ" if vowels.islower() else "Đ")


LOWER = unicodedata.normalize("NFD", every_tone(VOWELS))
UPPER = unicodedata.normalize("NFD", every_tone(VOWELS.upper()))
LONG_NAME = "Tôn Nữ Thị Phương Thảo Nguyễn Hoàng"
LONG_TITLE = ("Ứng dụng công nghệ thông tin và chuyển đổi số trong công tác đối ngoại, lãnh sự "
              "và bảo hộ công dân Việt Nam ở nước ngoài: quy trình, văn bản điện tử, chữ ký số "
              "và nền tảng chia sẻ, tích hợp dữ liệu (LGSP) của Bộ giai đoạn 2026–2030")
LONG_TITLE_EN = ("Information technology and digital transformation in foreign affairs, consular "
                 "work and the protection of Vietnamese citizens abroad: procedures, electronic "
                 "documents, digital signatures and the ministry's data sharing platform, 2026–2030")


def values(**changes) -> CertificateValues:
    base = CertificateValues(
        full_name="Nguyễn Thị Hồng Nhung", course_title="An toàn thông tin cơ bản",
        course_title_en="Information security basics", unit_name="Cục Lãnh sự", hours=1.5,
        completed_on=date(2026, 3, 9), issued_on=date(2026, 3, 9), serial="BNG-2026-000123",
        verify_url="https://hocvuso.example/verify/abc")
    return replace(base, **changes)


TEMPLATE = TemplateValues(signer_name="Trần Minh Quân", signer_title="Cục trưởng",
                          signer_title_en="Director-General")


@pytest.mark.parametrize("design", rendering.DESIGNS)
def test_every_tone_on_every_vowel_comes_out_of_the_pdf_exactly(design):
    assert unicodedata.normalize("NFC", LOWER) != LOWER  # the input really is decomposed
    pdf = rendering.render_pdf(values(full_name=LOWER, course_title=UPPER),
                               replace(TEMPLATE, design=design))
    text = pdf_text(pdf)
    assert text == unicodedata.normalize("NFC", text), "the PDF's text must be composed"
    assert words(unicodedata.normalize("NFC", LOWER)) in words(text)
    assert words(unicodedata.normalize("NFC", UPPER)) in words(text)
    for name in ("Nguyễn Thị Hồng Nhung", "Bùi Thanh Sơn", "Đặng Quốc Việt"):
        pdf = rendering.render_pdf(values(full_name=unicodedata.normalize("NFD", name)),
                                   replace(TEMPLATE, design=design))
        assert name in pdf_text(pdf)


@pytest.mark.parametrize("design", rendering.DESIGNS)
def test_the_certificate_prints_what_it_certifies(design):
    pdf = rendering.render_pdf(values(expires_on=date(2027, 3, 9)), replace(TEMPLATE, design=design))
    text = words(pdf_text(pdf))
    for expected in ("BỘ NGOẠI GIAO", "MINISTRY OF FOREIGN AFFAIRS", "GIẤY CHỨNG NHẬN",
                     "CERTIFICATE OF COMPLETION", "Nguyễn Thị Hồng Nhung", "Cục Lãnh sự",
                     "An toàn thông tin cơ bản", "Information security basics", "1,5 giờ",
                     "1.5 hours", "09/03/2026", "9 March 2026", "09/03/2027", "BNG-2026-000123",
                     "https://hocvuso.example/verify/abc", "Trần Minh Quân", "Director-General"):
        assert expected in text, expected


def test_a_vietnamese_only_template_prints_no_english():
    pdf = rendering.render_pdf(values(), replace(TEMPLATE, bilingual=False))
    text = words(pdf_text(pdf))
    assert "Nguyễn Thị Hồng Nhung" in text and "09/03/2026" in text
    for english in ("MINISTRY OF FOREIGN AFFAIRS", "Information security basics", "hours",
                    "This is to certify"):
        assert english not in text


@pytest.mark.parametrize("design", rendering.DESIGNS)
def test_only_the_bundled_fonts_are_embedded(design):
    fonts = pdf_fonts(rendering.render_pdf(values(), replace(TEMPLATE, design=design)))
    assert fonts
    family = "Cert-Serif" if design == "classic" else "Cert-Sans"
    assert all(name.split("+", 1)[-1].startswith(family) for name in fonts), fonts


@pytest.mark.parametrize("design", rendering.DESIGNS)
def test_long_names_and_titles_stay_on_one_a4_landscape_page(design):
    pdf = rendering.render_pdf(values(full_name=LONG_NAME, course_title=LONG_TITLE,
                                      course_title_en=LONG_TITLE_EN,
                                      unit_name="Phòng Hành chính – Tổng hợp, Cục Lãnh sự",
                                      expires_on=date(2027, 3, 9)),
                               replace(TEMPLATE, design=design))
    assert pdf_pages(pdf) == 1
    width, height, _pixels = first_page_pixels(pdf, dpi=20)
    assert width > height  # landscape
    assert abs(width / height - 297 / 210) < 0.02  # A4
    text = words(pdf_text(pdf))
    assert LONG_NAME in text and words(LONG_TITLE) in text


@pytest.mark.parametrize("design", rendering.DESIGNS)
def test_the_qr_code_opens_the_verification_page(design):
    pdf = rendering.render_pdf(values(), replace(TEMPLATE, design=design))
    assert qr_codes(pdf) == [values().verify_url]


@pytest.mark.parametrize("design", rendering.DESIGNS)
def test_the_first_page_is_not_blank(design):
    """The page, as PNG, shows what it certifies: against the same design printed with the
    learner's, the course's and the issuer's texts left empty, a clear share of the page
    inside the frame differs (the frame and the fixed wording alone would not)."""
    template = replace(TEMPLATE, design=design)
    printed = first_page_png(rendering.render_pdf(values(), template))
    assert printed.startswith(b"\x89PNG\r\n\x1a\n")
    unprinted = first_page_png(rendering.render_pdf(
        values(full_name=" ", course_title=" ", course_title_en="", unit_name=""),
        replace(template, issuer_name="", issuer_name_en="", heading="", heading_en="",
                body=" ", body_en="", signer_name="", signer_title="", signer_title_en="")))
    assert changed_share(printed, unprinted) > 0.02
    assert changed_share(printed, printed) == 0


def test_the_pdf_is_pdf_a_3b():
    pdf = rendering.render_pdf(values(), TEMPLATE)
    assert pdf.startswith(b"%PDF-1.7")
    metadata = pdf_metadata(pdf)
    assert 'pdfaid:part="3"' in metadata and 'pdfaid:conformance="B"' in metadata
    assert "GIẤY CHỨNG NHẬN BNG-2026-000123" in metadata  # the document's title


def test_logo_and_seal_images_are_drawn():
    png = base64.b64decode(  # a red 4x4 square
        "iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEklEQVR4nGP4z8CAB+GTG8HSALfKY52fTcuYAAAAAElFTkSuQmCC")
    plain = first_page_pixels(rendering.render_pdf(values(), TEMPLATE))[2]
    with_seal = first_page_pixels(rendering.render_pdf(values(), replace(
        TEMPLATE, seal_uri=rendering.image_data_uri("image/png", png),
        logo_uri=rendering.image_data_uri("image/png", png))))[2]

    def reds(pixels: bytes) -> int:
        return sum(1 for i in range(0, len(pixels), 3)
                   if pixels[i] > 200 and pixels[i + 1] < 80 and pixels[i + 2] < 80)
    assert reds(with_seal) > reds(plain) + 50


def test_the_url_fetcher_allows_only_data_uris_and_the_bundled_fonts():
    fetcher = rendering.AllowListFetcher()
    font = (rendering.FONTS_DIR / "NotoSerif-Regular.ttf").as_uri()
    response = fetcher.fetch(font)
    try:
        assert response.read(4) == b"\x00\x01\x00\x00"
    finally:
        response.close()
    response = fetcher.fetch("data:text/plain,hi")
    assert response.read() == b"hi"
    response.close()
    for url in ("file:///etc/passwd", (rendering.FONTS_DIR / "OFL.txt").as_uri(),
                (rendering.FONTS_DIR / ".." / "models.py").as_uri(), "http://127.0.0.1/x.png",
                "https://example.com/font.ttf"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)


def test_images_other_than_data_uris_are_never_printed():
    context = rendering.context_for(values(), replace(TEMPLATE, logo_uri="file:///etc/passwd",
                                                      seal_uri="http://example.com/seal.png"))
    assert context["logo_uri"] == "" and context["seal_uri"] == ""


def test_text_is_escaped_not_interpreted():
    html = rendering.render_html(values(full_name="<img src=x> & Co"), TEMPLATE)
    assert "&lt;img src=x&gt; &amp; Co" in html and "<img src=x>" not in html


def test_hours_and_dates_are_written_the_vietnamese_way_and_the_english_way():
    assert rendering.hours_text(2.0) == ("2 giờ", "2 hours")
    assert rendering.hours_text(1.0) == ("1 giờ", "1 hour")
    assert rendering.hours_text(0.5) == ("0,5 giờ", "0.5 hours")
    assert rendering.date_vi(date(2026, 1, 5)) == "05/01/2026"
    assert rendering.date_en(date(2026, 1, 5)) == "5 January 2026"
    assert rendering.long_date_vi(date(2026, 1, 5)) == "ngày 05 tháng 01 năm 2026"


def test_a_good_template_passes_the_check(app):
    with app.test_request_context():
        rendering.check_template(TEMPLATE)
        rendering.check_template(replace(TEMPLATE, design="modern", bilingual=False))


def test_a_broken_image_is_refused_with_weasyprints_message(app):
    broken = replace(TEMPLATE, seal_uri="data:image/png;base64," + base64.b64encode(
        b"not a picture").decode())
    with app.test_request_context(), pytest.raises(DomainError) as error:
        rendering.check_template(broken)
    assert "image" in error.value.message.lower()


def test_wording_that_does_not_fit_on_one_page_is_refused(app):
    wordy = replace(TEMPLATE, body="\n".join(["đã hoàn thành khoá học"] * 12))
    with app.test_request_context(), pytest.raises(DomainError):
        rendering.check_template(wordy)
    with app.test_request_context(), pytest.raises(DomainError):
        rendering.check_template(replace(TEMPLATE, design="modern", body_en=" ".join(
            ["has successfully completed the course"] * 40)))


def test_an_unknown_design_is_refused(app):
    with app.test_request_context(), pytest.raises(DomainError):
        rendering.check_template(replace(TEMPLATE, design="baroque"))
