"""Register numbers, as in a paper certificate register: ``BNG-2026-000123``.

One counter row per (prefix, year). The number is taken by ``UPDATE … SET last_number =
last_number + 1 … RETURNING`` inside the issuing transaction: the row stays locked until
that transaction ends, so concurrent issues queue on it, and a transaction that rolls back
gives its number back. No gaps, no duplicates.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from lms.certificates.models import RegisterCounter

#: The register follows the ministry's calendar, whatever the server's or the learner's zone.
REGISTER_TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def register_year(moment: datetime) -> int:
    """The register year of a (UTC) moment: its year in Hanoi."""
    return moment.astimezone(REGISTER_TIMEZONE).year


def format_serial(prefix: str, year: int, number: int) -> str:
    return f"{prefix}-{year}-{number:06d}"


def allocate_serial(dbs: Session, prefix: str, year: int) -> str:
    """The next register number of ``prefix`` in ``year``, taken in the caller's transaction.

    The counter row is created when missing (race-safe: ``INSERT … ON CONFLICT DO NOTHING``),
    then incremented under its row lock.
    """
    insert = pg_insert if dbs.get_bind().dialect.name == "postgresql" else sqlite_insert
    dbs.execute(insert(RegisterCounter).values(prefix=prefix, year=year, last_number=0)
                .on_conflict_do_nothing(index_elements=["prefix", "year"]))
    number = dbs.execute(
        update(RegisterCounter)
        .where(RegisterCounter.prefix == prefix, RegisterCounter.year == year)
        .values(last_number=RegisterCounter.last_number + 1)
        .returning(RegisterCounter.last_number)
        .execution_options(synchronize_session=False)).scalar_one()
    return format_serial(prefix, year, number)
