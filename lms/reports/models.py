"""Snapshots: every unit's figures frozen at a reporting date."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import Base, UTCDateTime, utcnow


class SnapshotKind(str, enum.Enum):
    MONTH_END = "month_end"
    ON_DEMAND = "on_demand"


class Snapshot(Base):
    __tablename__ = "report_snapshots"
    __table_args__ = (UniqueConstraint("as_of", "kind", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, index=True)     # the reporting date (local)
    kind: Mapped[str] = mapped_column(String(12), default=SnapshotKind.ON_DEMAND.value)
    label: Mapped[str] = mapped_column(String(120), default="")
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    rows: Mapped[list[SnapshotRow]] = relationship(cascade="all, delete-orphan",
                                                   order_by="SnapshotRow.path")


class SnapshotRow(Base):
    """One unit's subtree figures as they were; the unit's name and place are frozen too."""

    __tablename__ = "report_snapshot_rows"
    __table_args__ = (UniqueConstraint("snapshot_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("report_snapshots.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(255))
    unit_code: Mapped[str] = mapped_column(String(40))
    unit_name: Mapped[str] = mapped_column(String(255))
    unit_name_en: Mapped[str] = mapped_column(String(255), default="")
    headcount: Mapped[int] = mapped_column(Integer, default=0)
    assigned: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    started: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    score_sum: Mapped[float] = mapped_column(Float, default=0.0)
    score_count: Mapped[int] = mapped_column(Integer, default=0)
    certificates: Mapped[int] = mapped_column(Integer, default=0)
    # The people placed directly in the unit (the dashboard's "placed directly" line), frozen
    # too: with concurrent posts a total is not the sum of its lines, so it cannot be derived.
    own_headcount: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    own_assigned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    own_completed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    own_started: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    own_overdue: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    own_score_sum: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    own_score_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    own_certificates: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
