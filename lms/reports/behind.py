"""Who is behind: assigned training that is overdue, or not started, in a unit's subtree.

One statement lists the rows (person, unit, course, due date, progress, current mentor),
sorted and paged in SQL; one more counts both lists for the tabs. The same statement,
streamed with ``yield_per``, feeds the CSV/XLSX export, so the page and the file agree.

A person is in a unit's lists when they are placed in its subtree or hold a current
concurrent post there, like in the unit's figures; people who left are not listed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, and_, func, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from lms.courses.models import Course, Enrolment
from lms.mentoring.models import Mentorship
from lms.org.models import ConcurrentPost, Unit, User
from lms.pagination import Page
from lms.reports.figures import ASSIGNED, Filters, enrolment_filters, subtree_unit_ids

OVERDUE = "overdue"
NOT_STARTED = "not_started"
LIST_KINDS = (OVERDUE, NOT_STARTED)
SORT_KEYS = ("name", "unit", "course", "due", "progress", "mentor")
DEFAULT_SORT = {OVERDUE: "due", NOT_STARTED: "due"}   # the most urgent first
EXPORT_BATCH = 1000

Mentor = aliased(User, name="mentor")


@dataclass(frozen=True)
class Sort:
    key: str = "due"
    descending: bool = False

    @property
    def direction(self) -> str:
        return "desc" if self.descending else "asc"


def parse_sort(list_kind: str, key: str | None, direction: str | None) -> Sort:
    """A sort from the page's ``sort`` and ``dir`` parameters; unknown values fall back."""
    if key not in SORT_KEYS:
        key = DEFAULT_SORT.get(list_kind, "due")
    return Sort(key=key, descending=direction == "desc")


def behind_params(args: Mapping[str, Any]) -> tuple[str, Sort]:
    """The list (``list`` = overdue|not_started) and sort (``sort``, ``dir``) of a request."""
    list_kind = args.get("list") if args.get("list") in LIST_KINDS else OVERDUE
    return list_kind, parse_sort(list_kind, args.get("sort"), args.get("dir"))


# ---------------------------------------------------------------- SQL

def in_unit_clause(unit: Unit | Any) -> ColumnElement[bool]:
    """Enrolments of people placed in the subtree (the indexed fast path) or holding a
    current concurrent post there."""
    units = subtree_unit_ids(unit.path)
    posts = select(ConcurrentPost.user_id).where(ConcurrentPost.ended_at.is_(None),
                                                 ConcurrentPost.unit_id.in_(units))
    return or_(Enrolment.unit_id.in_(units), Enrolment.user_id.in_(posts))


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    return and_(Enrolment.completed_at.is_(None), Enrolment.due_at < now)


def not_started_clause() -> ColumnElement[bool]:
    return and_(Enrolment.started_at.is_(None), Enrolment.completed_at.is_(None))


def list_clause(list_kind: str, now: datetime) -> ColumnElement[bool]:
    if list_kind == OVERDUE:
        return overdue_clause(now)
    if list_kind == NOT_STARTED:
        return not_started_clause()
    raise ValueError(list_kind)


def _base_conditions(unit: Unit | Any, filters: Filters) -> list[ColumnElement[bool]]:
    # enrolment_filters()[0] leaves out people who left: the join on users does it here.
    return [Enrolment.source == ASSIGNED, in_unit_clause(unit), User.is_active.is_(True),
            *enrolment_filters(filters)[1:]]


def _order_by(sort: Sort) -> list:
    column = {
        "name": User.sort_name,
        "unit": Unit.name,
        "course": Course.title,
        "due": Enrolment.due_at,
        "progress": Enrolment.progress_pct,
        "mentor": Mentor.sort_name,
    }[sort.key]
    first = column.desc() if sort.descending else column.asc()
    # Blanks (no mentor, no due date) last whichever the direction; then a stable order.
    order = [first.nulls_last()]
    if sort.key != "name":
        order.append(User.sort_name.asc())
    return [*order, Enrolment.id.asc()]


def behind_query(unit: Unit | Any, filters: Filters, list_kind: str, sort: Sort | None,
                 now: datetime) -> Select[Any]:
    """The rows of one list, sorted: one statement, no per-row queries."""
    sort = sort or parse_sort(list_kind, None, None)
    current = and_(Mentorship.mentee_id == User.id, Mentorship.ended_at.is_(None))
    return (select(
        User.id.label("person_id"), User.full_name, User.employee_code,
        Unit.name.label("unit_name"), Unit.name_en.label("unit_name_en"),
        Unit.path.label("unit_path"), User.position, Course.id.label("course_id"),
        Course.title.label("course_title"), Enrolment.id.label("enrolment_id"),
        Enrolment.due_at, Enrolment.progress_pct, Enrolment.started_at,
        Enrolment.last_activity_at, Mentor.full_name.label("mentor_name"))
        .select_from(Enrolment)
        .join(User, User.id == Enrolment.user_id)
        .join(Unit, Unit.id == User.unit_id)
        .join(Course, Course.id == Enrolment.course_id)
        .outerjoin(Mentorship, current)
        .outerjoin(Mentor, Mentor.id == Mentorship.mentor_id)
        .where(*_base_conditions(unit, filters), list_clause(list_kind, now))
        .order_by(*_order_by(sort)))


