"""`lms escalate-help`: bring other mentors into help requests left waiting too long."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from lms.db import db


@click.command("escalate-help", help=(
    "Send open help requests whose learner has waited longer than "
    "LMS_HELP_ESCALATION_WORKING_DAYS working days to the unit's other mentors. Safe to run "
    "again: a request is escalated once."))
@with_appcontext
def escalate_help_command() -> None:
    from lms.mentoring.help import escalate_due

    count = escalate_due(db.session)
    db.session.commit()
    click.echo(f"{count} help requests escalated.")
