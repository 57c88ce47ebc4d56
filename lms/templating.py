"""What templates may call: permission predicates, labels and formatting, never queries."""
from __future__ import annotations

from flask import Flask, request
from flask_babel import get_locale

from lms.api.permissions import can_manage_api_clients
from lms.assignments.permissions import can_create_assignments
from lms.audit.permissions import can_view_audit_log
from lms.auth.forms import LanguageForm
from lms.auth.permissions import is_admin, is_mentor, is_trainer, is_unit_head
from lms.certificates.permissions import can_issue_certificates
from lms.courses.labels import (
    COURSE_STATUS_LABELS,
    ENROLMENT_STATUS_LABELS,
    LENGTH_LABELS,
    LESSON_KIND_LABELS,
    TOPIC_LABELS,
)
from lms.courses.permissions import can_author_courses, can_view_learning_of
from lms.db import utcnow
from lms.i18n import LANGUAGES, days_until, local_date, local_datetime
from lms.mentoring.permissions import can_manage_mentoring
from lms.notify.permissions import can_watch_scheduler
from lms.org.forms import ROLE_LABELS, UNIT_KIND_LABELS
from lms.org.importer import COLUMN_LABELS
from lms.org.permissions import can_browse_org, can_manage_org, can_view_person, can_view_unit
from lms.reports.permissions import can_open_reports


def unit_display_name(unit) -> str:
    """The unit's English name on English pages when it has one, else its Vietnamese name."""
    if unit is None:
        return ""
    if unit.name_en and str(get_locale()) == "en":
        return unit.name_en
    return unit.name


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["local_dt"] = local_datetime
    app.jinja_env.filters["unit_name"] = unit_display_name
    app.jinja_env.filters["days_until"] = days_until
    app.jinja_env.filters["local_date"] = local_date
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
        IMPORT_COLUMN_LABELS=COLUMN_LABELS,
        TOPIC_LABELS=TOPIC_LABELS,
        LESSON_KIND_LABELS=LESSON_KIND_LABELS,
        COURSE_STATUS_LABELS=COURSE_STATUS_LABELS,
        ENROLMENT_STATUS_LABELS=ENROLMENT_STATUS_LABELS,
        LENGTH_LABELS=LENGTH_LABELS,
        can_author_courses=can_author_courses,
        can_issue_certificates=can_issue_certificates,
        can_open_reports=can_open_reports,
        can_create_assignments=can_create_assignments,
        can_view_learning_of=can_view_learning_of,
        can_manage_mentoring=can_manage_mentoring,
        can_watch_scheduler=can_watch_scheduler,
        can_manage_api_clients=can_manage_api_clients,
    )

    @app.context_processor
    def _page_context():
        return {
            "current_locale": str(get_locale() or app.config["BABEL_DEFAULT_LOCALE"]),
            "language_form": LanguageForm(formdata=None),  # never re-reads the body
            "current_path": request.full_path.rstrip("?") if request else "/",
            "now_utc": utcnow(),
        }
