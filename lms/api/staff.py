"""Staff sync: the HR system says which units exist and who works where.

The same rules as the CSV staff import apply, through the same code: people are checked by
``lms.org.importer`` (``check_rows``) and written by it (``write_rows``); units are created,
renamed and moved by ``lms.org.services``. Everything happens inside one SAVEPOINT: when any
item has a problem (or the call is a dry run) the savepoint is rolled back and nothing is
written. Units are matched by code and people by employee code, so sending the same body
twice changes nothing the second time.
"""
from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms.api.models import ApiClient
from lms.api.problems import ApiProblem
from lms.audit.services import record
from lms.errors import DomainError
from lms.org import importer
from lms.org.models import Unit, User
from lms.org.services import UnitData, create_unit, set_person_active, update_unit
from lms.text import clean

MAX_UNITS = 1000
MAX_PEOPLE = 5000

# Field -> (JSON type, longest text). Which fields are missing or too long for people is
# the importer's rule; units' texts are bounded by their columns.
UNIT_FIELDS: dict[str, tuple[str, int | None]] = {
    "code": ("string", Unit.__table__.c.code.type.length),
    "name": ("string", Unit.__table__.c.name.type.length),
    "name_en": ("string", Unit.__table__.c.name_en.type.length),
    "kind": ("string", Unit.__table__.c.kind.type.length),
    "parent_code": ("string", Unit.__table__.c.code.type.length),
    "timezone": ("string", Unit.__table__.c.timezone.type.length),
}
PERSON_FIELDS: dict[str, tuple[str, int | None]] = {
    "employee_code": ("string", None),
    "full_name": ("string", None),
    "email": ("string", None),
    "unit_code": ("string", None),
    "position": ("string", None),
    "active": ("boolean", None),
}
TOP_LEVEL = ("units", "people", "dry_run")
# The services name the unit's parent by id; the API by code.
UNIT_ERROR_FIELDS = {"parent_id": "parent_code"}
PERSON_STATUS = {"new": "created", "update": "updated", "unchanged": "unchanged"}


@dataclass
class SyncRequest:
    """The body, read: well-formed items as (index, item), and the problems of the rest."""

    units: list[tuple[int, dict[str, Any]]]
    people: list[tuple[int, dict[str, Any]]]
    dry_run: bool
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SyncOutcome:
    dry_run: bool
    units: Counter = field(default_factory=Counter)
    people: Counter = field(default_factory=Counter)
    items: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def error(self, pointer: str, field_name: str | None, detail: Any) -> None:
        self.errors.append({"pointer": pointer, "field": field_name, "detail": str(detail)})

    def item(self, pointer: str, status: str, code: str) -> None:
        self.items.append({"pointer": pointer, "status": status, "code": code})

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            "units": {key: self.units[key] for key in ("created", "updated", "unchanged")},
            "people": {key: self.people[key] for key in
                       ("created", "updated", "unchanged", "deactivated", "reactivated")},
        }

    def as_json(self) -> dict[str, Any]:
        def order(item: dict[str, Any]) -> tuple[bool, int]:
            kind, index = item["pointer"].rsplit("/", 1)
            return kind == "/people", int(index)

        return {"dry_run": self.dry_run, **self.counts(), "items": sorted(self.items, key=order)}

    def summary(self) -> str:
        """A machine-style line for the call log, e.g. ``people.created=3 people.updated=1``."""
        parts = [f"{kind}.{status}={n}" for kind, counts in (("units", self.units),
                                                             ("people", self.people))
                 for status, n in counts.items() if n]
        return " ".join((["dry_run"] if self.dry_run else []) + (parts or ["unchanged"]))


# ---------------------------------------------------------------- reading the body

def _text_problem(value: str) -> str | None:
    if any(unicodedata.category(ch) == "Cs" for ch in value):
        return _("The text is not valid Unicode.")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in value):
        return _("The text contains control characters.")
    return None


