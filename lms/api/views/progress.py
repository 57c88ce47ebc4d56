"""Progress: a unit's dashboard figures, and feeds of enrolments per person, unit and course.

Each view: scope -> load or 404 -> the reports' permission rule or 403 -> read -> JSON.
"""
from __future__ import annotations

from typing import Any

from flask import g, jsonify, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from lms.api import progress
from lms.api.pagination import cursor_page
from lms.api.spec import (
    DATETIME,
    NULLABLE_DATETIME,
    PARAMETERS,
    operation,
    page_schema,
    path_parameter,
)
from lms.api.views import bp, datetime_arg, forbidden, not_found, page_json, principal, requires_scope
from lms.courses.permissions import can_view_learning_of
from lms.db import db, iso_utc, utcnow
from lms.org.models import Unit
from lms.reports.figures import Filters
from lms.reports.permissions import can_view_unit_report
from lms.reports.queries import live_dashboard

SCOPE = "progress:read"


def _unit(code: str) -> Unit:
    unit = progress.find_unit(db.session, code)
    if unit is None:
        raise not_found(_("The unit %(code)s", code=code))
    if not can_view_unit_report(principal(), unit):
        raise forbidden()
    return unit


def _course_id(slug: str | None) -> int | None:
    if not slug:
        return None
    course = progress.find_course(db.session, slug)
    if course is None:
        raise not_found(_("The course %(slug)s", slug=slug))
    return course.id


def _feed(**narrow: Any):
    statement = progress.enrolment_feed(principal(), updated_since=datetime_arg("updated_since"),
                                        **narrow)
    page = cursor_page(db.session, statement, progress.FEED_KEY, progress.FEED_KEY_KINDS,
                       progress.feed_key)
    now = utcnow()
    g.api_summary = f"enrolments={len(page.rows)}"
    return page_json([progress.enrolment_json(row, now) for row in page.rows], page.next_cursor)


@bp.get("/units/<code>/progress")
@requires_scope(SCOPE)
def unit_progress(code: str):
    """The figures of the unit head's dashboard: the subtree's total, the people placed in
    the unit itself, and each sub-unit."""
    unit = _unit(code)
    dashboard = live_dashboard(db.session, unit, Filters(course_id=_course_id(request.args.get("course"))),
                               utcnow())
    own = [line for line in dashboard.rows if line.kind == "own"]
    g.api_summary = f"unit={unit.code}"
    return jsonify({
        "unit": progress.unit_json(unit),
        "as_of": iso_utc(dashboard.at),
        "total": progress.figures_json(dashboard.total.figures),
        "own": progress.figures_json(own[0].figures) if own else None,
        "sub_units": [{"unit": {"code": line.code, "name": line.name,
                                "name_en": line.name_en or None},
                       "figures": progress.figures_json(line.figures)}
                      for line in dashboard.unit_rows],
    })


@bp.get("/progress")
@requires_scope(SCOPE)
def progress_feed():
    unit_code = request.args.get("unit")
    unit = _unit(unit_code) if unit_code else None
    return _feed(unit=unit, course_id=_course_id(request.args.get("course")))


@bp.get("/people/<employee_code>/progress")
@requires_scope(SCOPE)
def person_progress(employee_code: str):
    person = progress.find_person(db.session, employee_code)
    if person is None:
        raise not_found(_("The person %(code)s", code=employee_code))
    if not can_view_learning_of(principal(), person):
        raise forbidden()
    return _feed(person_id=person.id)


@bp.get("/courses/<slug>/progress")
@requires_scope(SCOPE)
def course_progress(slug: str):
    course_id = _course_id(slug)
    unit_code = request.args.get("unit")
    return _feed(course_id=course_id, unit=_unit(unit_code) if unit_code else None)


# ---------------------------------------------------------------- the OpenAPI description

TAG = {"name": "progress", "description": _l("Who completed what: figures and enrolments.")}

FIGURES = {
    "type": "object",
    "required": ["headcount", "assigned", "started", "in_progress", "not_started", "completed",
                 "completion_pct", "on_track", "overdue", "average_score", "certificates"],
    "properties": {
        **{name: {"type": "integer", "minimum": 0} for name in (
            "headcount", "assigned", "started", "in_progress", "not_started", "completed",
            "on_track", "overdue", "certificates")},
        "completion_pct": {"type": ["number", "null"], "minimum": 0, "maximum": 100},
        "average_score": {"type": ["number", "null"]},
    },
}

UNIT_REF = {
    "type": "object",
    "required": ["code", "name", "name_en"],
    "properties": {"code": {"type": "string"}, "name": {"type": "string"},
                   "name_en": {"type": ["string", "null"]}, "kind": {"type": "string"}},
}

