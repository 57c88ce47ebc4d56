"""`lms import-course` and `lms export-course` (the format: docs/course-package.md)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from lms.db import db
from lms.errors import DomainError


@click.command("import-course", help=(
    "Import a course package: a folder or a .zip holding course.yaml, lessons/ and media/. "
    "A course with the same slug is updated in place (lessons matched by key; lessons no "
    "longer in the package are archived, never deleted). The package is checked whole "
    "first: on any problem nothing is written."))
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@with_appcontext
def import_course(path: Path) -> None:
    from lms.courses.packages import import_package, read_package

    session = db.session
    try:
        content = read_package(path, current_app.config["MAX_PACKAGE_BYTES"])
        result = import_package(session, None, content)
    except DomainError as exc:
        session.rollback()
        raise click.ClickException(f"{exc.message} Nothing was imported.") from exc
    session.commit()
    course = result.course
    click.echo(f"Course {course.slug} {'created' if result.created else 'updated'} "
               f"({course.status}): {result.lessons_added} lessons added, "
               f"{result.lessons_updated} updated, {result.lessons_archived} archived, "
               f"{result.lessons_unchanged} unchanged; {result.files_stored} files stored.")
    if result.has_quiz_changes:
        click.echo(result.quiz_summary())


@click.command("export-course", help=(
    "Export the course SLUG as a package to PATH: a .zip file when PATH ends in .zip, "
    "else a folder (created if needed; a folder holding an earlier export is brought up to "
    "date, its lesson and media files no longer in the course removed). Archived modules "
    "and lessons are left out."))
@click.argument("slug")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def export_course(slug: str, path: Path) -> None:
    from lms.courses.models import Course
    from lms.courses.packages import export_to_folder, write_package

    session = db.session
    course = session.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        raise click.ClickException(f"No course has the slug {slug}.")
    try:
        if path.suffix.lower() == ".zip":
            if path.is_dir():
                raise click.ClickException(f"{path} is a folder; give a .zip file name.")
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, partial = tempfile.mkstemp(dir=path.parent, prefix=".export-", suffix=".zip")
            try:
                with os.fdopen(handle, "wb") as stream:
                    count = write_package(session, course, stream)
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(partial, 0o666 & ~umask)  # mkstemp makes it private
                os.replace(partial, path)
            except BaseException:
                os.unlink(partial)
                raise
        else:
            count = export_to_folder(session, course, path)
    except DomainError as exc:
        raise click.ClickException(str(exc.message)) from exc
    click.echo(f"Course {course.slug} exported to {path} ({count} files).")
