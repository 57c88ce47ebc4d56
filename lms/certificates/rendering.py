"""Certificate PDFs from plain values: no database, no Flask.

One A4 landscape page per certificate, in one of the bundled designs (classic, modern),
PDF/A-3b so it can be archived. The fonts (Noto Serif, Noto Sans: full Vietnamese) ship in
``lms/certificates/fonts`` and are loaded by ``@font-face`` from there, so the result never
depends on the fonts a host has. Images (logo, seal, QR code) come in as ``data:`` URIs: the
URL fetcher allows nothing else but the bundled font files.

WeasyPrint spends about half of a cold render loading fonts and parsing CSS, so each process
keeps one FontConfiguration and the parsed stylesheet per design (rebuilt after a fork).
"""
from __future__ import annotations

import base64
import logging
import os
import threading
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date
from importlib.resources import files
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import segno
from flask_babel import gettext as _
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from weasyprint import CSS, HTML
from weasyprint.css import ColorProfile
from weasyprint.formatting_structure.boxes import ReplacedBox, TextBox
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from lms.errors import DomainError

log = logging.getLogger(__name__)

FONTS_DIR = Path(__file__).resolve().parent / "fonts"
DESIGNS = ("classic", "modern")
PDF_VARIANT = "pdf/a-3b"

_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _templates_dir() -> Path:
    """``lms/templates/certificates`` in an installed wheel, ``templates/certificates`` in the
    source tree (as the app factory finds its templates)."""
    installed = _PACKAGE_DIR / "templates"
    base = installed if installed.is_dir() else _PACKAGE_DIR.parent / "templates"
    return base / "certificates"


TEMPLATES_DIR = _templates_dir()


# ---------------------------------------------------------------- values

@dataclass(frozen=True)
class CertificateValues:
    """What is printed about the learner and the course (already as printed: NFC text,
    dates in the register's calendar)."""

    full_name: str
    course_title: str
    hours: float
    completed_on: date
    issued_on: date
    serial: str
    verify_url: str
    course_title_en: str = ""
    unit_name: str = ""
    expires_on: date | None = None

    def normalised(self) -> CertificateValues:
        return replace(self, full_name=nfc(self.full_name), course_title=nfc(self.course_title),
                       course_title_en=nfc(self.course_title_en), unit_name=nfc(self.unit_name))


@dataclass(frozen=True)
class TemplateValues:
    """A design with its wording, signer and images (``data:`` URIs, or empty)."""

    design: str = "classic"
    bilingual: bool = True
    issuer_name: str = "BỘ NGOẠI GIAO"
    issuer_name_en: str = "MINISTRY OF FOREIGN AFFAIRS"
    heading: str = "GIẤY CHỨNG NHẬN"
    heading_en: str = "CERTIFICATE OF COMPLETION"
    body: str = ""
    body_en: str = ""
    signer_name: str = ""
    signer_title: str = ""
    signer_title_en: str = ""
    logo_uri: str = ""
    seal_uri: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


DEFAULT_BODY = "đã hoàn thành khoá học"
DEFAULT_BODY_EN = "has successfully completed the course"

MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")


def nfc(text: str) -> str:
    """Composed Unicode: "Nguyễn" typed with combining marks prints and extracts as "Nguyễn"."""
    return unicodedata.normalize("NFC", text or "").strip()


def image_data_uri(content_type: str, data: bytes) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


def sample_values(verify_url: str = "https://hocvuso.mofa.gov.vn/verify/mau-chung-nhan",
                  bilingual: bool = True) -> CertificateValues:
    """Sample data for template previews (a real-looking learner and course)."""
    today = date.today()
    return CertificateValues(
        full_name="Nguyễn Thị Hồng Nhung",
        course_title="Kỹ năng số cơ bản cho cán bộ, công chức",
        course_title_en="Basic digital skills for civil servants" if bilingual else "",
        unit_name="Cục Lãnh sự",
        hours=4.0,
        completed_on=today,
        issued_on=today,
        expires_on=None,
        serial=f"BNG-{today.year}-000123",
        verify_url=verify_url,
    )


# ---------------------------------------------------------------- formatting