SCHEMAS = {
    "Figures": FIGURES,
    "UnitRef": UNIT_REF,
    "UnitProgress": {
        "type": "object",
        "required": ["unit", "as_of", "total", "own", "sub_units"],
        "properties": {
            "unit": {"$ref": "#/components/schemas/UnitRef"},
            "as_of": DATETIME,
            "total": {"$ref": "#/components/schemas/Figures"},
            "own": {"oneOf": [{"$ref": "#/components/schemas/Figures"}, {"type": "null"}],
                    "description": _l("People placed in the unit itself (null when none).")},
            "sub_units": {"type": "array", "items": {
                "type": "object", "required": ["unit", "figures"],
                "properties": {"unit": {"$ref": "#/components/schemas/UnitRef"},
                               "figures": {"$ref": "#/components/schemas/Figures"}}}},
        },
    },
    "Enrolment": {
        "type": "object",
        "required": ["id", "person", "course", "source", "status", "progress_pct", "enrolled_at",
                     "started_at", "completed_at", "due_at", "overdue", "quiz_score",
                     "certified_at", "updated_at"],
        "properties": {
            "id": {"type": "integer"},
            "person": {
                "type": "object",
                "required": ["employee_code", "full_name", "email", "unit_code", "active"],
                "properties": {"employee_code": {"type": "string"}, "full_name": {"type": "string"},
                               "email": {"type": "string"}, "unit_code": {"type": "string"},
                               "active": {"type": "boolean"}}},
            "course": {"type": "object", "required": ["slug", "title"],
                       "properties": {"slug": {"type": "string"}, "title": {"type": "string"}}},
            "source": {"type": "string", "enum": ["self", "assigned"]},
            "assignment_id": {"type": ["integer", "null"]},
            "status": {"type": "string", "enum": ["not_started", "in_progress", "completed"]},
            "progress_pct": {"type": "integer", "minimum": 0, "maximum": 100},
            "enrolled_at": DATETIME,
            "started_at": NULLABLE_DATETIME,
            "completed_at": NULLABLE_DATETIME,
            "due_at": NULLABLE_DATETIME,
            "overdue": {"type": "boolean"},
            "quiz_score": {"type": ["number", "null"]},
            "certified_at": NULLABLE_DATETIME,
            "updated_at": DATETIME,
        },
    },
    "EnrolmentPage": page_schema("Enrolment"),
}

FEED_PARAMETERS = [PARAMETERS["updated_since"], PARAMETERS["cursor"], PARAMETERS["limit"]]
UNIT_FILTER = {"name": "unit", "in": "query", "required": False,
               "description": _l("Only people of this unit and the units below it (unit code)."),
               "schema": {"type": "string"}}
COURSE_FILTER = {"name": "course", "in": "query", "required": False,
                 "description": _l("Only this course (its slug)."), "schema": {"type": "string"}}
FEED_DESCRIPTION = _l(
    "Ordered by updated_at, then id. Follow next_cursor (or links.next) until it is null. "
    "For incremental pulls keep the largest updated_at you received and pass it as "
    "updated_since next time: items changed at that very moment come again, so store them "
    "by id.")
PAGE = {"$ref": "#/components/schemas/EnrolmentPage"}

PATHS = {
    "/units/{code}/progress": {"get": operation(
        "getUnitProgress", _l("A unit's figures, as on the unit head's dashboard"),
        scope=SCOPE, tag="progress", response={"$ref": "#/components/schemas/UnitProgress"},
        description=_l("Totals of the unit and everything below it, the people placed in the "
                       "unit itself, and one line per sub-unit. Assigned training only."),
        parameters=[path_parameter("code", _l("Unit code")), COURSE_FILTER])},
    "/progress": {"get": operation(
        "listProgress", _l("Enrolments visible to the client"), scope=SCOPE, tag="progress",
        response=PAGE, description=FEED_DESCRIPTION,
        parameters=[UNIT_FILTER, COURSE_FILTER, *FEED_PARAMETERS])},
    "/people/{employee_code}/progress": {"get": operation(
        "getPersonProgress", _l("One person's enrolments"), scope=SCOPE, tag="progress",
        response=PAGE, description=FEED_DESCRIPTION,
        parameters=[path_parameter("employee_code", _l("Employee code")), *FEED_PARAMETERS])},
    "/courses/{slug}/progress": {"get": operation(
        "getCourseProgress", _l("Enrolments in one course"), scope=SCOPE, tag="progress",
        response=PAGE, description=FEED_DESCRIPTION,
        parameters=[path_parameter("slug", _l("Course slug")), UNIT_FILTER, *FEED_PARAMETERS])},
}
