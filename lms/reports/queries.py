"""Reads for the report pages: the dashboard's lines (live or frozen), the people of a unit
with their own figures, and the choices of the filter form.

Every read here is a fixed number of statements whatever the organisation's size: the
dashboard rides on ``figures.compute`` (four statements), the people list is one grouped
statement over people and their enrolments plus one count.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Iterator, NamedTuple, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Float, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from lms.assignments.models import Assignment, AssignmentPerson, TargetKind
from lms.auth.permissions import head_scope_paths
from lms.courses.models import Course, CourseStatus, Enrolment
from lms.org.models import ConcurrentPost, Role, RoleGrant, Unit, User
from lms.org.permissions import people_in_scopes_clause
from lms.pagination import Page
from lms.reports.figures import (
    ASSIGNED,
    Figures,
    Filters,
    enrolment_filters,
    subtree_unit_ids,
)
from lms.reports.models import Snapshot, SnapshotRow
from lms.reports.permissions import reads_all_reports, visible_report_people_clause
from lms.reports.services import snapshot_figures, snapshot_own_figures, snapshot_view, unit_report

EXPORT_BATCH = 1000


# ---------------------------------------------------------------- units

def top_report_unit(dbs: Session, viewer: Any) -> Unit | None:
    """Where /reports opens: the root unit for admins and trainers, else the highest unit the
    viewer heads (None: no reports for them)."""
    if reads_all_reports(viewer):
        return dbs.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id).limit(1))
    scopes = sorted(head_scope_paths(viewer), key=lambda path: (path.count("/"), path))
    if not scopes:
        return None
    return dbs.scalar(select(Unit).where(Unit.path == scopes[0]))


def ancestors(dbs: Session, unit: Unit) -> list[Unit]:
    """The units above ``unit``, from the top (one query)."""
    ids = [int(part) for part in unit.path.strip("/").split("/") if part][:-1]
    if not ids:
        return []
    units = dbs.scalars(select(Unit).where(Unit.id.in_(ids))).all()
    return sorted(units, key=lambda u: u.path.count("/"))


# ---------------------------------------------------------------- filter choices

@dataclass(frozen=True)
class FilterOptions:
    courses: list[tuple[int, str]]
    assignments: list[tuple[int, str]]
    positions: list[str]


def assignments_concerning(unit: Unit) -> ColumnElement[bool]:
    """Assignments that can concern people of the unit's subtree: ministry-wide ones, those
    targeting the unit, a unit above it or one below it, and lists naming someone in it.
    (A unit head's filter never lists another subtree's decisions.)"""
    subtree = subtree_unit_ids(unit.path)
    above_and_self = [int(part) for part in unit.path.strip("/").split("/") if part]
    listed = (select(AssignmentPerson.assignment_id)
              .join(User, User.id == AssignmentPerson.user_id).where(User.unit_id.in_(subtree)))
    return or_(and_(Assignment.target_kind != TargetKind.PEOPLE.value,
                    Assignment.target_unit_id.is_(None)),
               Assignment.target_unit_id.in_(above_and_self),
               Assignment.target_unit_id.in_(subtree),
               Assignment.id.in_(listed))


def filter_options(dbs: Session, unit: Unit, limit: int = 300) -> FilterOptions:
    """Choices of the filter form: courses that can be assigned, the assignments that can
    concern the unit's people (newest decisions first) and the positions they hold."""
    courses = dbs.execute(select(Course.id, Course.title)
                          .where(Course.status != CourseStatus.DRAFT.value)
                          .order_by(Course.title, Course.id).limit(limit)).all()
    assignments = dbs.execute(select(Assignment.id, Assignment.title, Assignment.decision_number)
                              .where(assignments_concerning(unit))
                              .order_by(Assignment.decision_date.desc(), Assignment.id.desc())
                              .limit(limit)).all()
    positions = dbs.scalars(select(User.position).distinct()
                            .where(User.is_active.is_(True), User.position != "",
                                   User.unit_id.in_(subtree_unit_ids(unit.path)))
                            .order_by(User.position).limit(limit)).all()
    return FilterOptions(
        courses=[(row.id, row.title) for row in courses],
        assignments=[(row.id, f"{row.decision_number} — {row.title}") for row in assignments],
        positions=list(positions))


def snapshot_options(dbs: Session, limit: int = 60) -> list[Snapshot]:
    """The most recent snapshots, newest reporting date first."""
    return list(dbs.scalars(select(Snapshot).order_by(Snapshot.as_of.desc(), Snapshot.id.desc())
                            .limit(limit)))


def month_end_snapshot(dbs: Session, as_of: Any) -> Snapshot | None:
    from lms.reports.models import SnapshotKind

    return dbs.scalar(select(Snapshot).where(Snapshot.as_of == as_of,
                                             Snapshot.kind == SnapshotKind.MONTH_END.value)
                      .order_by(Snapshot.id).limit(1))