def date_vi(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def date_en(day: date) -> str:
    return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"


def long_date_vi(day: date) -> str:
    return f"ngày {day.day:02d} tháng {day.month:02d} năm {day.year}"


def hours_text(hours: float) -> tuple[str, str]:
    """("1,5 giờ", "1.5 hours"): Vietnamese uses a decimal comma."""
    number = f"{hours:.1f}".rstrip("0").rstrip(".")
    en_unit = "hour" if number == "1" else "hours"
    return f"{number.replace('.', ',')} giờ", f"{number} {en_unit}"


def size_class(text: str, steps: tuple[int, ...]) -> str:
    """"s0" for short text, then "s1", "s2", … as it passes each length in ``steps``."""
    length = len(text)
    for index, limit in enumerate(steps):
        if length <= limit:
            return f"s{index}"
    return f"s{len(steps)}"


def qr_data_uri(url: str) -> str:
    # A fixed mask pattern: scoring all eight (segno's default) cost ~4 ms of a ~65 ms
    # certificate, and any mask is valid for every reader; a printed black-on-white code of
    # this size scans the same either way.
    return segno.make(url, error="m", mask=0).svg_data_uri(scale=4, border=0, dark="#111111")


def context_for(values: CertificateValues, template: TemplateValues) -> dict[str, Any]:
    """The plain values the certificate's HTML template prints."""
    v = values.normalised()
    bilingual = template.bilingual
    hours_vi, hours_en = hours_text(v.hours)
    body_vi = nfc(template.body) or DEFAULT_BODY
    body_en = nfc(template.body_en) or DEFAULT_BODY_EN
    return {
        "bilingual": bilingual,
        "issuer": nfc(template.issuer_name),
        "issuer_en": nfc(template.issuer_name_en) if bilingual else "",
        "heading": nfc(template.heading),
        "heading_en": nfc(template.heading_en) if bilingual else "",
        "full_name": v.full_name,
        "name_size": size_class(v.full_name, (22, 28, 36, 48)),
        "unit_name": v.unit_name,
        "body": [line for line in body_vi.splitlines() if line.strip()],
        "body_en": [line for line in body_en.splitlines() if line.strip()] if bilingual else [],
        "course_title": v.course_title,
        "course_title_en": v.course_title_en if bilingual else "",
        "title_size": size_class(v.course_title, (45, 80, 120, 170, 220)),
        "title_en_size": size_class(v.course_title_en, (60, 110, 160, 220, 260)),
        "hours_vi": hours_vi,
        "hours_en": hours_en,
        "completed_vi": date_vi(v.completed_on),
        "completed_en": date_en(v.completed_on),
        "issued_vi": long_date_vi(v.issued_on),
        "issued_en": date_en(v.issued_on),
        "expires_vi": date_vi(v.expires_on) if v.expires_on else "",
        "expires_en": date_en(v.expires_on) if v.expires_on else "",
        "serial": v.serial,
        "verify_url": v.verify_url,
        # Printed so that a line can break only before the code, never inside it (a reader
        # typing it from paper could not tell a wrapped "-" from one that is part of it).
        "verify_url_head": v.verify_url.rsplit("/", 1)[0] + "/" if "/" in v.verify_url else "",
        "verify_url_tail": v.verify_url.rsplit("/", 1)[-1],
        "qr_uri": qr_data_uri(v.verify_url),
        "signer_name": nfc(template.signer_name),
        "signer_title": nfc(template.signer_title),
        "signer_title_en": nfc(template.signer_title_en) if bilingual else "",
        "logo_uri": template.logo_uri if template.logo_uri.startswith("data:image/") else "",
        "seal_uri": template.seal_uri if template.seal_uri.startswith("data:image/") else "",
        "document_title": f"{nfc(template.heading)} {v.serial}",
    }


# ---------------------------------------------------------------- WeasyPrint, per process

class AllowListFetcher(URLFetcher):
    """Fetches ``data:`` URIs and the bundled font files; refuses everything else (no
    network, no other local files), whatever a template or a value contains."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols=("data", "file"), allow_redirects=False, timeout=2)

    def fetch(self, url: str, headers: Any = None):
        if url.startswith("data:"):
            return super().fetch(url, headers)
        if url.startswith("file:"):
            path = Path(url2pathname(urlsplit(url).path)).resolve()
            if path.parent == FONTS_DIR and path.suffix == ".ttf" and path.is_file():
                return super().fetch(url, headers)
        raise ValueError(f"resource not allowed in a certificate: {url[:80]}")


@dataclass
class _Design:
    font_config: FontConfiguration
    stylesheet: CSS
    fetcher: AllowListFetcher
    color_profiles: dict[str, ColorProfile]


# PDF/A needs an output intent. WeasyPrint's own "srgb" one opens its ICC file for every PDF
# and never closes it; the same profile, read once per process, is given under another name.
OUTPUT_INTENT = "lms-srgb"


def _srgb_profile() -> ColorProfile:
    with (files("weasyprint.pdf") / "sRGB2014.icc").open("rb") as icc:
        return ColorProfile(BytesIO(icc.read()), "sRGB2014.icc", "relative-colorimetric",
                            (["r"], ["g"], ["b"]))


_lock = threading.Lock()
_designs: dict[str, _Design] = {}
_owner_pid: int | None = None
_jinja = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)),
                     autoescape=select_autoescape(default=True, default_for_string=True),
                     undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _design(name: str) -> _Design:
    """The per-process font configuration and parsed CSS of a design (call under _lock)."""
    global _owner_pid
    if _owner_pid != os.getpid():  # a forked worker builds its own
        _designs.clear()
        _owner_pid = os.getpid()
    design = _designs.get(name)
    if design is None:
        font_config = FontConfiguration()
        fetcher = AllowListFetcher()
        css_text = "\n".join((TEMPLATES_DIR / f).read_text(encoding="utf-8")
                             for f in ("certificate.css", f"{name}.css"))
        stylesheet = CSS(string=css_text, base_url=FONTS_DIR.as_uri() + "/",
                         font_config=font_config, url_fetcher=fetcher)
        design = _designs[name] = _Design(font_config, stylesheet, fetcher,
                                          {OUTPUT_INTENT: _srgb_profile()})
    return design


def _check_design(template: TemplateValues) -> None:
    if template.design not in DESIGNS:
        raise DomainError(_("Unknown certificate design: %(design)s.", design=template.design))


def render_html(values: CertificateValues, template: TemplateValues, compact: bool = False) -> str:
    _check_design(template)
    return _jinja.get_template(f"{template.design}.html").render(
        compact=compact, **context_for(values, template))


def _classes(box: Any) -> set[str]:
    element = getattr(box, "element", None)
    return set((element.get("class") or "").split()) if element is not None else set()


def _rect(box: Any) -> tuple[float, float, float, float]:
    return (box.position_x, box.position_y, box.position_x + box.margin_width(),
            box.position_y + box.margin_height())


def _overlap(a: tuple[float, ...], b: tuple[float, ...], air: float = 4) -> bool:
    return a[0] < b[2] + air and b[0] < a[2] + air and a[1] < b[3] + air and b[1] < a[3] + air


def _walk(box: Any):
    yield box
    for child in getattr(box, "children", ()):
        yield from _walk(getattr(child, "_box", child))  # absolute boxes sit in placeholders


def fits(document: Any) -> bool:
    """One page, and no text or image of the wording touches the signature or the QR code."""
    if len(document.pages) != 1:
        return False
    boxes = list(_walk(document.pages[0]._page_box))
    content = next((b for b in boxes if "content" in _classes(b)), None)
    reserved = [_rect(b) for b in boxes if _classes(b) & {"sign", "verify-block"}]
    if content is None or not reserved:
        return True
    page_bottom = document.pages[0].height
    leaves = [_rect(b) for b in _walk(content) if isinstance(b, (TextBox, ReplacedBox))]
    return not any(leaf[3] > page_bottom or any(_overlap(leaf, area) for area in reserved)
                   for leaf in leaves)


def _render(values: CertificateValues, template: TemplateValues) -> tuple[bytes, bool]:
    """(PDF bytes, whether it fits). Wording too long for the normal sizes is set smaller."""
    context = context_for(values, template)
    options = {"pdf_variant": PDF_VARIANT, "output_intent": OUTPUT_INTENT}
    page = _jinja.get_template(f"{template.design}.html")
    with _lock:  # a FontConfiguration is not meant to be shared by threads at once
        design = _design(template.design)
        for compact in (False, True):
            document = HTML(string=page.render(compact=compact, **context),
                            base_url=FONTS_DIR.as_uri() + "/", url_fetcher=design.fetcher).render(
                stylesheets=[design.stylesheet], font_config=design.font_config,
                color_profiles=design.color_profiles, **options)
            ok = fits(document)
            if ok:
                break
        return document.write_pdf(**options), ok


def render_pdf(values: CertificateValues, template: TemplateValues) -> bytes:
    """The certificate as PDF/A-3b bytes: one A4 landscape page."""
    _check_design(template)
    pdf, ok = _render(values, template)
    if not ok:  # the course's setting was checked; only a very long name gets here
        log.warning("certificate %s: the wording runs into the signature or QR code even in "
                    "the compact size", values.serial)
    return pdf


def fits_on_page(values: CertificateValues, template: TemplateValues) -> bool:
    """Whether these values print on one page without touching the signature or QR code."""
    _check_design(template)
    return _render(values, template)[1]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def check_template(template: TemplateValues) -> None:
    """Render the template with sample values; raise DomainError with WeasyPrint's message
    when it fails, warns (e.g. an image it cannot read) or needs more than one page."""
    collect = _Collect()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(collect)
    try:
        values = sample_values(bilingual=template.bilingual)
        _check_design(template)
        pdf, ok = _render(values, template)
    except DomainError:
        raise
    except Exception as exc:  # WeasyPrint's own error, shown to the trainer as it is
        raise DomainError(_("The certificate template cannot be rendered: %(error)s",
                            error=f"{type(exc).__name__}: {exc}")) from exc
    finally:
        logger.removeHandler(collect)
    if collect.messages:
        raise DomainError(_("The certificate template cannot be rendered: %(error)s",
                            error="; ".join(dict.fromkeys(collect.messages))))
    if not pdf.startswith(b"%PDF-") or not ok:
        raise DomainError(_("The certificate does not fit on one page: shorten the wording."))
