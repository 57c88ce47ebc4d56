"""`lms import-gift`: questions from a Moodle GIFT file into a course's question bank."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from lms.db import db
from lms.errors import DomainError


@click.command("import-gift", help=(
    "Import the questions of a GIFT file (Moodle's text format, UTF-8) into the question "
    "bank of the course COURSE_SLUG. Questions whose ::name:: is already in the bank get a "
    "new version; the others are added. The file is checked whole first: on any problem "
    "nothing is imported, and every problem is listed with its line number."))
@click.argument("course_slug")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--category", default="", help="Category for questions the file puts in none "
              "(no $CATEGORY line before them).")
@with_appcontext
def import_gift(course_slug: str, file: Path, category: str) -> None:
    from lms.courses.models import Course
    from lms.quizzes.bank import GiftImportError
    from lms.quizzes.bank import import_gift as import_into_bank

    session = db.session
    course = session.scalar(select(Course).where(Course.slug == course_slug))
    if course is None:
        raise click.ClickException(f"No course has the slug {course_slug}.")
    try:
        report = import_into_bank(session, course, file.read_bytes(), None,
                                  default_category=category.strip())
    except GiftImportError as exc:
        session.rollback()
        for problem in exc.problems:
            click.echo(f"{file}:{problem.line}: {problem.message}" if problem.line
                       else f"{file}: {problem.message}", err=True)
        raise click.ClickException(f"{exc.message} Nothing was imported.") from exc
    except DomainError as exc:
        session.rollback()
        raise click.ClickException(f"{exc.message} Nothing was imported.") from exc
    session.commit()
    for problem in report.problems:
        click.echo(f"{file}:{problem.line}: warning: {problem.message}" if problem.line
                   else f"{file}: warning: {problem.message}", err=True)
    click.echo(f"Questions imported into {course.slug}: {report.created} added, "
               f"{report.updated} updated, {report.unchanged} unchanged.")


@click.command("close-expired-attempts", help=(
    "Submit every open quiz attempt whose time is up, grading what was saved (the "
    "attempt pages do this too when the learner comes back). Safe to run at any time."))
@with_appcontext
def close_expired_attempts() -> None:
    from lms.quizzes.attempts import close_expired_attempts as close

    closed = close(db.session)
    db.session.commit()
    click.echo(f"{closed} expired attempt(s) submitted.")
