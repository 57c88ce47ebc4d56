"""Pairing mentors with mentees: one by one, in bulk balanced by load, or from a CSV file.

A mentee has one current mentor; changing the mentor ends the old pairing (kept as history).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from lms.audit.services import record
from lms.auth.permissions import is_mentor
from lms.db import utcnow
from lms.errors import DomainError
from lms.mentoring.models import Mentorship
from lms.mentoring.permissions import can_pair
from lms.notify.services import notify_each
from lms.org.models import ConcurrentPost, Role, RoleGrant, Unit, User
from lms.text import fold

log = logging.getLogger(__name__)


# What the pairing rules read of a person (role grants are loaded with every User):
# loaded up front, so checking a thousand pairs runs no query per pair.
PERMISSION_LOADS = (joinedload(User.unit), selectinload(User.posts).joinedload(ConcurrentPost.unit))


class MentoringError(DomainError):
    """A pairing, help request or coaching record that breaks a mentoring rule."""


def current_mentorship(dbs: Session, mentee_id: int) -> Mentorship | None:
    return dbs.scalar(select(Mentorship).where(Mentorship.mentee_id == mentee_id,
                                               Mentorship.ended_at.is_(None)))


def current_mentor(dbs: Session, mentee_id: int) -> User | None:
    pairing = current_mentorship(dbs, mentee_id)
    return pairing.mentor if pairing else None


def mentor_loads(dbs: Session, mentor_ids: Iterable[int]) -> dict[int, int]:
    """How many current mentees each of these mentors has (one GROUP BY)."""
    ids = list(mentor_ids)
    loads = dict.fromkeys(ids, 0)
    if ids:
        loads.update(dbs.execute(
            select(Mentorship.mentor_id, func.count())
            .where(Mentorship.mentor_id.in_(ids), Mentorship.ended_at.is_(None))
            .group_by(Mentorship.mentor_id)).all())
    return loads


def _check_pair(actor: Any, mentor: User, mentee: User) -> None:
    if mentor.id == mentee.id:
        raise MentoringError(_("A person cannot be their own mentor."))
    if not mentor.is_active or not mentee.is_active:
        raise MentoringError(_("Only active people can be paired."))
    if not is_mentor(mentor):
        raise MentoringError(_("%(name)s does not hold the mentor role. Grant it on their page "
                               "first.", name=mentor.full_name))
    if actor is not None and not can_pair(actor, mentor, mentee):
        raise MentoringError(_("You may pair only people in the units you lead."))


def pair(dbs: Session, actor: Any, mentor: User, mentee: User,
         at: datetime | None = None, notice: bool = True) -> Mentorship:
    """Make ``mentor`` the current mentor of ``mentee`` (ending any earlier pairing)."""
    _check_pair(actor, mentor, mentee)
    existing = current_mentorship(dbs, mentee.id)
    if existing is not None and existing.mentor_id == mentor.id:
        return existing
    now = at or utcnow()
    if existing is not None:
        existing.ended_at = now
        dbs.flush()  # the one-current-mentor index sees the old pairing closed first
    pairing = Mentorship(mentor_id=mentor.id, mentee_id=mentee.id, started_at=now,
                         created_by_id=getattr(actor, "id", None))
    dbs.add(pairing)
    dbs.flush()
    record(dbs, actor, "mentoring.paired", mentee, mentor=mentor.employee_code,
           previous=existing.mentor.employee_code if existing else None)
    if notice:
        _notify_paired(dbs, actor, [(mentor, mentee)])
    return pairing


def unpair(dbs: Session, actor: Any, mentee: User) -> None:
    """End the mentee's current pairing, if any."""
    existing = current_mentorship(dbs, mentee.id)
    if existing is None:
        return
    if actor is not None and not can_pair(actor, existing.mentor, mentee):
        raise MentoringError(_("You may pair only people in the units you lead."))
    existing.ended_at = utcnow()
    dbs.flush()
    record(dbs, actor, "mentoring.ended", mentee, mentor=existing.mentor.employee_code)


