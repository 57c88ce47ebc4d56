"""The figures of a unit report, computed by the database and rolled up the unit tree.

One GROUP BY over enrolments per unit (the covering index ``ix_enrolments_report`` means
the table itself is never read), one count of people per unit, and one small query for
people with concurrent posts. The roll-up then walks the (small) unit tree in Python:
each unit's figures are added to every unit on its path, so a subtree total is exact.

Concurrent posts: someone whose primary unit is A and who also holds a post in B counts in
A's and in B's figures, and once in any total covering both: their figures are added to
the units above B that are not above A.

Every figure is "as of" a moment (now, or a reporting date) and derived from timestamps,
not from the status column, so the same code freezes snapshots and draws the weekly line.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select, text
from sqlalchemy.orm import Session

from lms.courses.models import Enrolment
from lms.org.models import ConcurrentPost, Unit, User

ASSIGNED = "assigned"


@dataclass(frozen=True)
class Filters:
    """What a report view is narrowed to; every report view, export and PDF takes one."""

    course_id: int | None = None
    assignment_id: int | None = None
    due_from: date | None = None      # training due between these dates (the viewer's days)
    due_to: date | None = None
    position: str | None = None
    timezone: str = "Asia/Ho_Chi_Minh"

    @property
    def is_empty(self) -> bool:
        return not (self.course_id or self.assignment_id or self.due_from or self.due_to
                    or self.position)

    def due_bounds(self) -> tuple[datetime | None, datetime | None]:
        """The due-date window in UTC: from the start of ``due_from`` to the end of ``due_to``."""
        zone = ZoneInfo(self.timezone)
        start = datetime.combine(self.due_from, time.min, zone) if self.due_from else None
        end = (datetime.combine(self.due_to + timedelta(days=1), time.min, zone)
               if self.due_to else None)
        return start, end


@dataclass
class Figures:
    """Counts of people and of assigned training, for one unit or a subtree."""

    headcount: int = 0
    assigned: int = 0
    started: int = 0
    completed: int = 0
    overdue: int = 0
    score_sum: float = 0.0
    score_count: int = 0
    certificates: int = 0
    # Weekly line: assigned and completed as of each week's end.
    trend_assigned: list[int] = field(default_factory=list)
    trend_completed: list[int] = field(default_factory=list)

    def add(self, other: Figures, headcount: bool = True) -> None:
        if headcount:
            self.headcount += other.headcount
        self.assigned += other.assigned
        self.started += other.started
        self.completed += other.completed
        self.overdue += other.overdue
        self.score_sum += other.score_sum
        self.score_count += other.score_count
        self.certificates += other.certificates
        self.trend_assigned = _add_lists(self.trend_assigned, other.trend_assigned)
        self.trend_completed = _add_lists(self.trend_completed, other.trend_completed)

    @property
    def not_started(self) -> int:
        return self.assigned - self.started

    @property
    def in_progress(self) -> int:
        return self.started - self.completed

    @property
    def on_track(self) -> int:
        """Assigned, not completed, and not past the due date."""
        return self.assigned - self.completed - self.overdue

    @property
    def completion_pct(self) -> float | None:
        return round(100 * self.completed / self.assigned, 1) if self.assigned else None

    @property
    def average_score(self) -> float | None:
        return round(self.score_sum / self.score_count, 1) if self.score_count else None


def _add_lists(a: list[int], b: list[int]) -> list[int]:
    if not a:
        return list(b)
    if not b:
        return a
    return [x + y for x, y in zip(a, b, strict=True)]


@dataclass(frozen=True)
class UnitInfo:
    id: int
    parent_id: int | None
    path: str
    code: str
    name: str
    name_en: str
    kind: str
    is_active: bool

    @property
    def ancestor_ids(self) -> list[int]:
        """This unit and every unit above it, from its path ("/1/7/42/" -> [1, 7, 42])."""
        return [int(part) for part in self.path.strip("/").split("/") if part]

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2


# ---------------------------------------------------------------- SQL pieces

def subtree_unit_ids(path: str):
    """Unit ids of a subtree, picked from the small unit table by path prefix.

    The big tables are then filtered with ``unit_id IN (…)``: joining them on ``path LIKE``
    would make SQLite scan every row."""
    return select(Unit.id).where(Unit.path.startswith(path))


def inactive_people():
    return select(User.id).where(User.is_active.is_(False))


def enrolment_filters(filters: Filters) -> list[ColumnElement[bool]]:
    """The report filters as conditions on enrolments (people who left are not counted)."""
    conditions: list[ColumnElement[bool]] = [Enrolment.user_id.not_in(inactive_people())]
    if filters.course_id:
        conditions.append(Enrolment.course_id == filters.course_id)
    if filters.assignment_id:
        conditions.append(Enrolment.assignment_id == filters.assignment_id)
    start, end = filters.due_bounds()
    if start is not None:
        conditions.append(Enrolment.due_at >= start)
    if end is not None:
        conditions.append(Enrolment.due_at < end)
    if filters.position:
        conditions.append(Enrolment.user_id.in_(
            select(User.id).where(User.position == filters.position)))
    return conditions


def figure_columns(at: datetime, week_ends: Sequence[datetime]) -> list:
    """Aggregates over enrolment rows, as of ``at`` (and of each week end for the line).

    ``count(*) FILTER (…)`` rather than ``count(id)``: the id is not in the covering index.
    In the concurrent-posts outer join every filter names an enrolment column, so the row of
    a person without enrolments counts nowhere."""
    assigned = Enrolment.source == ASSIGNED
    done = Enrolment.completed_at <= at
    columns = [
        func.count().filter(assigned, Enrolment.enrolled_at <= at),
        func.count().filter(assigned, Enrolment.enrolled_at <= at,
                                        or_(Enrolment.started_at <= at, done)),
        func.count().filter(assigned, Enrolment.enrolled_at <= at, done),
        func.count().filter(assigned, Enrolment.enrolled_at <= at,
                                        Enrolment.due_at < at,
                                        or_(Enrolment.completed_at.is_(None),
                                            Enrolment.completed_at > at)),
        func.coalesce(func.sum(Enrolment.quiz_score), 0.0),
        func.count(Enrolment.quiz_score),
        func.count().filter(Enrolment.certified_at <= at),
    ]
    for end in week_ends:
        columns.append(func.count().filter(assigned, Enrolment.enrolled_at <= end))
        columns.append(func.count().filter(assigned, Enrolment.enrolled_at <= end,
                                           Enrolment.completed_at <= end))
    return columns


def figures_from(values: Sequence[Any], weeks: int) -> Figures:
    base = [v or 0 for v in values[:7]]
    trend = [v or 0 for v in values[7:7 + 2 * weeks]]
    return Figures(assigned=base[0], started=base[1], completed=base[2], overdue=base[3],
                   score_sum=float(base[4]), score_count=base[5], certificates=base[6],
                   trend_assigned=trend[0::2], trend_completed=trend[1::2])


def per_unit_statement(root_path: str, filters: Filters, at: datetime,
                       week_ends: Sequence[datetime] = (), unit_ids: Sequence[int] | None = None):
    """The one heavy statement: figures per unit of a subtree (GROUP BY unit_id).

    Given the subtree's unit ids as a list (the roll-up has them already), PostgreSQL reads
    only that part of the covering index (index-only scan) instead of hash-joining the whole
    table against the subquery: 118 -> 57 ms for a department of the 1M-row benchmark."""
    units = list(unit_ids) if unit_ids is not None else subtree_unit_ids(root_path)
    return (select(Enrolment.unit_id, *figure_columns(at, week_ends))
            .where(Enrolment.unit_id.in_(units), *enrolment_filters(filters))
            .group_by(Enrolment.unit_id))


# ---------------------------------------------------------------- the roll-up

@dataclass
class Rollup:
    """Figures of every unit of a subtree: ``totals`` cover the unit and everything below,
    ``own`` only the people placed in the unit itself."""

    units: dict[int, UnitInfo]
    totals: dict[int, Figures]
    own: dict[int, Figures]
    week_ends: list[datetime]

    def children(self, unit_id: int) -> list[UnitInfo]:
        return sorted((u for u in self.units.values() if u.parent_id == unit_id and u.is_active),
                      key=lambda u: u.code)


def without_jit(dbs: Session) -> None:
    """PostgreSQL's JIT compiles each roll-up anew (~90 ms) for no gain at this size: off
    for the rest of this transaction."""
    if dbs.get_bind().dialect.name == "postgresql":
        dbs.execute(text("SET LOCAL jit = off"))


def load_units(dbs: Session, root_path: str) -> dict[int, UnitInfo]:
    rows = dbs.execute(select(Unit.id, Unit.parent_id, Unit.path, Unit.code, Unit.name,
                              Unit.name_en, Unit.kind, Unit.is_active)
                       .where(Unit.path.startswith(root_path))).all()
    return {row.id: UnitInfo(*row) for row in rows}


def compute(dbs: Session, root: Unit | UnitInfo, filters: Filters | None = None,
            at: datetime | None = None, week_ends: Sequence[datetime] = ()) -> Rollup:
    """Figures of ``root`` and every unit below it, in four statements whatever the size."""
    from lms.db import utcnow
    at = at or utcnow()
    filters = filters or Filters()
    weeks = len(week_ends)
    without_jit(dbs)
    units = load_units(dbs, root.path)
    own: dict[int, Figures] = {uid: Figures(trend_assigned=[0] * weeks, trend_completed=[0] * weeks)
                               for uid in units}
    for row in dbs.execute(per_unit_statement(root.path, filters, at, week_ends, list(units))):
        if row[0] in own:
            own[row[0]].add(figures_from(row[1:], weeks))
    for unit_id, count in dbs.execute(headcount_statement(root.path, filters)):
        if unit_id in own:
            own[unit_id].headcount = count
    totals = {uid: Figures(trend_assigned=[0] * weeks, trend_completed=[0] * weeks) for uid in units}
    for unit in units.values():
        for ancestor in unit.ancestor_ids:
            if ancestor in totals:
                totals[ancestor].add(own[unit.id])
    _add_concurrent_posts(dbs, root.path, filters, at, week_ends, units, own, totals)
    return Rollup(units=units, totals=totals, own=own, week_ends=list(week_ends))


def headcount_statement(root_path: str, filters: Filters):
    conditions = [User.is_active.is_(True), User.unit_id.in_(subtree_unit_ids(root_path))]
    if filters.position:
        conditions.append(User.position == filters.position)
    return select(User.unit_id, func.count(User.id)).where(*conditions).group_by(User.unit_id)


def concurrent_statement(root_path: str, filters: Filters, at: datetime,
                         week_ends: Sequence[datetime]):
    """Per (person, post) in the subtree: the person's home unit path and figures."""
    home = Unit.__table__.alias("home")
    joined = and_(Enrolment.user_id == ConcurrentPost.user_id, *enrolment_filters(filters)[1:])
    people = [User.is_active.is_(True), ConcurrentPost.ended_at.is_(None),
              ConcurrentPost.unit_id.in_(subtree_unit_ids(root_path))]
    if filters.position:
        people.append(User.position == filters.position)
    return (select(ConcurrentPost.user_id, ConcurrentPost.unit_id, home.c.path,
                   *figure_columns(at, week_ends))
            .join(User, User.id == ConcurrentPost.user_id)
            .join(home, home.c.id == User.unit_id)
            .outerjoin(Enrolment, joined)
            .where(*people)
            .group_by(ConcurrentPost.user_id, ConcurrentPost.unit_id, home.c.path))