def _item_problems(item: Any, fields: dict[str, tuple[str, int | None]]) -> list[tuple[str | None, str]]:
    if not isinstance(item, dict):
        return [(None, _("Each item must be a JSON object."))]
    problems: list[tuple[str | None, str]] = []
    for key, value in item.items():
        if key not in fields:
            problems.append((key, _("Unknown field %(name)s.", name=key)))
            continue
        kind, longest = fields[key]
        if value is None:
            continue   # null: as if the field were absent
        if kind == "boolean" and not isinstance(value, bool):
            problems.append((key, _("The field %(name)s must be true or false.", name=key)))
        elif kind == "string" and not isinstance(value, str):
            problems.append((key, _("The field %(name)s must be text.", name=key)))
        elif kind == "string":
            trouble = _text_problem(value)
            if trouble:
                problems.append((key, trouble))
            elif longest is not None and len(clean(value)) > longest:
                problems.append((key, _("The field %(name)s is longer than %(n)d characters.",
                                        name=key, n=longest)))
    return problems


def read_request(body: dict[str, Any]) -> SyncRequest:
    """Check the body's shape; problems of the whole body raise, problems of items are kept
    to be reported with the rest. Too many items is a 413."""
    errors: list[dict[str, Any]] = []
    for key in body:
        if key not in TOP_LEVEL:
            errors.append({"pointer": f"/{key}", "field": key,
                           "detail": _("Unknown field %(name)s.", name=key)})
    lists: dict[str, list[Any]] = {}
    for key in ("units", "people"):
        value = body.get(key)
        if value is not None and not isinstance(value, list):
            errors.append({"pointer": f"/{key}", "field": key,
                           "detail": _("The field %(name)s must be a list.", name=key)})
        lists[key] = value if isinstance(value, list) else []
    dry_run = body.get("dry_run", False)
    if dry_run is None:
        dry_run = False
    if not isinstance(dry_run, bool):
        errors.append({"pointer": "/dry_run", "field": "dry_run",
                       "detail": _("The field %(name)s must be true or false.", name="dry_run")})
    if errors:
        raise ApiProblem(422, _("The body does not have the expected shape."), errors=errors)
    if len(lists["units"]) > MAX_UNITS or len(lists["people"]) > MAX_PEOPLE:
        raise ApiProblem(413, _("Send at most %(units)d units and %(people)d people in one call; "
                                "split the rest into further calls.",
                                units=MAX_UNITS, people=MAX_PEOPLE))
    if not lists["units"] and not lists["people"]:
        raise ApiProblem(422, _("Send at least one unit or one person."))
    request = SyncRequest(units=[], people=[], dry_run=dry_run)
    for key, fields, kept in (("units", UNIT_FIELDS, request.units),
                              ("people", PERSON_FIELDS, request.people)):
        for index, item in enumerate(lists[key]):
            problems = _item_problems(item, fields)
            for field_name, detail in problems:
                request.errors.append({"pointer": f"/{key}/{index}", "field": field_name,
                                       "detail": str(detail)})
            if not problems:
                kept.append((index, item))
    return request


# ---------------------------------------------------------------- applying it

def sync_staff(dbs: Session, request: SyncRequest, client: ApiClient) -> SyncOutcome:
    """Apply the units, then the people, or nothing when any item has a problem.

    Writes only when the outcome has no errors and the request is not a dry run; the caller
    then commits.
    """
    outcome = SyncOutcome(dry_run=request.dry_run, errors=list(request.errors))
    savepoint = dbs.begin_nested()
    try:
        _sync_units(dbs, request.units, outcome)
        _sync_people(dbs, request.people, outcome)
        if not outcome.errors and not request.dry_run:
            record(dbs, None, "staff.synced", client, client=client.name, **outcome.counts())
            dbs.flush()
    except BaseException:
        savepoint.rollback()
        raise
    if outcome.errors or request.dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    return outcome


def _code(value: Any) -> str:
    return clean(value if isinstance(value, str) else "").upper()