def _notify_paired(dbs: Session, actor: Any, pairs: Sequence[tuple[User, User]]) -> None:
    """Tell each mentee who their mentor is, and each mentor whom they got (two INSERTs)."""
    notify_each(dbs, "mentor_assigned", [(mentee.id, {"mentor": mentor.full_name})
                                         for mentor, mentee in pairs], actor=actor)
    by_mentor: dict[int, list[User]] = {}
    for mentor, mentee in pairs:
        by_mentor.setdefault(mentor.id, []).append(mentee)
    notify_each(dbs, "mentees_assigned", [
        (mentor_id, {"count": len(mentees), "names": ", ".join(m.full_name for m in mentees[:5])})
        for mentor_id, mentees in by_mentor.items()], actor=actor)


# ---------------------------------------------------------------- mentors of a unit

def nearest_role_holders(dbs: Session, unit: Unit, role: Role) -> list[User]:
    """Active people holding ``role`` on ``unit`` itself, or else on the nearest unit above it
    where someone holds it (ministry-wide holders last)."""
    ancestor_ids = [int(part) for part in unit.path.strip("/").split("/") if part]
    rows = dbs.execute(
        select(User, Unit.path)
        .join(RoleGrant, RoleGrant.user_id == User.id)
        .outerjoin(Unit, Unit.id == RoleGrant.unit_id)
        .where(RoleGrant.role == role.value, User.is_active.is_(True),
               or_(RoleGrant.unit_id.in_(ancestor_ids), RoleGrant.unit_id.is_(None)))
    ).all()
    if not rows:
        return []
    deepest = max(len(path or "") for _user, path in rows)
    chosen = {user.id: user for user, path in rows if len(path or "") == deepest}
    return sorted(chosen.values(), key=lambda u: (u.sort_name, u.id))


def unit_mentors(dbs: Session, unit: Unit) -> list[User]:
    """The mentors who answer for ``unit`` (see :func:`nearest_role_holders`)."""
    return nearest_role_holders(dbs, unit, Role.MENTOR)


def mentors_within(dbs: Session, unit: Unit) -> list[User]:
    """Active people holding the mentor role on ``unit`` or a unit below it; with none,
    the mentors of the nearest unit above."""
    subtree = select(Unit.id).where(Unit.path.startswith(unit.path))
    mentors = dbs.scalars(
        select(User).join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role == Role.MENTOR.value, RoleGrant.unit_id.in_(subtree),
               User.is_active.is_(True))
        .options(*PERMISSION_LOADS).distinct().order_by(User.sort_name, User.id)).all()
    return list(mentors) or unit_mentors(dbs, unit)


# ---------------------------------------------------------------- bulk, balanced by load

@dataclass(frozen=True)
class MentorLoad:
    mentor: User
    before: int
    after: int


@dataclass
class BulkPlan:
    """What a bulk pairing will do, shown before it is applied."""

    unit: Unit
    include_subunits: bool
    replace_existing: bool
    pairs: list[tuple[User, User]] = field(default_factory=list)      # (mentor, mentee)
    loads: list[MentorLoad] = field(default_factory=list)
    already_paired: int = 0
    unchanged: int = 0