def unit_head_of(dbs: Session, unit: Unit) -> tuple[str, str] | None:
    """(full name, position) of the person who heads this very unit, if anyone does."""
    row = dbs.execute(select(User.full_name, User.position)
                      .join(RoleGrant, RoleGrant.user_id == User.id)
                      .where(RoleGrant.role == Role.UNIT_HEAD.value, RoleGrant.unit_id == unit.id,
                             User.is_active.is_(True))
                      .order_by(RoleGrant.id).limit(1)).first()
    return (row.full_name, row.position) if row else None


# ---------------------------------------------------------------- the dashboard's lines

@dataclass(frozen=True)
class Line:
    """One row of the dashboard table: a sub-unit's subtree, the people placed directly in
    the unit ("own"), or the unit's total."""

    kind: str            # "unit" | "own" | "total"
    unit_id: int
    code: str
    name: str
    name_en: str
    figures: Figures
    delta: float | None = None     # completion % points vs the compared snapshot


@dataclass(frozen=True)
class Dashboard:
    total: Line
    rows: list[Line]                 # sub-units (and "own" when people are placed directly)
    trend: list[tuple[datetime, float | None]]
    at: datetime
    snapshot: Snapshot | None = None
    compare: Snapshot | None = None

    @property
    def unit_rows(self) -> list[Line]:
        return [line for line in self.rows if line.kind == "unit"]


def live_dashboard(dbs: Session, unit: Unit, filters: Filters, at: datetime) -> Dashboard:
    report = unit_report(dbs, unit, filters, at)
    info = report.unit
    rows = [Line("unit", child.id, child.code, child.name, child.name_en, figures)
            for child, figures in report.rows]
    own = report.own
    if own.headcount or own.assigned:
        rows.append(Line("own", info.id, info.code, info.name, info.name_en, own))
    total = Line("total", info.id, info.code, info.name, info.name_en, report.total)
    return Dashboard(total=total, rows=rows, trend=report.trend, at=report.at)


def snapshot_dashboard(dbs: Session, unit: Unit, snapshot: Snapshot) -> Dashboard | None:
    """The unit's frozen figures (None when the unit did not exist at that date)."""
    view = snapshot_view(dbs, snapshot, unit.id)
    if view is None:
        return None
    total = _snapshot_line("total", view.unit)
    rows = [_snapshot_line("unit", row) for row in view.rows]
    own = snapshot_own_figures(view.unit)
    if own is not None:
        rows.append(Line("own", view.unit.unit_id, view.unit.unit_code, view.unit.unit_name,
                         view.unit.unit_name_en, own))
    return Dashboard(total=total, rows=rows, trend=[], at=snapshot.taken_at, snapshot=snapshot)


def _snapshot_line(kind: str, row: SnapshotRow) -> Line:
    return Line(kind, row.unit_id, row.unit_code, row.unit_name, row.unit_name_en,
                snapshot_figures(row))


def with_comparison(dbs: Session, dashboard: Dashboard, compare: Snapshot) -> Dashboard:
    """The same dashboard with the change in completion (% points) since ``compare``."""
    ids = [dashboard.total.unit_id] + [line.unit_id for line in dashboard.unit_rows]
    then = {row.unit_id: snapshot_figures(row) for row in dbs.scalars(
        select(SnapshotRow).where(SnapshotRow.snapshot_id == compare.id,
                                  SnapshotRow.unit_id.in_(ids)))}

    def compared(line: Line) -> Line:
        before = then.get(line.unit_id) if line.kind != "own" else None
        now_pct = line.figures.completion_pct
        if before is None or now_pct is None or before.completion_pct is None:
            return line
        return replace(line, delta=round(now_pct - before.completion_pct, 1))

    return replace(dashboard, total=compared(dashboard.total),
                   rows=[compared(line) for line in dashboard.rows], compare=compare)


# ---------------------------------------------------------------- people of a unit

class UnitLabel(NamedTuple):
    name: str
    name_en: str


@dataclass(frozen=True)
class PersonRow:
    id: int
    employee_code: str
    full_name: str
    position: str
    unit: UnitLabel
    in_unit: bool           # placed in the unit's subtree (False: there by a concurrent post)
    assigned: int
    started: int
    completed: int
    overdue: int
    average_score: float | None
    certificates: int
    last_activity_at: datetime | None

    @property
    def completion_pct(self) -> float | None:
        return round(100 * self.completed / self.assigned, 1) if self.assigned else None


def _people_conditions(viewer: Any, unit: Unit, filters: Filters, direct: bool) -> list:
    if direct:
        posts = select(ConcurrentPost.user_id).where(ConcurrentPost.ended_at.is_(None),
                                                     ConcurrentPost.unit_id == unit.id)
        in_unit = or_(User.unit_id == unit.id, User.id.in_(posts))
    else:
        in_unit = people_in_scopes_clause([unit.path])
    conditions = [User.is_active.is_(True), in_unit, visible_report_people_clause(viewer)]
    if filters.position:
        conditions.append(User.position == filters.position)
    return conditions


