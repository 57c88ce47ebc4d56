"""Forms of the certificate pages for trainers and admins: the template designer, a course's
certificate settings, revoking, reissuing, the certificate lists' filters and bulk issue.

Choices (design, template) are checked by the services, which say what is wrong in the
user's language; the forms check lengths and presence.
"""
from __future__ import annotations

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from lms.forms import choices

DESIGN_LABELS = {
    "classic": _l("Classic (serif lettering, double border, seal at the bottom right)"),
    "modern": _l("Modern (sans-serif lettering, coloured band at the left)"),
}

STATUS_LABELS = {
    "valid": _l("Valid"),
    "expired": _l("Expired"),
    "revoked": _l("Revoked"),
    "superseded": _l("Replaced by a newer certificate"),
}

JOB_STATUS_LABELS = {
    "queued": _l("Waiting to start"),
    "running": _l("Running"),
    "done": _l("Finished"),
    "failed": _l("Stopped with an error"),
}


def _max(n: int) -> Length:
    return Length(max=n, message=_l("At most %(max)d characters."))


class DecimalHoursField(StringField):
    """Hours as typed by a Vietnamese or an English speaker: "1,5" and "1.5" are the same."""

    def process_formdata(self, valuelist):
        raw = (valuelist[0] if valuelist else "") or ""
        self.raw_data = valuelist
        text = str(raw).strip().replace(",", ".")
        if not text:
            self.data = None
            return
        try:
            self.data = float(text)
        except ValueError as exc:
            self.data = None
            raise ValueError(_l("Enter a number of hours, such as 1,5.")) from exc

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        text = f"{self.data:.1f}".rstrip("0").rstrip(".")
        return text.replace(".", ",") if str(get_locale() or "") == "vi" else text


class HoursRange:
    def __call__(self, form, field) -> None:
        if field.data is not None and not 0.5 <= field.data <= 1000:
            raise ValidationError(_l("Between 0,5 and 1000 hours, or empty."))


class TemplateForm(FlaskForm):
    name = StringField(_l("Name of the template"), validators=[
        DataRequired(_l("Enter a name.")), _max(120)])
    design = SelectField(_l("Design"), choices=choices(DESIGN_LABELS.items()),
                         validate_choice=False, default="classic")
    bilingual = BooleanField(_l("Bilingual: Vietnamese first, English below"), default=True)
    issuer_name = StringField(_l("Issuing body (Vietnamese)"), default="BỘ NGOẠI GIAO",
                              validators=[DataRequired(_l("Enter the issuing body.")), _max(255)])
    issuer_name_en = StringField(_l("Issuing body (English)"),
                                 default="MINISTRY OF FOREIGN AFFAIRS", validators=[_max(255)])
    register_prefix = StringField(_l("Register prefix"), validators=[Optional(), _max(20)])
    heading = StringField(_l("Heading (Vietnamese)"), default="GIẤY CHỨNG NHẬN",
                          validators=[DataRequired(_l("Enter the heading.")), _max(255)])
    heading_en = StringField(_l("Heading (English)"), default="CERTIFICATE OF COMPLETION",
                             validators=[_max(255)])
    body = TextAreaField(_l("Wording under the name (Vietnamese)"), render_kw={"rows": 3},
                         validators=[Optional(), _max(2000)])
    body_en = TextAreaField(_l("Wording under the name (English)"), render_kw={"rows": 3},
                            validators=[Optional(), _max(2000)])
    signer_name = StringField(_l("Signer's name"), validators=[Optional(), _max(255)])
    signer_title = StringField(_l("Signer's title (Vietnamese)"),
                               validators=[Optional(), _max(255)])
    signer_title_en = StringField(_l("Signer's title (English)"),
                                  validators=[Optional(), _max(255)])
    logo = FileField(_l("Logo (PNG or JPEG)"))
    remove_logo = BooleanField(_l("Remove the logo"))
    seal = FileField(_l("Seal or signature image (PNG or JPEG)"))
    remove_seal = BooleanField(_l("Remove the seal image"))
    is_default = BooleanField(_l("Default template (for courses that choose none)"))
    preview = SubmitField(_l("Preview with sample data"))
    save = SubmitField(_l("Save the template"))


class CourseCertificateForm(FlaskForm):
    template_id = SelectField(_l("Certificate template"), validate_choice=False)
    hours = DecimalHoursField(_l("Hours printed on the certificate"),
                              validators=[Optional(), HoursRange()])
    title_en = StringField(_l("English title of the course (for bilingual certificates)"),
                           validators=[Optional(), _max(255)])

    def __init__(self, *args, template_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.template_id.choices = choices(template_choices)


class RevokeForm(FlaskForm):
    reason = TextAreaField(_l("Reason for revoking"), render_kw={"rows": 3}, validators=[
        DataRequired(_l("Please give the reason for revoking the certificate.")), _max(1000)])


class ReissueForm(FlaskForm):
    confirm = BooleanField(_l("I have checked the name: replace the certificate"), validators=[
        DataRequired(_l("Tick the box to confirm."))])


class CertificateFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form

    q = StringField(_l("Name, employee code or serial"), validators=[Optional(), _max(200)])
    status = SelectField(_l("Status"), validate_choice=False, choices=choices(
        [("", _l("Any status")), *STATUS_LABELS.items()]))
