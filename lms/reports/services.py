"""Unit reports and snapshots, built on ``figures.compute``."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lms.audit.services import record
from lms.db import utcnow
from lms.org.models import Unit
from lms.reports.figures import (
    Figures,
    Filters,
    Rollup,
    UnitInfo,
    clip_to,
    compute,
    default_week_ends,
    week_ends_between,
)
from lms.reports.models import Snapshot, SnapshotKind, SnapshotRow

log = logging.getLogger(__name__)

REPORT_TIMEZONE = "Asia/Ho_Chi_Minh"   # the ministry's reporting dates are Hanoi dates


@dataclass
class UnitReport:
    """What a unit head's dashboard shows: the total, the people placed directly in the unit,
    one row per sub-unit, and the weekly completion line of the total."""

    unit: UnitInfo
    total: Figures
    own: Figures
    rows: list[tuple[UnitInfo, Figures]]
    week_ends: list[datetime]
    at: datetime

    @property
    def trend(self) -> list[tuple[datetime, float | None]]:
        """(week end, % completed as of then) for the line chart."""
        return [(end, round(100 * done / assigned, 1) if assigned else None)
                for end, assigned, done in zip(self.week_ends, self.total.trend_assigned,
                                               self.total.trend_completed, strict=True)]


def report_weeks(filters: Filters, now: datetime) -> list[datetime]:
    """The line's week ends: the due-date window's weeks when one is set, else the last 12."""
    if filters.due_from or filters.due_to:
        today = now.astimezone(ZoneInfo(filters.timezone)).date()
        end = min(filters.due_to or today, today)
        start = filters.due_from or end - timedelta(weeks=11)
        return clip_to(week_ends_between(start, max(start, end), filters.timezone), now)
    return clip_to(default_week_ends(now, filters.timezone), now)


def unit_report(dbs: Session, unit: Unit, filters: Filters | None = None,
                at: datetime | None = None) -> UnitReport:
    """The dashboard of ``unit``: a fixed number of statements whatever the organisation's size."""
    at = at or utcnow()
    filters = filters or Filters()
    rollup = compute(dbs, unit, filters, at, report_weeks(filters, at))
    info = rollup.units[unit.id]
    rows = [(child, rollup.totals[child.id]) for child in rollup.children(unit.id)]
    return UnitReport(unit=info, total=rollup.totals[unit.id], own=rollup.own[unit.id], rows=rows,
                      week_ends=rollup.week_ends, at=at)


# ---------------------------------------------------------------- snapshots

def end_of_day(day: date, timezone: str = REPORT_TIMEZONE) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, ZoneInfo(timezone))


def last_month_end(now: datetime, timezone: str = REPORT_TIMEZONE) -> date:
    """The most recent month end that has passed (local date)."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    return today.replace(day=1) - timedelta(days=1)


def take_snapshot(dbs: Session, as_of: date, kind: str = SnapshotKind.ON_DEMAND.value,
                  label: str = "", actor: Any = None, now: datetime | None = None) -> Snapshot:
    """Freeze every unit's subtree figures as of the end of ``as_of`` (or now, if earlier).

    A month-end snapshot is taken once per date: a second call returns the first one,
    whatever the races (the unique key on date, kind and label decides).
    """
    now = now or utcnow()
    existing = find_snapshot(dbs, as_of, kind, label)
    if existing is not None:
        return existing
    root = dbs.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id))
    if root is None:
        raise LookupError("no organisation yet")
    moment = min(end_of_day(as_of), now)
    rollup = compute(dbs, root, Filters(), moment)
    try:
        with dbs.begin_nested():
            snapshot = Snapshot(as_of=as_of, kind=kind, label=label, taken_at=now,
                                taken_by_id=getattr(actor, "id", None))
            dbs.add(snapshot)
            dbs.flush()
            dbs.add_all(_snapshot_rows(snapshot.id, rollup))
            dbs.flush()
    except IntegrityError:
        existing = find_snapshot(dbs, as_of, kind, label)
        if existing is None:
            raise
        return existing
    record(dbs, actor, "report.snapshot", snapshot, label=label or as_of.isoformat(), kind=kind)
    log.info("snapshot %s as of %s (%s units)", snapshot.id, as_of, len(rollup.units))
    return snapshot


def find_snapshot(dbs: Session, as_of: date, kind: str, label: str = "") -> Snapshot | None:
    return dbs.scalar(select(Snapshot).where(
        Snapshot.as_of == as_of, Snapshot.kind == kind, Snapshot.label == label))


SNAPSHOT_FIGURES = ("headcount", "assigned", "completed", "started", "overdue", "score_sum",
                    "score_count", "certificates")


def _snapshot_rows(snapshot_id: int, rollup: Rollup) -> list[SnapshotRow]:
    rows = []
    for unit in rollup.units.values():
        total, own = rollup.totals[unit.id], rollup.own.get(unit.id) or Figures()
        rows.append(SnapshotRow(
            snapshot_id=snapshot_id, unit_id=unit.id, parent_id=unit.parent_id, path=unit.path,
            unit_code=unit.code, unit_name=unit.name, unit_name_en=unit.name_en,
            **{name: getattr(total, name) for name in SNAPSHOT_FIGURES},
            **{f"own_{name}": getattr(own, name) for name in SNAPSHOT_FIGURES}))
    return rows


def take_month_end_snapshot(dbs: Session, now: datetime | None = None) -> Snapshot | None:
    """The scheduled job's work: the last month end's snapshot, once."""
    now = now or utcnow()
    return take_snapshot(dbs, last_month_end(now), SnapshotKind.MONTH_END.value, now=now)


def snapshot_figures(row: SnapshotRow) -> Figures:
    """A unit's frozen subtree figures."""
    return Figures(**{name: getattr(row, name) for name in SNAPSHOT_FIGURES})


def snapshot_own_figures(row: SnapshotRow) -> Figures | None:
    """The frozen figures of the people placed directly in the unit, when there are any
    (shown as their own line, as on the live dashboard)."""
    own = Figures(**{name: getattr(row, f"own_{name}") for name in SNAPSHOT_FIGURES})
    return own if own.headcount or own.assigned else None


@dataclass
class SnapshotView:
    """A unit's frozen figures and its frozen sub-unit rows."""

    snapshot: Snapshot
    unit: SnapshotRow
    rows: list[SnapshotRow]


def snapshot_view(dbs: Session, snapshot: Snapshot, unit_id: int) -> SnapshotView | None:
    """The unit's row and its children's rows as they were when the snapshot was taken."""
    unit = dbs.scalar(select(SnapshotRow).where(
        SnapshotRow.snapshot_id == snapshot.id, SnapshotRow.unit_id == unit_id))
    if unit is None:
        return None
    rows = list(dbs.scalars(select(SnapshotRow).where(
        SnapshotRow.snapshot_id == snapshot.id, SnapshotRow.parent_id == unit_id)
        .order_by(SnapshotRow.unit_code)))
    return SnapshotView(snapshot=snapshot, unit=unit, rows=rows)
