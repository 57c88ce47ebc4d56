"""`lms take-snapshot`: freeze every unit's figures (month end by default)."""
from __future__ import annotations

from datetime import date

import click
from flask.cli import with_appcontext

from lms.db import db


@click.command("take-snapshot", help=(
    "Freeze every unit's report figures. Without options, the last month end's snapshot is "
    "taken (once: running it again changes nothing); with --date, an on-demand snapshot as "
    "of that day (YYYY-MM-DD), optionally with a --label."))
@click.option("--date", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The reporting date (an on-demand snapshot).")
@click.option("--label", default="", help="A name for an on-demand snapshot.")
@with_appcontext
def take_snapshot_command(as_of, label: str) -> None:
    from lms.reports.models import SnapshotKind
    from lms.reports.services import take_month_end_snapshot, take_snapshot

    session = db.session
    try:
        if as_of is None:
            snapshot = take_month_end_snapshot(session)
        else:
            day: date = as_of.date()
            snapshot = take_snapshot(session, day, SnapshotKind.ON_DEMAND.value, label=label.strip())
    except LookupError as exc:
        raise click.ClickException("There is no organisation yet: import or create units first.") \
            from exc
    session.commit()
    click.echo(f"Snapshot {snapshot.id} as of {snapshot.as_of.isoformat()} ({snapshot.kind}): "
               f"{len(snapshot.rows)} units.")
