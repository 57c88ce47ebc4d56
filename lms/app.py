"""The application factory."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from lms.config import load_config
from lms.db import db

PACKAGE_DIR = Path(__file__).resolve().parent


def _asset_folder(name: str) -> Path:
    """`lms/<name>` in an installed wheel, `<repo>/<name>` in the source tree."""
    installed = PACKAGE_DIR / name
    return installed if installed.is_dir() else PACKAGE_DIR.parent / name


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: config -> db -> extensions -> blueprints -> cli -> errors."""
    settings = load_config()
    settings.update(config or {})
    templates = _asset_folder("templates")
    app = Flask(
        "lms",
        instance_path=settings["INSTANCE_PATH"],
        template_folder=str(templates),
        static_folder=str(templates / "static"),
    )
    app.config.update(settings)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if app.config["PROXY_COUNT"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_COUNT"],
                                x_proto=app.config["PROXY_COUNT"])
    from lms.ops.logs import configure_logging

    configure_logging(app)

    db.init_app(app)
    _init_extensions(app)
    _register_blueprints(app)

    from lms.cli import register_commands
    from lms.errors import register_error_handlers
    from lms.security import register_security_headers
    from lms.templating import register_template_helpers

    register_commands(app)
    register_error_handlers(app)
    register_security_headers(app)
    register_template_helpers(app)
    return app


def _init_extensions(app: Flask) -> None:
    from lms.auth.sessions import init_login_manager
    from lms.extensions import babel, csrf, limiter
    from lms.i18n import select_locale, select_timezone

    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(PACKAGE_DIR / "translations")
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    csrf.init_app(app)
    limiter.init_app(app)
    init_login_manager(app)


def _register_blueprints(app: Flask) -> None:
    from lms.api import views as api
    from lms.assignments import views as assignments
    from lms.audit.views import bp as audit_bp
    from lms.auth.views import bp as auth_bp
    from lms.certificates import views as certificates
    from lms.courses.views import bp as courses_bp
    from lms.home import bp as home_bp
    from lms.mentoring import views as mentoring
    from lms.notify import views as notify
    from lms.ops import views as ops
    from lms.org.views import bp as org_bp
    from lms.quizzes import views as quizzes
    from lms.reports import views as reports

    for blueprint in (home_bp, auth_bp, org_bp, audit_bp, courses_bp):
        app.register_blueprint(blueprint)
    quizzes.init_app(app)
    certificates.init_app(app)
    assignments.init_app(app)
    reports.init_app(app)
    mentoring.init_app(app)
    notify.init_app(app)
    api.init_app(app)
    ops.init_app(app)
