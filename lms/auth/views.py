"""Sign-in, sign-out, password change and personal preferences."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from lms.auth import services
from lms.auth.forms import ChangePasswordForm, LanguageForm, LoginForm, PreferencesForm
from lms.auth.sessions import sign_in, sign_out_everywhere
from lms.db import db
from lms.errors import DomainError
from lms.extensions import limiter
from lms.i18n import LANGUAGES
from lms.notify.forms import email_preferences_form
from lms.notify.services import email_modes, set_email_mode
from lms.org.services import update_own_preferences
from lms.urls import local_path

bp = Blueprint("auth", __name__)

ALLOWED_WHILE_PASSWORD_EXPIRED = {"auth.change_password", "auth.logout", "auth.set_language",
                                  "static"}


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after sign-in (no open redirects)."""
    return local_path(target) or url_for("home.index")


def _login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.before_app_request
def _force_password_change():
    if (current_user.is_authenticated and current_user.must_change_password
            and request.endpoint not in ALLOWED_WHILE_PASSWORD_EXPIRED):
        return redirect(url_for("auth.change_password"))
    return None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = services.authenticate(db.session, form.login.data, form.password.data)
        except services.SignInError as exc:
            db.session.commit()  # remember the failed attempt
            error = exc.message
        else:
            sign_in(user)
            db.session.commit()
            if user.must_change_password:
                flash(_("Please choose a new password before you continue."), "info")
                return redirect(url_for("auth.change_password"))
            return redirect(_safe_next(request.args.get("next")))
    status = 200 if error is None else 401
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    locale = current_user.locale
    sign_out_everywhere(current_user._get_current_object())
    db.session.commit()
    session["lang"] = locale
    flash(_("You have signed out on all your devices."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            services.change_own_password(db.session, user, form.current_password.data,
                                         form.new_password.data)
        except DomainError as exc:
            getattr(form, exc.field or "new_password").errors.append(exc.message)
        else:
            sign_in(user)  # every old session ended; this browser gets a fresh one
            db.session.commit()
            flash(_("Your password was changed. You were signed out on your other devices."),
                  "success")
            return redirect(url_for("home.index"))
    return render_template("auth/change_password.html", form=form,
                           forced=current_user.must_change_password,
                           min_length=current_app.config["PASSWORD_MIN_LENGTH"])


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    user = current_user._get_current_object()
    form = PreferencesForm(obj=user)
    if form.validate_on_submit():
        try:
            update_own_preferences(db.session, user, form.locale.data, form.timezone.data)
        except DomainError as exc:
            getattr(form, exc.field or "locale").errors.append(exc.message)
        else:
            db.session.commit()
            flash(_("Your preferences were saved."), "success")
            return redirect(url_for("auth.account"))
    email_form = email_preferences_form(email_modes(db.session, user.id), formdata=None)
    return render_template("auth/account.html", form=form, user=user, email_form=email_form)


@bp.route("/account/notifications", methods=["POST"])
@login_required
def email_preferences():
    """Save how the person wants e-mail for each category of notifications."""
    user = current_user._get_current_object()
    email_form = email_preferences_form(email_modes(db.session, user.id))
    if email_form.validate_on_submit():
        try:
            for category, field, _mandatory in email_form.categories():
                set_email_mode(db.session, user.id, category, field.data)
        except DomainError as exc:
            db.session.rollback()
            email_form.form_errors.append(exc.message)
        else:
            db.session.commit()
            flash(_("Your e-mail preferences were saved."), "success")
            return redirect(url_for("auth.account", _anchor="email-preferences"))
    return render_template("auth/account.html", form=PreferencesForm(obj=user), user=user,
                           email_form=email_form), 400


@bp.route("/language/<code>", methods=["POST"])
def set_language(code: str):
    form = LanguageForm()
    if code in LANGUAGES and form.validate_on_submit():
        session["lang"] = code
        if current_user.is_authenticated:
            current_user.locale = code
            db.session.commit()
    return redirect(_safe_next(request.form.get("next")))
