"""`lms backup` and `lms restore`: the archive format and the checks are in lms.ops.backup."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from lms.ops.backup import BackupError, create_backup, restore_backup


@click.command("backup", help="Write one archive with the database, uploaded files, certificate "
               "PDFs and the instance keys (it holds secrets: keep it safe). Safe while the "
               "platform runs.")
@click.option("--output", type=click.Path(path_type=Path), default=None,
              help="Archive file or folder (default: LMS_BACKUP_PATH, instance/backups).")
@with_appcontext
def backup_command(output: Path | None) -> None:
    try:
        result = create_backup(current_app._get_current_object(), output)  # type: ignore[attr-defined]
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(result.path))
    click.echo(f"Backup complete: {result.summary()}")


@click.command("restore", help="Check an archive made by `lms backup` and restore it: database, "
               "uploaded files, certificates and keys. Stop the web and scheduler processes "
               "first.")
@click.argument("archive", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--yes", is_flag=True, help="Replace a database that already holds data.")
@with_appcontext
def restore_command(archive: Path, yes: bool) -> None:
    try:
        result = restore_backup(current_app._get_current_object(), archive, replace=yes)  # type: ignore[attr-defined]
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    manifest = result.manifest
    click.echo(f"Restored {archive} (made {manifest.created_at} by version {manifest.app_version}): "
               f"files: {result.files_restored}, {sum(result.row_counts.values())} rows in "
               f"{len(result.row_counts)} tables.")
    if result.revision != result.head:
        click.echo(f"The database is at revision {result.revision}; run `lms db upgrade` to "
                   f"bring it to {result.head}.")
    mismatches = result.mismatches
    if mismatches:
        for table, expected, found in mismatches:
            click.echo(f"  {table}: {expected} rows in the backup, {found} restored", err=True)
        raise click.ClickException(f"{len(mismatches)} tables do not match the backup's row "
                                   f"counts: check the database before using it.")
    click.echo("Row counts match the backup for every table.")
