"""What the organisation domain does: units, people and roles.

Plain functions taking the session; they check invariants, raise DomainError with a
message for the user, and flush; the caller commits.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lms.audit.services import record
from lms.auth.sessions import end_all_sessions
from lms.db import utcnow
from lms.errors import DomainError
from lms.i18n import LANGUAGES, is_valid_timezone
from lms.org.events import people_placed
from lms.org.models import DEFAULT_TIMEZONE, ConcurrentPost, Role, RoleGrant, Unit, UnitKind, User
from lms.text import clean, fold, sort_key

ROLES_NEEDING_UNIT = {Role.UNIT_HEAD.value}


# ---------------------------------------------------------------- units

@dataclass
class UnitData:
    code: str
    name: str
    name_en: str = ""
    kind: str = UnitKind.DIVISION.value
    parent_id: int | None = None
    timezone: str = DEFAULT_TIMEZONE


def _check_unit_data(dbs: Session, data: UnitData, unit: Unit | None = None) -> UnitData:
    data = UnitData(code=clean(data.code).upper(), name=clean(data.name), name_en=clean(data.name_en),
                    kind=data.kind, parent_id=data.parent_id, timezone=data.timezone)
    if not data.code:
        raise DomainError(_("A unit needs a code."), field="code")
    if not data.name:
        raise DomainError(_("A unit needs a name."), field="name")
    if data.kind not in {k.value for k in UnitKind}:
        raise DomainError(_("Unknown kind of unit."), field="kind")
    if not is_valid_timezone(data.timezone):
        raise DomainError(_("Unknown timezone."), field="timezone")
    clash = dbs.scalar(select(Unit.id).where(Unit.code == data.code))
    if clash is not None and (unit is None or clash != unit.id):
        raise DomainError(_("Another unit already has the code %(code)s.", code=data.code),
                          field="code")
    return data


def create_unit(dbs: Session, actor: Any, data: UnitData) -> Unit:
    data = _check_unit_data(dbs, data)
    parent = dbs.get(Unit, data.parent_id) if data.parent_id else None
    if data.parent_id and parent is None:
        raise DomainError(_("The parent unit does not exist."), field="parent_id")
    if parent is None and dbs.scalar(select(func.count()).select_from(Unit)) > 0:
        raise DomainError(_("Choose the unit this one belongs to."), field="parent_id")
    if parent is not None and not parent.is_active:
        raise DomainError(_("A unit cannot be added under a deactivated unit."), field="parent_id")
    unit = Unit(code=data.code, name=data.name, name_en=data.name_en, kind=data.kind,
                parent_id=data.parent_id, timezone=data.timezone, path="")
    dbs.add(unit)
    dbs.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    dbs.flush()
    record(dbs, actor, "unit.created", unit, code=unit.code)
    return unit


def update_unit(dbs: Session, actor: Any, unit: Unit, data: UnitData) -> Unit:
    """Rename or re-code a unit and, when the parent changes, move it with its subtree."""
    data = _check_unit_data(dbs, data, unit)
    changes = {f: getattr(data, f) for f in ("code", "name", "name_en", "kind", "timezone")
               if getattr(unit, f) != getattr(data, f)}
    for field, value in changes.items():
        setattr(unit, field, value)
    if data.parent_id != unit.parent_id:
        move_unit(dbs, actor, unit, data.parent_id)
    if changes:
        record(dbs, actor, "unit.updated", unit, changes=changes)
    dbs.flush()
    return unit


def move_unit(dbs: Session, actor: Any, unit: Unit, new_parent_id: int | None) -> None:
    """Move a unit, with everything below it, under another unit."""
    if unit.parent_id is None:
        raise DomainError(_("The ministry itself cannot be moved."), field="parent_id")
    parent = dbs.get(Unit, new_parent_id) if new_parent_id else None
    if parent is None:
        raise DomainError(_("Choose the unit to move this one under."), field="parent_id")
    if parent.path.startswith(unit.path):
        raise DomainError(_("A unit cannot be moved under itself or one of its own sub-units."),
                          field="parent_id")
    if not parent.is_active:
        raise DomainError(_("A unit cannot be moved under a deactivated unit."), field="parent_id")
    old_path, new_path = unit.path, f"{parent.path}{unit.id}/"
    old_parent_id = unit.parent_id
    unit.parent_id = parent.id
    dbs.flush()
    # One UPDATE re-roots the whole subtree's materialised paths.
    dbs.execute(
        update(Unit)
        .where(Unit.path.startswith(old_path))
        .values(path=new_path + func.substr(Unit.path, len(old_path) + 1))
        .execution_options(synchronize_session="fetch")
    )
    record(dbs, actor, "unit.moved", unit, from_parent=old_parent_id, to_parent=parent.id)
    placed(dbs, list(dbs.scalars(select(User.id).where(
        User.unit_id.in_(select(Unit.id).where(Unit.path.startswith(new_path)))))))


def placed(dbs: Session, user_ids: list[int]) -> None:
    """Tell other domains these people were placed (newly, or somewhere else)."""
    if user_ids:
        dbs.flush()
        people_placed.send(None, session=dbs, user_ids=user_ids)


def unit_activity_blockers(dbs: Session, unit: Unit) -> tuple[int, int]:
    """(active sub-units, active people) that keep a unit from being deactivated."""
    sub_units = dbs.scalar(select(func.count()).select_from(Unit).where(
        Unit.parent_id == unit.id, Unit.is_active.is_(True)))
    people = dbs.scalar(select(func.count()).select_from(User).where(
        User.unit_id == unit.id, User.is_active.is_(True)))
    return sub_units or 0, people or 0


def set_unit_active(dbs: Session, actor: Any, unit: Unit, active: bool) -> None:
    if unit.is_active == active:
        return
    if not active:
        if unit.parent_id is None:
            raise DomainError(_("The ministry itself cannot be deactivated."))
        sub_units, people = unit_activity_blockers(dbs, unit)
        if sub_units or people:
            raise DomainError(_(
                "This unit still has active sub-units (%(units)d) or active people (%(people)d). "
                "Move or deactivate them first.", units=sub_units, people=people))
    elif unit.parent is not None and not unit.parent.is_active:
        raise DomainError(_("Reactivate the parent unit first."))
    unit.is_active = active
    record(dbs, actor, "unit.reactivated" if active else "unit.deactivated", unit)
    dbs.flush()


# ---------------------------------------------------------------- people

@dataclass
class PersonData:
    employee_code: str
    full_name: str
    email: str
    unit_id: int
    position: str = ""
    locale: str = "vi"
    timezone: str = DEFAULT_TIMEZONE


def search_text_for(full_name: str, email: str, employee_code: str) -> str:
    return fold(f"{full_name} {email} {employee_code}")[:600]


def set_derived_names(person: User) -> None:
    """Keep the search and sort columns in step with the name, e-mail and code."""
    person.search_text = search_text_for(person.full_name, person.email, person.employee_code)
    person.sort_name = sort_key(person.full_name)


def normalise_person(data: PersonData) -> PersonData:
    return PersonData(
        employee_code=clean(data.employee_code).upper(),
        full_name=clean(data.full_name),
        email=clean(data.email).lower(),
        unit_id=data.unit_id,
        position=clean(data.position),
        locale=data.locale if data.locale in LANGUAGES else "vi",
        timezone=data.timezone if is_valid_timezone(data.timezone) else DEFAULT_TIMEZONE,
    )


def _check_person(dbs: Session, data: PersonData, person: User | None = None) -> PersonData:
    data = normalise_person(data)
    if not data.employee_code:
        raise DomainError(_("An employee code is required."), field="employee_code")
    if not data.full_name:
        raise DomainError(_("A full name is required."), field="full_name")
    if "@" not in data.email or " " in data.email:
        raise DomainError(_("A valid e-mail address is required."), field="email")
    unit = dbs.get(Unit, data.unit_id)
    if unit is None:
        raise DomainError(_("Choose the person's unit."), field="unit_id")
    if not unit.is_active and (person is None or person.unit_id != unit.id):
        raise DomainError(_("People cannot be placed in a deactivated unit."), field="unit_id")
    own_id = person.id if person else -1
    if dbs.scalar(select(User.id).where(User.email == data.email, User.id != own_id)):
        raise DomainError(_("Another person already uses the e-mail %(email)s.", email=data.email),
                          field="email")
    if dbs.scalar(select(User.id).where(User.employee_code == data.employee_code, User.id != own_id)):
        raise DomainError(_("Another person already has the employee code %(code)s.",
                            code=data.employee_code), field="employee_code")
    return data


def create_person(dbs: Session, actor: Any, data: PersonData, *, password_hash: str | None = None,
                  must_change_password: bool = True, audit: bool = True) -> User:
    data = _check_person(dbs, data)
    person = User(
        employee_code=data.employee_code, full_name=data.full_name, email=data.email,
        unit_id=data.unit_id, position=data.position, locale=data.locale, timezone=data.timezone,
        password_hash=password_hash, must_change_password=must_change_password,
    )
    set_derived_names(person)
    dbs.add(person)
    dbs.flush()
    if audit:
        record(dbs, actor, "person.created", person, employee_code=person.employee_code)
    placed(dbs, [person.id])
    return person


PERSON_FIELDS = ("employee_code", "full_name", "email", "unit_id", "position", "locale", "timezone")


def person_changes(person: User, data: PersonData) -> dict[str, Any]:
    return {f: getattr(data, f) for f in PERSON_FIELDS if getattr(person, f) != getattr(data, f)}


def update_person(dbs: Session, actor: Any, person: User, data: PersonData,
                  audit: bool = True) -> dict[str, Any]:
    """Apply changes to a person; returns what changed."""
    data = _check_person(dbs, data, person)
    changes = person_changes(person, data)
    for field, value in changes.items():
        setattr(person, field, value)
    if changes:
        set_derived_names(person)
        if audit:
            record(dbs, actor, "person.updated", person,
                   changes={k: str(v) for k, v in changes.items()})
    dbs.flush()
    if "unit_id" in changes:
        placed(dbs, [person.id])
    return changes


def set_person_active(dbs: Session, actor: Any, person: User, active: bool) -> None:
    """Deactivate or reactivate someone; people are never deleted, their records stay."""
    if person.is_active == active:
        return
    if not active and actor is not None and getattr(actor, "id", None) == person.id:
        raise DomainError(_("You cannot deactivate your own account."))
    if active and not person.unit.is_active:
        raise DomainError(_("Move this person to an active unit first."))
    person.is_active = active
    if not active:
        end_all_sessions(dbs, person.id, "deactivated")
    record(dbs, actor, "person.reactivated" if active else "person.deactivated", person)
    dbs.flush()
    if active:
        placed(dbs, [person.id])


def update_own_preferences(dbs: Session, user: User, locale: str, timezone: str) -> None:
    if locale not in LANGUAGES:
        raise DomainError(_("Unknown language."), field="locale")
    if not is_valid_timezone(timezone):
        raise DomainError(_("Unknown timezone."), field="timezone")
    user.locale, user.timezone = locale, timezone
    dbs.flush()


# ---------------------------------------------------------------- roles

def grant_role(dbs: Session, actor: Any, person: User, role: str, unit_id: int | None) -> RoleGrant:
    if role not in {r.value for r in Role}:
        raise DomainError(_("Unknown role."), field="role")
    if role in ROLES_NEEDING_UNIT and not unit_id:
        raise DomainError(_("A unit head's role needs the unit they lead."), field="unit_id")
    if role in {Role.ADMIN.value, Role.TRAINER.value}:
        unit_id = None  # ministry-wide roles
    unit = dbs.get(Unit, unit_id) if unit_id else None
    if unit_id and unit is None:
        raise DomainError(_("The unit does not exist."), field="unit_id")
    if not person.is_active:
        raise DomainError(_("Roles cannot be granted to a deactivated person."))
    existing = dbs.scalar(select(RoleGrant).where(
        RoleGrant.user_id == person.id, RoleGrant.role == role,
        RoleGrant.unit_id.is_(None) if unit_id is None else RoleGrant.unit_id == unit_id))
    if existing is not None:
        raise DomainError(_("This person already has that role."))
    grant = RoleGrant(user_id=person.id, role=role, unit_id=unit_id,
                      granted_by_id=getattr(actor, "id", None))
    dbs.add(grant)
    dbs.flush()
    dbs.refresh(person, ["grants"])
    record(dbs, actor, "role.granted", person, role=role, unit=unit.code if unit else None)
    placed(dbs, [person.id])
    return grant


def revoke_role(dbs: Session, actor: Any, grant: RoleGrant) -> None:
    person = grant.user
    if (grant.role == Role.ADMIN.value and getattr(actor, "id", None) == person.id):
        raise DomainError(_("You cannot remove your own admin role."))
    if grant.role == Role.ADMIN.value:
        admins = dbs.scalar(select(func.count()).select_from(RoleGrant).where(
            RoleGrant.role == Role.ADMIN.value))
        if admins <= 1:
            raise DomainError(_("The last admin's role cannot be removed."))
    record(dbs, actor, "role.revoked", person, role=grant.role,
           unit=grant.unit.code if grant.unit else None)
    dbs.delete(grant)
    dbs.flush()
    dbs.refresh(person, ["grants"])


# ---------------------------------------------------------------- concurrent posts

def add_concurrent_post(dbs: Session, actor: Any, person: User, unit_id: int,
                        position: str = "") -> ConcurrentPost:
    """Record a second post (kiêm nhiệm) in another unit; the person then counts there too."""
    unit = dbs.get(Unit, unit_id) if unit_id else None
    if unit is None or not unit.is_active:
        raise DomainError(_("Choose an active unit for the concurrent post."), field="post_unit_id")
    if unit.id == person.unit_id:
        raise DomainError(_("This is already the person's own unit."), field="post_unit_id")
    if not person.is_active:
        raise DomainError(_("A deactivated person cannot hold a post."))
    if any(post.unit_id == unit.id for post in person.posts):
        raise DomainError(_("This person already holds a post in that unit."), field="post_unit_id")
    post = ConcurrentPost(user_id=person.id, unit_id=unit.id, position=clean(position),
                          created_by_id=getattr(actor, "id", None))
    dbs.add(post)
    dbs.flush()
    dbs.expire(person, ["posts"])
    record(dbs, actor, "post.added", person, unit=unit.code, position=post.position)
    placed(dbs, [person.id])
    return post


def end_concurrent_post(dbs: Session, actor: Any, post: ConcurrentPost) -> None:
    """End a concurrent post; it stays in the person's history."""
    if post.ended_at is not None:
        return
    post.ended_at = utcnow()
    dbs.flush()
    person = dbs.get(User, post.user_id)
    dbs.expire(person, ["posts"])
    record(dbs, actor, "post.ended", person, unit=post.unit.code)
