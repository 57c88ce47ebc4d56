"""The movement's public figures: the whole ministry's participation and completion, and the
emulation table ranking its departments by completion rate. No personal data.

Anyone may open the page without signing in, so the figures (an aggregate over every
enrolment) are kept in the process for a few minutes: anonymous traffic costs one
computation per process per period, not one per hit. The cache holds only numbers and unit
names in both languages, so it serves every locale.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from lms.courses.models import Enrolment
from lms.db import utcnow
from lms.org.models import Unit, User
from lms.reports.figures import Filters, compute

CACHE_SECONDS = 300.0

_cache: dict[Any, tuple[float, MovementFigures]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class DepartmentRank:
    """One row of the emulation table (``rank`` is None while nothing is assigned)."""

    rank: int | None
    unit_id: int
    code: str
    name: str
    name_en: str
    headcount: int
    assigned: int
    completed: int

    @property
    def completion_pct(self) -> float | None:
        return round(100 * self.completed / self.assigned, 1) if self.assigned else None

    def display_name(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name


@dataclass(frozen=True)
class MovementFigures:
    name: str
    name_en: str
    active_staff: int
    participants: int          # active people who have started at least one course
    assigned: int
    completed: int
    certificates: int
    departments: tuple[DepartmentRank, ...]
    computed_at: datetime

    @property
    def participation_pct(self) -> float | None:
        return round(100 * self.participants / self.active_staff, 1) if self.active_staff else None

    @property
    def completion_pct(self) -> float | None:
        return round(100 * self.completed / self.assigned, 1) if self.assigned else None

    def display_name(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name


def root_unit(dbs: Session) -> Unit | None:
    return dbs.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id))


def participants(dbs: Session) -> int:
    """Active people with at least one course started or completed (any source): one query."""
    started = exists().where(Enrolment.user_id == User.id,
                             or_(Enrolment.started_at.is_not(None),
                                 Enrolment.completed_at.is_not(None)))
    return dbs.scalar(select(func.count(User.id)).where(User.is_active.is_(True), started)) or 0


def rank_departments(rows: list[DepartmentRank]) -> tuple[DepartmentRank, ...]:
    """Highest completion rate first; equal rates share a rank (1, 2, 2, 4); departments with
    nothing assigned come last, unranked."""
    ranked = sorted((r for r in rows if r.assigned),
                    key=lambda r: (-r.completed / r.assigned, -r.assigned, r.code))
    result: list[DepartmentRank] = []
    previous: tuple[int, int] | None = None
    rank = 0
    for position, row in enumerate(ranked, start=1):
        # Compare rates exactly (cross-multiplied), not as rounded percentages.
        if previous is None or row.completed * previous[1] != previous[0] * row.assigned:
            rank = position
        previous = (row.completed, row.assigned)
        result.append(DepartmentRank(rank, row.unit_id, row.code, row.name, row.name_en,
                                     row.headcount, row.assigned, row.completed))
    result.extend(sorted((r for r in rows if not r.assigned), key=lambda r: r.code))
    return tuple(result)


def compute_movement(dbs: Session, now: datetime | None = None) -> MovementFigures | None:
    """The figures of the whole ministry (the root unit) and of each department below it."""
    now = now or utcnow()
    root = root_unit(dbs)
    if root is None:
        return None
    rollup = compute(dbs, root, Filters(), now)
    total = rollup.totals[root.id]
    rows = [DepartmentRank(None, unit.id, unit.code, unit.name, unit.name_en,
                           rollup.totals[unit.id].headcount, rollup.totals[unit.id].assigned,
                           rollup.totals[unit.id].completed)
            for unit in rollup.children(root.id)]
    return MovementFigures(
        name=root.name, name_en=root.name_en or "", active_staff=total.headcount,
        participants=participants(dbs), assigned=total.assigned, completed=total.completed,
        certificates=total.certificates, departments=rank_departments(rows), computed_at=now)


def movement_figures(dbs: Session, key: Any, max_age: float = CACHE_SECONDS,
                     clock: Callable[[], float] = time.monotonic) -> MovementFigures | None:
    """The figures, computed at most once per ``max_age`` seconds for ``key`` (the app)."""
    with _lock:   # one computation at a time: a burst of visitors waits for the first one
        cached = _cache.get(key)
        if cached is not None and clock() - cached[0] < max_age:
            return cached[1]
        figures = compute_movement(dbs)
        if figures is not None:
            _cache[key] = (clock(), figures)
        return figures


def clear_cache() -> None:
    """Forget every cached computation (tests, or after a bulk import)."""
    with _lock:
        _cache.clear()