def _parents_first(items: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """The items in an order where a parent sent in the same call comes before its children
    (a cycle keeps its items, which then fail on their parent)."""
    position = {}
    for at, (_index, item) in enumerate(items):
        position.setdefault(_code(item.get("code")), at)
    parent_at = [position.get(_code(item.get("parent_code"))) for _index, item in items]
    done: set[int] = set()
    order: list[int] = []
    for start in range(len(items)):
        chain: list[int] = []
        in_chain: set[int] = set()
        at: int | None = start
        while at is not None and at not in done and at not in in_chain:
            chain.append(at)
            in_chain.add(at)
            at = parent_at[at]
        for at in reversed(chain):
            done.add(at)
            order.append(at)
    return [items[at] for at in order]


def _given(item: dict[str, Any], name: str, default: str) -> str:
    """The item's value of ``name``; left out or null keeps ``default``."""
    value = item.get(name)
    return clean(value) if value is not None else default


def _sync_units(dbs: Session, items: list[tuple[int, dict[str, Any]]], outcome: SyncOutcome) -> None:
    known = {unit.code: unit for unit in dbs.scalars(select(Unit))}
    first: dict[str, int] = {}
    unique = []
    for index, item in items:
        code = _code(item.get("code"))
        if code and code in first:
            outcome.error(f"/units/{index}", "code", _(
                "The unit code %(code)s is also in %(pointer)s.", code=code,
                pointer=f"/units/{first[code]}"))
            continue
        first.setdefault(code, index)
        unique.append((index, item))
    for index, item in _parents_first(unique):
        pointer = f"/units/{index}"
        code = _code(item.get("code"))
        unit = known.get(code) if code else None
        parent_id = unit.parent_id if unit is not None else None
        parent = None
        parent_code = _code(item.get("parent_code"))
        if parent_code:
            parent = known.get(parent_code)
            if parent is None:
                outcome.error(pointer, "parent_code", _(
                    "The parent unit %(code)s does not exist: create it first or send it in the "
                    "same call.", code=parent_code))
                continue
            parent_id = parent.id

        data = UnitData(
            code=code, name=clean(item.get("name")),
            name_en=_given(item, "name_en", unit.name_en if unit else ""),
            kind=_given(item, "kind", unit.kind if unit else UnitData.kind),
            parent_id=parent_id,
            # A new unit without a timezone keeps its parent's (a mission abroad, its sections).
            timezone=_given(item, "timezone", unit.timezone if unit else
                            parent.timezone if parent else UnitData.timezone),
        )
        if unit is not None and (unit.name, unit.name_en, unit.kind, unit.timezone,
                                 unit.parent_id) == (data.name, data.name_en, data.kind,
                                                     data.timezone, data.parent_id):
            outcome.units["unchanged"] += 1
            outcome.item(pointer, "unchanged", unit.code)
            continue
        try:
            # Each unit in its own savepoint: a failed one leaves the others as they were,
            # so the later items are checked against a consistent tree.
            with dbs.begin_nested():
                if unit is None:
                    unit = create_unit(dbs, None, data)
                    known[unit.code] = unit
                    status = "created"
                else:
                    update_unit(dbs, None, unit, data)
                    status = "updated"
        except DomainError as exc:
            outcome.error(pointer, UNIT_ERROR_FIELDS.get(exc.field or "", exc.field), exc.message)
            continue
        outcome.units[status] += 1
        outcome.item(pointer, status, unit.code)


def _people_by_code(dbs: Session, codes: list[str]) -> dict[str, User]:
    found: dict[str, User] = {}
    for start in range(0, len(codes), 900):
        chunk = codes[start:start + 900]
        for person in dbs.scalars(select(User).where(User.employee_code.in_(chunk))):
            found[person.employee_code] = person
    return found


def _sync_people(dbs: Session, items: list[tuple[int, dict[str, Any]]],
                 outcome: SyncOutcome) -> None:
    if not items:
        return
    rows = [importer.row_from_mapping(index + 1, item, pointer=f"/people/{index}")
            for index, item in items]
    importer.check_rows(dbs, rows)
    for row in rows:
        for problem, field_name in zip(row.problems, row.problem_fields, strict=True):
            outcome.error(row.pointer or "", field_name, problem)
    if outcome.errors:
        return   # nothing will be written: the people's own problems are all reported
    # New people get no password: they set one through the normal reset, like an import
    # applied without a temporary password.
    importer.write_rows(dbs, rows, password_hash=None)
    wanted = {row.values["employee_code"].upper(): item.get("active")
              for row, (_index, item) in zip(rows, items, strict=True)}
    people = _people_by_code(dbs, sorted(code for code, active in wanted.items()
                                         if active is not None))
    for row in rows:
        code = row.values["employee_code"].upper()
        status = PERSON_STATUS[row.status]
        active = wanted[code]
        person = people.get(code)
        if active is not None and person is not None and person.is_active != active:
            dbs.expire(person, ["unit"])   # the import may have just moved them
            try:
                set_person_active(dbs, None, person, active)
            except DomainError as exc:
                outcome.error(row.pointer or "", "active", exc.message)
                continue
            if status != "created":
                status = "reactivated" if active else "deactivated"
        outcome.people[status] += 1
        outcome.item(row.pointer or "", status, code)
