from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from lms.forms import choices
from lms.i18n import LANGUAGES, timezone_choices


class LoginForm(FlaskForm):
    login = StringField(_l("E-mail or employee code"),
                        validators=[DataRequired(_l("Enter your e-mail or employee code.")),
                                    Length(max=254)])
    password = PasswordField(_l("Password"),
                             validators=[DataRequired(_l("Enter your password.")), Length(max=200)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"),
                                     validators=[DataRequired(_l("Enter your current password."))])
    new_password = PasswordField(_l("New password"),
                                 validators=[DataRequired(_l("Enter a new password.")),
                                             Length(max=200)])
    confirm_password = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(_l("Repeat the new password.")),
                    EqualTo("new_password", _l("The two new passwords are not the same."))])


class PreferencesForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=choices(LANGUAGES.items()))
    timezone = SelectField(_l("Timezone"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = choices(timezone_choices())


class LanguageForm(FlaskForm):
    """The language switch in the page header (a tiny POST form, works without JavaScript)."""
