"""Staff sync: the HR system sends its units and people; the platform follows.

scope -> the organisation's permission rule or 403 -> read the body -> sync (all or nothing,
in a savepoint) -> commit -> counts and one line per item.
"""
from __future__ import annotations

from flask import g, jsonify
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy.exc import IntegrityError

from lms.api import staff
from lms.api.problems import ApiProblem
from lms.api.spec import operation
from lms.api.views import bp, json_body, principal, requires_scope
from lms.db import db
from lms.org.models import UnitKind
from lms.org.permissions import can_manage_org

SCOPE = "staff:write"


@bp.post("/staff/sync")
@requires_scope(SCOPE)
def sync_staff():
    """Create, update, move, deactivate and reactivate units and people from the HR list."""
    if not can_manage_org(principal()):
        raise ApiProblem(403, _("This client may not change the organisation."))
    request = staff.read_request(json_body())
    dbs = db.session
    try:
        outcome = staff.sync_staff(dbs, request, principal().client)
        if outcome.errors:
            g.api_summary = f"refused problems={len(outcome.errors)}"
            raise ApiProblem(422, ngettext(
                "%(num)d problem was found, so nothing was changed. Correct the items listed "
                "in errors and send the whole body again.",
                "%(num)d problems were found, so nothing was changed. Correct the items listed "
                "in errors and send the whole body again.", len(outcome.errors)),
                errors=outcome.errors)
        if not request.dry_run:
            dbs.commit()
    except IntegrityError as exc:
        dbs.rollback()
        raise ApiProblem(409, _("Someone changed the same units or people at the same time. "
                                "Nothing was changed; send the body again.")) from exc
    g.api_summary = outcome.summary()
    return jsonify(outcome.as_json())


# ---------------------------------------------------------------- the OpenAPI description

TAG = {"name": "staff", "description": _l(
    "Staff sync from the HR system: units and people, all or nothing.")}


def _text(description, max_length: int | None = None, nullable: bool = False) -> dict:
    schema: dict = {"type": ["string", "null"] if nullable else "string",
                    "description": description}
    if not nullable:
        schema["minLength"] = 1
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


def _counts(*names: str) -> dict:
    return {"type": "object", "required": list(names), "additionalProperties": False,
            "properties": {name: {"type": "integer", "minimum": 0} for name in names}}


SCHEMAS = {
    "StaffSyncUnit": {
        "type": "object",
        "required": ["code", "name"],
        "additionalProperties": False,
        "description": _l("A unit, matched by its code: created when new, otherwise updated. "
                          "A field left out (or null) keeps its current value."),
        "properties": {
            "code": _text(_l("The unit's code (letter case does not matter)."),
                          staff.UNIT_FIELDS["code"][1]),
            "name": _text(_l("Name in Vietnamese."), staff.UNIT_FIELDS["name"][1]),
            "name_en": _text(_l("Name in English."), staff.UNIT_FIELDS["name_en"][1], True),
            "kind": {"type": ["string", "null"], "enum": [k.value for k in UnitKind] + [None],
                     "description": _l("Kind of unit; a new unit without it is a division.")},
            "parent_code": _text(_l(
                "Code of the unit it belongs to: an existing unit or one sent in the same call "
                "(in any order). Required for a new unit, except the very first one; a "
                "different parent moves the unit with everything below it."),
                staff.UNIT_FIELDS["parent_code"][1], True),
            "timezone": _text(_l("IANA timezone, e.g. Asia/Ho_Chi_Minh; a new unit without "
                                 "it takes its parent's."), staff.UNIT_FIELDS["timezone"][1], True),
        },
    },
    "StaffSyncPerson": {
        "type": "object",
        "required": ["employee_code", "full_name", "email", "unit_code"],
        "additionalProperties": False,
        "description": _l("A person, matched by employee code, checked by the same rules as "
                          "the CSV staff import. New people get no password: an administrator "
                          "sets one for them."),
        "properties": {
            "employee_code": _text(_l("Employee code (letter case does not matter).")),
            "full_name": _text(_l("Full name.")),
            "email": _text(_l("Work e-mail, unique per person.")),
            "unit_code": _text(_l("Code of the unit the person is placed in (an existing "
                                  "active unit, or one sent in the same call).")),
            "position": _text(_l("Position; left out or null keeps the current one."),
                              nullable=True),
            "active": {"type": ["boolean", "null"], "description": _l(
                "false deactivates the person (their records stay), true reactivates them; "
                "left out or null leaves it as it is.")},
        },
    },
    "StaffSyncRequest": {
        "type": "object",
        "additionalProperties": False,
        "description": _l("At least one unit or person. Units are applied first, so people "
                          "may be placed in units created by the same call."),
        "anyOf": [{"required": ["units"], "properties": {"units": {"type": "array", "minItems": 1}}},
                  {"required": ["people"], "properties": {"people": {"type": "array", "minItems": 1}}}],
        "properties": {
            "units": {"type": ["array", "null"], "maxItems": staff.MAX_UNITS,
                      "items": {"$ref": "#/components/schemas/StaffSyncUnit"}},
            "people": {"type": ["array", "null"], "maxItems": staff.MAX_PEOPLE,
                       "items": {"$ref": "#/components/schemas/StaffSyncPerson"}},
            "dry_run": {"type": ["boolean", "null"], "default": False, "description": _l(
                "true: check everything and report what would change, without writing.")},
        },
    },
    "StaffSyncResult": {
        "type": "object",
        "required": ["dry_run", "units", "people", "items"],
        "additionalProperties": False,
        "properties": {
            "dry_run": {"type": "boolean"},
            "units": _counts("created", "updated", "unchanged"),
            "people": {**_counts("created", "updated", "unchanged", "deactivated", "reactivated"),
                       "description": _l(
                           "Each person counts once: deactivated or reactivated when their "
                           "active state changed (even if other fields changed too), a new "
                           "person as created.")},
            "items": {"type": "array", "description": _l(
                "One line per item sent: units first, then people, in the order sent."),
                "items": {
                    "type": "object",
                    "required": ["pointer", "status", "code"],
                    "additionalProperties": False,
                    "properties": {
                        "pointer": {"type": "string", "description": _l(
                            "JSON Pointer to the item in the request, e.g. /people/3.")},
                        "status": {"type": "string", "enum": [
                            "created", "updated", "unchanged", "deactivated", "reactivated"]},
                        "code": {"type": "string", "description": _l(
                            "The unit's code or the person's employee code, as stored.")},
                    },
                }},
        },
    },
}


SYNC = operation(
    "syncStaff", _l("Create and update units and people from the HR system"),
    scope=SCOPE, tag="staff", response={"$ref": "#/components/schemas/StaffSyncResult"},
    description=_l(
        "All or nothing: if any item has a problem, nothing is written and the 422 answer "
        "lists every problem of every item (pointer, field, detail). Units and people are "
        "matched by code, so sending the same body again changes nothing. Items whose "
        "fields have the wrong type are reported the same way. At most %(units)d units and "
        "%(people)d people per call.", units=staff.MAX_UNITS, people=staff.MAX_PEOPLE),
    request_body={"$ref": "#/components/schemas/StaffSyncRequest"},
    errors=("400", "409", "413", "415", "422"),
)

PATHS = {"/staff/sync": {"post": SYNC}}
