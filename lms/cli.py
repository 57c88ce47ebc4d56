"""The `lms` console script: `lms db upgrade`, `lms create-admin`, `lms import-staff`,
`lms seed-demo`, `lms run` (and every `flask` command)."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from lms.db import db
from lms.errors import DomainError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", current_app.config["DATABASE_URL"].replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade_database(revision: str = "head") -> None:
    """Create or upgrade the schema with Alembic (the only way the schema is made)."""
    from alembic import command

    with db.engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


@click.group("db", help="Database schema (Alembic migrations).")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Create the database or bring it to the latest schema.")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    upgrade_database(revision)
    click.echo(f"Database is at revision {revision}.")


@db_group.command("current", help="Show the schema revision of the database.")
@with_appcontext
def db_current() -> None:
    from alembic import command

    with db.engine.begin() as connection:
        command.current(alembic_config(connection))


@click.command("create-admin", help="Create an administrator (and the ministry unit if there is none).")
@click.option("--email", required=True, help="E-mail address used to sign in.")
@click.option("--name", "full_name", required=True, help="Full name, e.g. \"Nguyễn Văn An\".")
@click.option("--employee-code", required=True, help="Employee code from the HR system.")
@click.option("--unit-code", default=None, help="Unit the admin belongs to (default: the ministry).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Password (asked for when omitted).")
@with_appcontext
def create_admin(email: str, full_name: str, employee_code: str, unit_code: str | None,
                 password: str) -> None:
    from sqlalchemy import select

    from lms.auth.passwords import check_password_policy, hash_password
    from lms.org import services
    from lms.org.models import Role, Unit

    session = db.session
    try:
        check_password_policy(password, email=email, employee_code=employee_code)
        unit = (session.scalar(select(Unit).where(Unit.code == unit_code.upper())) if unit_code
                else session.scalar(select(Unit).where(Unit.parent_id.is_(None))))
        if unit is None and unit_code:
            raise DomainError(f"Unknown unit code {unit_code}")
        if unit is None:
            unit = services.create_unit(session, None, services.UnitData(
                code="BNG", name="Bộ Ngoại giao", name_en="Ministry of Foreign Affairs",
                kind="ministry"))
        person = services.create_person(session, None, services.PersonData(
            employee_code=employee_code, full_name=full_name, email=email, unit_id=unit.id),
            password_hash=hash_password(password), must_change_password=False)
        services.grant_role(session, None, person, Role.ADMIN.value, None)
    except DomainError as exc:
        session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    session.commit()
    click.echo(f"Administrator {person.full_name} <{person.email}> created.")


@click.command("import-staff", help="Import staff from a CSV or XLSX file (all rows or none).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Only check the file and show what would change.")
@click.option("--temporary-password", default=None,
              help="Password for the new accounts; they must change it at first sign-in.")
@with_appcontext
def import_staff(file: Path, dry_run: bool, temporary_password: str | None) -> None:
    from lms.auth.passwords import check_password_policy, hash_password
    from lms.org import importer

    session = db.session
    max_bytes = current_app.config["MAX_IMPORT_BYTES"]
    content = file.read_bytes()
    try:
        preview = importer.preview_import(session, file.name, content, max_bytes)
    except DomainError as exc:
        raise click.ClickException(str(exc.message)) from exc
    for notice in preview.notices:
        click.echo(f"! {notice}")
    for row in preview.rows:
        if row.status == "error":
            click.echo(f"line {row.line}: " + "; ".join(str(p) for p in row.problems), err=True)
        elif row.status == "update":
            changed = ", ".join(f"{k}: {a} -> {b}" for k, (a, b) in row.changes.items())
            click.echo(f"line {row.line}: update {row.values['employee_code']} ({changed})")
    click.echo(f"{preview.count('new')} new, {preview.count('update')} to update, "
               f"{preview.count('unchanged')} unchanged, {len(preview.errors)} with problems.")
    if preview.errors:
        raise click.ClickException("Nothing was imported: correct the rows above and try again.")
    if dry_run:
        click.echo("Dry run: nothing was written.")
        return
    try:
        password_hash = None
        if temporary_password:
            check_password_policy(temporary_password)
            password_hash = hash_password(temporary_password)
        upload = importer.store_upload(session, None, file.name, content)
        result = importer.apply_import(session, None, upload, max_bytes, password_hash)
    except DomainError as exc:
        session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    session.commit()
    click.echo(f"Imported: {result.created} added, {result.updated} updated, "
               f"{result.unchanged} unchanged.")


@click.command("seed-demo", help="Load the demo ministry (units, staff, roles); safe to run again.")
@with_appcontext
def seed_demo() -> None:
    from lms.seeds.api import seed_api_client
    from lms.seeds.assignments import seed_assignments
    from lms.seeds.certificates import issuing_deferred, seed_certificates
    from lms.seeds.demo import DEMO_PASSWORD, load_demo
    from lms.seeds.learning import load_courses, spread_progress
    from lms.seeds.mentoring import seed_mentoring
    from lms.urls import external_url

    logging.getLogger("lms.courses").setLevel(logging.WARNING)  # not one line per demo completion
    logging.getLogger("lms.certificates").setLevel(logging.WARNING)
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    logging.getLogger("lms.mentoring").setLevel(logging.WARNING)  # not one line per pairing
    logging.getLogger("lms.notify").setLevel(logging.WARNING)
    accounts = load_demo(db.session)
    courses = load_courses(db.session)
    with issuing_deferred():  # certified below in bulk, on every core
        spread_progress(db.session)
        seed_assignments(db.session)  # assignments by decision, mentors, month-end snapshots
        seed_mentoring(db.session)    # help requests, coaching sessions, a nudge
    api_token = seed_api_client(db.session)
    db.session.commit()
    certificates = seed_certificates(current_app._get_current_object(), db.session)
    from sqlalchemy import func, select

    from lms.courses.models import Enrolment

    enrolments = db.session.scalar(select(func.count()).select_from(Enrolment))
    click.echo(f"{len(courses)} demo courses; {enrolments} enrolments of demo staff.")
    with current_app.test_request_context():
        login_url = external_url("auth.login")
    click.echo(f"Demo ministry loaded. Sign in at {login_url} with (password: {DEMO_PASSWORD}):")
    for account in accounts:
        click.echo(f"  {account.role_label:<28} {account.login:<32} {account.full_name}")
    for line in certificates.lines():
        click.echo(line)
    with current_app.test_request_context():
        reference = external_url("api.reference")
    click.echo(f"API reference: {reference}; the demo client's token: {api_token}")


def register_commands(app: Flask) -> None:
    from lms.certificates.cli import certificates_work, issue_certificates
    from lms.courses.cli import export_course, import_course
    from lms.mentoring.cli import escalate_help_command
    from lms.ops.cli import backup_command, restore_command
    from lms.quizzes.cli import close_expired_attempts, import_gift
    from lms.reports.cli import take_snapshot_command
    from lms.scheduler import command as scheduler_command

    app.cli.add_command(export_course)
    app.cli.add_command(import_course)
    app.cli.add_command(import_gift)
    app.cli.add_command(close_expired_attempts)
    app.cli.add_command(issue_certificates)
    app.cli.add_command(certificates_work)
    app.cli.add_command(take_snapshot_command)
    app.cli.add_command(escalate_help_command)
    app.cli.add_command(scheduler_command())
    app.cli.add_command(db_group)
    app.cli.add_command(create_admin)
    app.cli.add_command(import_staff)
    app.cli.add_command(seed_demo)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


def _create_app_for_cli():
    from lms.app import create_app

    return create_app()


cli = FlaskGroup(create_app=_create_app_for_cli, add_version_option=False, load_dotenv=False,
                 help="The lms learning platform. Settings come from LMS_* environment variables.")


def main() -> None:
    from lms.db import sqlite_write_intent

    sqlite_write_intent.set(True)  # commands write; they wait their turn beside the web workers
    sys.exit(cli.main(prog_name="lms"))