def plan_bulk_pairing(dbs: Session, unit: Unit, include_subunits: bool = True,
                      replace_existing: bool = False) -> BulkPlan:
    """Give every active person of ``unit`` (and below) a mentor among the unit's mentors,
    each mentee to the mentor with the fewest current mentees at that moment.

    People who already have a mentor keep them unless ``replace_existing``; then everyone is
    shared out afresh, and a person whose fair share is their current mentor stays put."""
    mentors = mentors_within(dbs, unit)
    if not mentors:
        raise MentoringError(_("Nobody holds the mentor role in %(unit)s or above it. Grant the "
                               "role to a few colleagues first.", unit=unit.name))
    units = (select(Unit.id).where(Unit.path.startswith(unit.path)) if include_subunits
             else select(Unit.id).where(Unit.id == unit.id))
    people = dbs.execute(
        select(User, Mentorship.mentor_id)
        .outerjoin(Mentorship, (Mentorship.mentee_id == User.id) & Mentorship.ended_at.is_(None))
        .where(User.unit_id.in_(units), User.is_active.is_(True))
        .options(*PERMISSION_LOADS).order_by(User.sort_name, User.id)).all()
    plan = BulkPlan(unit=unit, include_subunits=include_subunits,
                    replace_existing=replace_existing)
    mentor_ids = {m.id for m in mentors}
    loads = mentor_loads(dbs, mentor_ids)
    before = dict(loads)
    if replace_existing:  # everyone here is shared out again: their pairings stop counting
        for _person, mentor_id in people:
            if mentor_id in loads:
                loads[mentor_id] -= 1
    for person, mentor_id in people:
        if mentor_id is not None and not replace_existing:
            plan.already_paired += 1
            continue
        candidates = [m for m in mentors if m.id != person.id]
        if not candidates:  # the only mentor is this person
            continue
        chosen = min(candidates, key=lambda m: (loads[m.id], m.sort_name, m.id)).id
        if mentor_id in mentor_ids and mentor_id != person.id and loads[mentor_id] <= loads[chosen]:
            plan.unchanged += 1  # keeping the current mentor is as fair: no change
            chosen = mentor_id
        else:
            plan.pairs.append((next(m for m in mentors if m.id == chosen), person))
        loads[chosen] += 1
    plan.loads = [MentorLoad(m, before[m.id], loads[m.id]) for m in mentors]
    return plan


def apply_bulk_pairing(dbs: Session, actor: Any, unit: Unit, include_subunits: bool = True,
                       replace_existing: bool = False) -> BulkPlan:
    """Plan again (so nothing stale is applied) and make the pairs, all in one transaction."""
    plan = plan_bulk_pairing(dbs, unit, include_subunits, replace_existing)
    _apply_pairs(dbs, actor, plan.pairs)
    record(dbs, actor, "mentoring.bulk_paired", unit, label=unit.name, pairs=len(plan.pairs),
           replace_existing=replace_existing)
    return plan


def _apply_pairs(dbs: Session, actor: Any, pairs: Sequence[tuple[User, User]]) -> None:
    """End the mentees' current pairings and add the new ones (two statements)."""
    if not pairs:
        return
    for mentor, mentee in pairs:
        _check_pair(actor, mentor, mentee)
    now = utcnow()
    mentee_ids = [mentee.id for _mentor, mentee in pairs]
    dbs.execute(update(Mentorship).where(Mentorship.mentee_id.in_(mentee_ids),
                                         Mentorship.ended_at.is_(None)).values(ended_at=now))
    dbs.execute(insert(Mentorship), [
        {"mentor_id": mentor.id, "mentee_id": mentee.id, "started_at": now,
         "created_by_id": getattr(actor, "id", None)} for mentor, mentee in pairs])
    _notify_paired(dbs, actor, pairs)
    log.info("%d mentees paired by %s", len(pairs), getattr(actor, "id", None))


# ---------------------------------------------------------------- CSV

MENTEE_HEADERS = {"mentee", "mentee code", "mentee email", "nguoi duoc ho tro",
                  "ma nguoi duoc ho tro", "hoc vien"}
MENTOR_HEADERS = {"mentor", "mentor code", "mentor email", "nguoi ho tro", "ma nguoi ho tro"}


@dataclass(frozen=True)
class CsvPair:
    line: int
    mentee: User
    mentor: User
    previous: User | None

    @property
    def unchanged(self) -> bool:
        return self.previous is not None and self.previous.id == self.mentor.id


@dataclass
class CsvPlan:
    pairs: list[CsvPair] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def changes(self) -> list[CsvPair]:
        return [p for p in self.pairs if not p.unchanged]

    @property
    def can_apply(self) -> bool:
        return not self.errors and bool(self.changes)


def _header(cell: str) -> str:
    return " ".join(fold(cell).replace("_", " ").split())