def behind_counts(dbs: Session, unit: Unit | Any, filters: Filters,
                  now: datetime) -> dict[str, int]:
    """How many rows each list has (for the tabs), in one statement.

    The people placed in the subtree and the people posted there from outside are two
    branches of a UNION ALL: each reads only the covering report index, where one ``OR``
    would make the database fetch every table row (2x slower on a whole ministry)."""
    units = subtree_unit_ids(unit.path)
    # Started from the few people posted here, so the database looks their enrolments up
    # by person instead of scanning the table for them.
    posted = (select(ConcurrentPost.user_id)
              .where(ConcurrentPost.ended_at.is_(None), ConcurrentPost.unit_id.in_(units))
              .distinct().subquery())
    common = [Enrolment.source == ASSIGNED, *enrolment_filters(filters)]
    columns = (Enrolment.started_at, Enrolment.completed_at, Enrolment.due_at)
    rows = union_all(
        select(*columns).where(Enrolment.unit_id.in_(units), *common),
        select(*columns).select_from(posted)
        .join(Enrolment, Enrolment.user_id == posted.c.user_id)
        .where(Enrolment.unit_id.not_in(units), *common),
    ).subquery()
    overdue = and_(rows.c.completed_at.is_(None), rows.c.due_at < now)
    not_started = and_(rows.c.started_at.is_(None), rows.c.completed_at.is_(None))
    row = dbs.execute(select(func.count().filter(overdue),
                             func.count().filter(not_started)).select_from(rows)).one()
    return {OVERDUE: row[0] or 0, NOT_STARTED: row[1] or 0}


# ---------------------------------------------------------------- rows for the page

def days_overdue(due_at: datetime | None, now: datetime, timezone: str) -> int | None:
    """Whole calendar days past the due date in ``timezone`` (None: not yet due)."""
    if due_at is None or due_at >= now:
        return None
    zone = ZoneInfo(timezone)
    return (now.astimezone(zone).date() - due_at.astimezone(zone).date()).days


@dataclass(frozen=True)
class BehindRow:
    person_id: int
    full_name: str
    employee_code: str
    unit_name: str
    unit_name_en: str
    unit_path: str
    position: str
    course_id: int
    course_title: str
    due_at: datetime | None
    days_overdue: int | None
    progress_pct: int
    started_at: datetime | None
    last_activity_at: datetime | None
    mentor_name: str | None

    def unit_label(self, locale: str) -> str:
        return self.unit_name_en if locale == "en" and self.unit_name_en else self.unit_name


def _row(values: Any, now: datetime, timezone: str) -> BehindRow:
    return BehindRow(
        person_id=values.person_id, full_name=values.full_name,
        employee_code=values.employee_code, unit_name=values.unit_name,
        unit_name_en=values.unit_name_en or "", unit_path=values.unit_path,
        position=values.position or "", course_id=values.course_id,
        course_title=values.course_title, due_at=values.due_at,
        days_overdue=days_overdue(values.due_at, now, timezone),
        progress_pct=values.progress_pct or 0, started_at=values.started_at,
        last_activity_at=values.last_activity_at, mentor_name=values.mentor_name)


@dataclass
class BehindPage(Page):
    """One page of a list, with both lists' counts for the tabs."""

    list_kind: str = "overdue"
    sort: Sort | None = None
    counts: dict[str, int] = field(default_factory=dict)


def behind_page(dbs: Session, unit: Unit | Any, filters: Filters, list_kind: str, sort: Sort,
                now: datetime, page: int = 1, per_page: int = 50) -> BehindPage:
    """A page of a list in two statements: the tab counts (which give the total) and the rows."""
    counts = behind_counts(dbs, unit, filters, now)
    last_page = max(1, -(-counts[list_kind] // per_page))
    page = min(max(1, page), last_page)
    items: list[BehindRow] = []
    if counts[list_kind]:
        query = behind_query(unit, filters, list_kind, sort, now)
        items = [_row(values, now, filters.timezone) for values in dbs.execute(
            query.limit(per_page).offset((page - 1) * per_page))]
    return BehindPage(items=items, page=page, per_page=per_page, total=counts[list_kind],
                      list_kind=list_kind, sort=sort, counts=counts)


# ---------------------------------------------------------------- export

def behind_header() -> list[str]:
    """Column titles of the export, in the viewer's language."""
    return [_("Employee code"), _("Full name"), _("Unit"), _("Position"), _("Course"),
            _("Due date"), _("Days overdue"), _("Progress (%)"), _("Last activity"),
            _("Mentor")]


def _local(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    """A naive local time (spreadsheets have no time zones)."""
    return value.astimezone(zone).replace(tzinfo=None, microsecond=0) if value else None


def _local_date(value: datetime | None, zone: ZoneInfo) -> date | None:
    return value.astimezone(zone).date() if value else None


def behind_export_rows(dbs: Session, unit: Unit | Any, filters: Filters, list_kind: str,
                       sort: Sort | None, now: datetime) -> Iterator[Sequence[Any]]:
    """Every row of a list as plain values, streamed from the database in batches."""
    zone = ZoneInfo(filters.timezone)
    locale = str(get_locale() or "vi")
    query = behind_query(unit, filters, list_kind, sort, now).execution_options(
        yield_per=EXPORT_BATCH)
    for values in dbs.execute(query):
        row = _row(values, now, filters.timezone)
        yield (row.employee_code, row.full_name, row.unit_label(locale), row.position,
               row.course_title, _local_date(row.due_at, zone), row.days_overdue,
               row.progress_pct, _local(row.last_activity_at, zone), row.mentor_name or "")
