"""What trainers do to certificate templates and to a course's certificate settings.

A template is checked by rendering it with sample values before anything is saved
(``rendering.check_template``): a template WeasyPrint cannot render, or one whose wording no
longer fits on one page, is refused with WeasyPrint's message and nothing is written, not
even its images. Logo and seal images are PNG or JPEG, limited in size, stored once by
content (``storage.store_bytes``), their sha256 and type kept on the template.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lms.audit.services import record
from lms.certificates import rendering, services, storage
from lms.certificates.models import CertificateTemplate, CourseCertificate
from lms.courses.models import Course
from lms.errors import DomainError
from lms.text import clean

DEFAULT_MAX_IMAGE_BYTES = 2 * 1024 * 1024
IMAGE_TYPES = {  # content type -> accepted leading bytes
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
}
TEXT_FIELDS = ("issuer_name", "issuer_name_en", "heading", "heading_en", "body", "body_en",
               "signer_name", "signer_title", "signer_title_en")


def max_image_bytes() -> int:
    return int(current_app.config.get("MAX_CERTIFICATE_IMAGE_BYTES", DEFAULT_MAX_IMAGE_BYTES))


@dataclass(frozen=True)
class Image:
    """An uploaded logo or seal, checked but not stored yet."""

    content_type: str
    data: bytes

    @property
    def data_uri(self) -> str:
        return rendering.image_data_uri(self.content_type, self.data)


def read_image(filename: str, data: bytes, field: str) -> Image:
    """Check an uploaded image (PNG or JPEG by its content, not only its name; size limit)."""
    limit = max_image_bytes()
    if not data:
        raise DomainError(_("The file is empty."), field=field)
    if len(data) > limit:
        raise DomainError(_("The image is larger than %(kb)d KB.", kb=limit // 1024), field=field)
    for content_type, magic in IMAGE_TYPES.items():
        if data.startswith(magic):
            return Image(content_type, data)
    raise DomainError(_("%(file)s is not a PNG or JPEG image.", file=filename or "?"), field=field)


@dataclass
class TemplateData:
    name: str
    design: str = "classic"
    bilingual: bool = True
    issuer_name: str = ""
    issuer_name_en: str = ""
    register_prefix: str = ""
    heading: str = ""
    heading_en: str = ""
    body: str = ""
    body_en: str = ""
    signer_name: str = ""
    signer_title: str = ""
    signer_title_en: str = ""
    is_default: bool = False
    logo: Image | None = None       # a new image
    seal: Image | None = None
    remove_logo: bool = False
    remove_seal: bool = False


def _clean_text(value: str, multiline: bool = False) -> str:
    if multiline:
        return "\n".join(clean(line) for line in (value or "").splitlines() if clean(line))
    return clean(value)


def normalised(data: TemplateData) -> TemplateData:
    texts = {name: _clean_text(getattr(data, name), multiline=name.startswith("body"))
             for name in TEXT_FIELDS}
    return replace(data, name=clean(data.name),
                   register_prefix=clean(data.register_prefix).upper(), **texts)


def template_values_for(data: TemplateData,
                        template: CertificateTemplate | None = None) -> rendering.TemplateValues:
    """The values the renderer takes, from a form's (unsaved) data: new images replace the
    template's, removed ones are left out, the others are the template's stored images."""
    stored = services.template_values(template) if template is not None else None
    logo_uri = ("" if data.remove_logo else data.logo.data_uri if data.logo
                else stored.logo_uri if stored else "")
    seal_uri = ("" if data.remove_seal else data.seal.data_uri if data.seal
                else stored.seal_uri if stored else "")
    return rendering.TemplateValues(
        design=data.design, bilingual=data.bilingual, logo_uri=logo_uri, seal_uri=seal_uri,
        **{name: getattr(data, name) for name in TEXT_FIELDS})


def _check(dbs: Session, data: TemplateData, template: CertificateTemplate | None) -> None:
    if not data.name:
        raise DomainError(_("Enter a name."), field="name")
    if len(data.name) > 120:
        raise DomainError(_("At most %(max)d characters.", max=120), field="name")
    if data.design not in rendering.DESIGNS:
        raise DomainError(_("Unknown certificate design: %(design)s.", design=data.design),
                          field="design")
    if not data.issuer_name:
        raise DomainError(_("Enter the issuing body."), field="issuer_name")
    if not data.heading:
        raise DomainError(_("Enter the heading."), field="heading")
    if data.register_prefix and not REGISTER_PREFIX.fullmatch(data.register_prefix):
        raise DomainError(_("The register prefix is 1 to 20 letters (A–Z) or digits, e.g. BNG."),
                          field="register_prefix")
    clash = dbs.scalar(select(CertificateTemplate.id).where(
        CertificateTemplate.name == data.name,
        CertificateTemplate.id != (template.id if template is not None else -1)))
    if clash is not None:
        raise DomainError(_("Another template already has this name."), field="name")


REGISTER_PREFIX = re.compile(r"[A-Z0-9]{1,20}")
_DATA_URI = re.compile(r"data:([\w/+.-]+);base64,[A-Za-z0-9+/=]{16,}")


def check_renders(values: rendering.TemplateValues) -> None:
    """``rendering.check_template``, with images shortened in WeasyPrint's message (it quotes
    an image it cannot read as its whole ``data:`` URI)."""
    try:
        rendering.check_template(values)
    except DomainError as exc:
        message = _DATA_URI.sub(lambda m: f"data:{m.group(1)};base64,…", str(exc.message))
        raise DomainError(message, field=exc.field) from exc


def preview_pdf(data: TemplateData, template: CertificateTemplate | None = None) -> bytes:
    """The certificate PDF of (unsaved) template data with the sample learner and course;
    DomainError with WeasyPrint's message when it cannot be rendered (as at save time)."""
    data = normalised(data)
    if data.design not in rendering.DESIGNS:
        raise DomainError(_("Unknown certificate design: %(design)s.", design=data.design),
                          field="design")
    values = template_values_for(data, template)
    check_renders(values)
    return rendering.render_pdf(rendering.sample_values(bilingual=data.bilingual), values)


