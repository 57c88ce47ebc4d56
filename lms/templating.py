"""What templates may call: permission predicates, labels and formatting, never queries."""
from __future__ import annotations

from flask import Flask, request
from flask_babel import get_locale

from lms.audit.permissions import can_view_audit_log
from lms.auth.forms import LanguageForm
from lms.auth.permissions import is_admin, is_mentor, is_trainer, is_unit_head
from lms.db import utcnow
from lms.i18n import LANGUAGES, local_datetime
from lms.org.forms import ROLE_LABELS, UNIT_KIND_LABELS
from lms.org.permissions import can_browse_org, can_manage_org, can_view_person, can_view_unit


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["local_dt"] = local_datetime
    app.jinja_env.globals.update(
        can_manage_org=can_manage_org,
        can_browse_org=can_browse_org,
        can_view_unit=can_view_unit,
        can_view_person=can_view_person,
        can_view_audit_log=can_view_audit_log,
        is_admin=is_admin,
        is_trainer=is_trainer,
        is_unit_head=is_unit_head,
        is_mentor=is_mentor,
        LANGUAGES=LANGUAGES,
        ROLE_LABELS=ROLE_LABELS,
        UNIT_KIND_LABELS=UNIT_KIND_LABELS,
    )

    @app.context_processor
    def _page_context():
        return {
            "current_locale": str(get_locale() or app.config["BABEL_DEFAULT_LOCALE"]),
            "language_form": LanguageForm(formdata=None),  # never re-reads the body
            "current_path": request.full_path.rstrip("?") if request else "/",
            "now_utc": utcnow(),
        }