def plan_csv_pairing(dbs: Session, actor: Any, filename: str, content: bytes,
                     max_bytes: int) -> CsvPlan:
    """Read a file of (mentee, mentor) rows, each an employee code or e-mail, and check every
    row; nothing is applied while any row has an error."""
    from lms.org.importer import read_rows

    numbered, notices, utf8_ok = read_rows(filename, content, max_bytes)
    header = [_header(cell) for cell in numbered[0][1]]
    mentee_col = next((i for i, h in enumerate(header) if h in MENTEE_HEADERS), None)
    mentor_col = next((i for i, h in enumerate(header) if h in MENTOR_HEADERS), None)
    if mentee_col is None or mentor_col is None:
        message = notices[0] if notices and not utf8_ok else _(
            "The first row must name the columns “mentee” and “mentor” (employee code or e-mail "
            "of each).")
        raise MentoringError(message)
    plan = CsvPlan(notices=notices)
    rows = [(line, _at(cells, mentee_col), _at(cells, mentor_col)) for line, cells in numbered[1:]]
    if not rows:
        raise MentoringError(_("The file has a header row but no pairs."))
    people = _people_by_key(dbs, {key for _line, a, b in rows for key in (a, b) if key})
    # Each listed person's current mentor, loaded with them (one query, not one per row).
    current: dict[int, User] = dict(dbs.execute(
        select(Mentorship.mentee_id, User).join(User, User.id == Mentorship.mentor_id).where(
            Mentorship.mentee_id.in_([p.id for p in people.values()]),
            Mentorship.ended_at.is_(None))).all()) if people else {}
    seen: dict[int, int] = {}
    for line, mentee_key, mentor_key in rows:
        mentee, mentor = people.get(mentee_key.lower()), people.get(mentor_key.lower())
        error = _row_error(actor, mentee_key, mentor_key, mentee, mentor)
        if error is None and mentee.id in seen:
            error = _("%(name)s is listed twice (also on line %(line)d).",
                      name=mentee.full_name, line=seen[mentee.id])
        if error:
            plan.errors.append((line, error))
            continue
        seen[mentee.id] = line
        plan.pairs.append(CsvPair(line, mentee, mentor, current.get(mentee.id)))
    return plan


def _at(cells: list[str], index: int) -> str:
    return cells[index].strip() if index < len(cells) else ""


def _people_by_key(dbs: Session, keys: set[str]) -> dict[str, User]:
    """People found by employee code or e-mail (case-insensitive), keyed by the lower-cased key."""
    lowered = sorted({k.lower() for k in keys})
    found: dict[str, User] = {}
    for start in range(0, len(lowered), 400):
        chunk = lowered[start:start + 400]
        for person in dbs.scalars(select(User).options(*PERMISSION_LOADS).where(or_(
                func.lower(User.employee_code).in_(chunk), func.lower(User.email).in_(chunk)))):
            found[person.employee_code.lower()] = person
            found[person.email.lower()] = person
    return found


def _row_error(actor: Any, mentee_key: str, mentor_key: str, mentee: User | None,
               mentor: User | None) -> str | None:
    if not mentee_key or not mentor_key:
        return _("Both the mentee and the mentor are needed.")
    if mentee is None:
        return _("Nobody has the code or e-mail “%(key)s”.", key=mentee_key)
    if mentor is None:
        return _("Nobody has the code or e-mail “%(key)s”.", key=mentor_key)
    try:
        _check_pair(actor, mentor, mentee)
    except MentoringError as exc:
        return exc.message
    return None


def apply_csv_pairing(dbs: Session, actor: Any, filename: str, content: bytes,
                      max_bytes: int) -> CsvPlan:
    """Check the whole file again and apply it only if every row is right."""
    plan = plan_csv_pairing(dbs, actor, filename, content, max_bytes)
    if plan.errors:
        raise MentoringError(_("Nothing was changed: %(n)d rows have errors.", n=len(plan.errors)))
    pairs = [(p.mentor, p.mentee) for p in plan.changes]
    _apply_pairs(dbs, actor, pairs)
    record(dbs, actor, "mentoring.csv_paired", None, label=filename, pairs=len(pairs))
    return plan