def _add_concurrent_posts(dbs: Session, root_path: str, filters: Filters, at: datetime,
                          week_ends: Sequence[datetime], units: dict[int, UnitInfo],
                          own: dict[int, Figures], totals: dict[int, Figures]) -> None:
    weeks = len(week_ends)
    in_own: set[tuple[int, int]] = set()       # (unit, person) pairs already added
    in_totals: set[tuple[int, int]] = set()
    for row in dbs.execute(concurrent_statement(root_path, filters, at, week_ends)):
        user_id, post_unit_id, home_path = row[0], row[1], row[2]
        post_unit = units.get(post_unit_id)
        if post_unit is None:
            continue
        person = figures_from(row[3:], weeks)
        person.headcount = 1
        home_ancestors = [int(p) for p in home_path.strip("/").split("/") if p]
        if home_ancestors[-1] != post_unit_id and (post_unit_id, user_id) not in in_own:
            in_own.add((post_unit_id, user_id))
            own[post_unit_id].add(person)
        for ancestor in post_unit.ancestor_ids:
            if ancestor in totals and ancestor not in home_ancestors \
                    and (ancestor, user_id) not in in_totals:
                in_totals.add((ancestor, user_id))
                totals[ancestor].add(person)


# ---------------------------------------------------------------- weeks

def week_ends_between(start: date, end: date, timezone: str, limit: int = 26) -> list[datetime]:
    """The ends (Sunday midnight, local) of the weeks from ``start`` to ``end``, in UTC;
    the last point is ``end``'s week, at most ``limit`` points."""
    zone = ZoneInfo(timezone)
    last_sunday = end + timedelta(days=6 - end.weekday())
    days: list[date] = []
    day = last_sunday
    while day >= start and len(days) < limit:
        days.append(day)
        day -= timedelta(days=7)
    if not days:
        days = [last_sunday]
    return [datetime.combine(d + timedelta(days=1), time.min, zone).astimezone(ZoneInfo("UTC"))
            for d in reversed(days)]


def default_week_ends(now: datetime, timezone: str, weeks: int = 12) -> list[datetime]:
    today = now.astimezone(ZoneInfo(timezone)).date()
    return week_ends_between(today - timedelta(weeks=weeks - 1), today, timezone, limit=weeks)


def clip_to(moments: Iterable[datetime], now: datetime) -> list[datetime]:
    """Week ends in the future count as now (the current week's point is "so far")."""
    return [min(m, now) for m in moments]