def save_template(dbs: Session, actor: Any, template: CertificateTemplate | None,
                  data: TemplateData) -> CertificateTemplate:
    """Create (``template`` None) or update a template, after rendering it with sample values.

    Raises DomainError (with WeasyPrint's message when it cannot render) and then writes
    nothing.
    """
    data = normalised(data)
    _check(dbs, data, template)
    check_renders(template_values_for(data, template))
    created = template is None
    if created:
        template = CertificateTemplate(name=data.name)
        dbs.add(template)
    before = {name: getattr(template, name) for name in ("name", "design", "bilingual",
                                                         "is_default", "register_prefix",
                                                         *TEXT_FIELDS)}
    template.name = data.name
    template.register_prefix = data.register_prefix
    template.design = data.design
    template.bilingual = bool(data.bilingual)
    for name in TEXT_FIELDS:
        setattr(template, name, getattr(data, name))
    for kind in ("logo", "seal"):
        image: Image | None = getattr(data, kind)
        if getattr(data, f"remove_{kind}"):
            setattr(template, f"{kind}_sha256", None)
            setattr(template, f"{kind}_type", None)
        elif image is not None:
            setattr(template, f"{kind}_sha256", storage.store_bytes(image.data))
            setattr(template, f"{kind}_type", image.content_type)
    template.updated_by_id = getattr(actor, "id", None)
    if data.is_default and not template.is_default:
        dbs.execute(update(CertificateTemplate).where(CertificateTemplate.is_default.is_(True))
                    .values(is_default=False).execution_options(synchronize_session="fetch"))
    # There is always a default: unticking the box on the default template keeps it the
    # default until another template is made the default.
    template.is_default = bool(data.is_default) or bool(template.is_default)
    dbs.flush()
    changed = sorted(name for name, old in before.items() if getattr(template, name) != old)
    if data.logo or data.remove_logo:
        changed.append("logo")
    if data.seal or data.remove_seal:
        changed.append("seal")
    record(dbs, actor, "certificate_template.created" if created else "certificate_template.updated",
           template, label=template.name, fields=changed)
    return template


def template_choices(dbs: Session) -> list[tuple[int, str]]:
    rows = dbs.execute(select(CertificateTemplate.id, CertificateTemplate.name,
                              CertificateTemplate.is_default)
                       .order_by(CertificateTemplate.is_default.desc(), CertificateTemplate.name))
    return [(row.id, f"{row.name} ({_('default')})" if row.is_default else row.name)
            for row in rows]


@dataclass
class CourseCertificateData:
    template_id: int | None
    hours: float | None = None
    title_en: str = ""


def save_course_certificate(dbs: Session, actor: Any, course: Course,
                            data: CourseCertificateData) -> CourseCertificate:
    """Choose a course's template, printed hours and English title (used by certificates
    issued from now on; issued ones keep what they printed)."""
    template = dbs.get(CertificateTemplate, data.template_id) if data.template_id else None
    if template is None:
        raise DomainError(_("Choose a certificate template."), field="template_id")
    if data.hours is not None and not 0.5 <= data.hours <= 1000:
        raise DomainError(_("Between 0,5 and 1000 hours, or empty."), field="hours")
    title_en = clean(data.title_en)
    if len(title_en) > 255:
        raise DomainError(_("At most %(max)d characters.", max=255), field="title_en")
    sample = rendering.sample_values(bilingual=template.bilingual)
    if not rendering.fits_on_page(replace(sample, course_title=rendering.nfc(course.title),
                                          course_title_en=title_en if template.bilingual else ""),
                                  services.template_values(template)):
        raise DomainError(_("The course title does not fit on this template's certificate: "
                            "shorten the English title or the template's wording, or choose "
                            "another template."), field="template_id")
    link = dbs.get(CourseCertificate, course.id)
    if link is None:
        link = CourseCertificate(course_id=course.id, template_id=template.id)
        dbs.add(link)
    link.template_id = template.id
    link.hours = round(data.hours * 2) / 2 if data.hours is not None else None
    link.title_en = title_en
    dbs.flush()
    record(dbs, actor, "course.certificate_settings", course, label=course.title,
           template=template.name, hours=link.hours, title_en=title_en)
    return link


def course_preview_pdf(dbs: Session, course: Course) -> bytes:
    """The course's certificate as it would print now, for the sample learner."""
    template = services.template_for_course(dbs, course)
    link = dbs.get(CourseCertificate, course.id)
    sample = rendering.sample_values(bilingual=template.bilingual)
    values = replace(sample, course_title=course.title,
                     course_title_en=(link.title_en if link and template.bilingual else ""),
                     hours=services.printed_hours(course, link))
    return rendering.render_pdf(values, services.template_values(template))