def people_statement(viewer: Any, unit: Unit, filters: Filters, status: str, sort: str,
                     descending: bool, now: datetime, direct: bool = False):
    """People of the unit's subtree (or of the unit itself when ``direct``) with their figures,
    one row per person, in ONE grouped statement.

    ``status`` keeps people with at least one assigned training in that state (completed,
    in_progress, on_track = not completed and not past due, not_started, overdue)."""
    assigned = Enrolment.source == ASSIGNED
    open_ = Enrolment.completed_at.is_(None)
    started = or_(Enrolment.started_at.is_not(None), Enrolment.completed_at.is_not(None))
    late = and_(Enrolment.due_at < now, open_)
    n_assigned = func.count(Enrolment.id).filter(assigned)
    n_started = func.count(Enrolment.id).filter(assigned, started)
    n_completed = func.count(Enrolment.id).filter(assigned, Enrolment.completed_at.is_not(None))
    n_overdue = func.count(Enrolment.id).filter(assigned, late)
    subtree = subtree_unit_ids(unit.path) if not direct else select(Unit.id).where(
        Unit.id == unit.id)
    # Course, assignment and due-date filters narrow the training counted, not the people.
    counted = enrolment_filters(replace(filters, position=None))[1:]
    query = (select(User.id, User.employee_code, User.full_name, User.position, Unit.name,
                    Unit.name_en, User.unit_id.in_(subtree).label("in_unit"),
                    n_assigned, n_started, n_completed, n_overdue,
                    func.avg(Enrolment.quiz_score),
                    func.count(Enrolment.certified_at),
                    func.max(Enrolment.last_activity_at))
             .join(Unit, Unit.id == User.unit_id)
             .outerjoin(Enrolment, and_(Enrolment.user_id == User.id, *counted))
             .where(*_people_conditions(viewer, unit, filters, direct))
             .group_by(User.id, Unit.id))
    having = {
        "completed": n_completed > 0,
        "in_progress": func.count(Enrolment.id).filter(assigned, started, open_) > 0,
        "on_track": func.count(Enrolment.id).filter(
            assigned, open_, or_(Enrolment.due_at.is_(None), Enrolment.due_at >= now)) > 0,
        "not_started": func.count(Enrolment.id).filter(assigned, ~started) > 0,
        "overdue": n_overdue > 0,
    }.get(status)
    if having is not None:
        query = query.having(having)
    ratio = cast(n_completed, Float) / case((n_assigned == 0, 1), else_=n_assigned)
    nobody = case((n_assigned == 0, 1), else_=0)    # people with nothing assigned go last
    keys = {
        "name": [User.sort_name],
        "unit": [Unit.name, User.sort_name],
        "completion": [nobody, ratio],
        "overdue": [n_overdue],
    }.get(sort, [User.sort_name])
    order = [key.desc() if descending and key is not nobody else key for key in keys]
    return query.order_by(*order, User.sort_name, User.id)


def people_count(dbs: Session, viewer: Any, unit: Unit, filters: Filters, status: str,
                 now: datetime, direct: bool = False) -> int:
    if status == "all":   # no need to read enrolments to count people
        return dbs.scalar(select(func.count(User.id))
                          .where(*_people_conditions(viewer, unit, filters, direct))) or 0
    grouped = people_statement(viewer, unit, filters, status, "name", False, now, direct)
    return dbs.scalar(select(func.count()).select_from(grouped.order_by(None).subquery())) or 0


def _person(row: Sequence[Any]) -> PersonRow:
    return PersonRow(id=row[0], employee_code=row[1], full_name=row[2], position=row[3] or "",
                     unit=UnitLabel(row[4], row[5] or ""), in_unit=bool(row[6]),
                     assigned=row[7] or 0, started=row[8] or 0, completed=row[9] or 0,
                     overdue=row[10] or 0,
                     average_score=round(float(row[11]), 1) if row[11] is not None else None,
                     certificates=row[12] or 0, last_activity_at=row[13])


def people_page(dbs: Session, viewer: Any, unit: Unit, filters: Filters, status: str,
                sort: str, descending: bool, page: int, per_page: int, now: datetime,
                direct: bool = False) -> Page[PersonRow]:
    """A page of the people list: one count and one grouped statement."""
    total = people_count(dbs, viewer, unit, filters, status, now, direct)
    last_page = max(1, -(-total // per_page))
    page = min(max(1, page), last_page)
    query = people_statement(viewer, unit, filters, status, sort, descending, now, direct)
    rows = dbs.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=[_person(row) for row in rows], page=page, per_page=per_page, total=total)


def people_rows(dbs: Session, viewer: Any, unit: Unit, filters: Filters, status: str, sort: str,
                descending: bool, now: datetime, direct: bool = False) -> Iterator[PersonRow]:
    """Every row of the list, streamed from the database in batches (for the exports)."""
    query = people_statement(viewer, unit, filters, status, sort, descending, now, direct)
    for row in dbs.execute(query.execution_options(yield_per=EXPORT_BATCH)):
        yield _person(row)


def local_naive(value: datetime | None, timezone: str) -> datetime | None:
    """A naive local time for a spreadsheet cell (spreadsheets have no time zones)."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(timezone)).replace(tzinfo=None, microsecond=0)
