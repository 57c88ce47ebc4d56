"""`lms issue-certificates` (bulk issue for a course) and `lms certificates-work` (run the
queued bulk issues and resume the ones a restart stopped)."""
from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from lms.db import db
from lms.errors import DomainError


@click.command("issue-certificates", help=(
    "Issue the certificates of every completed enrolment of the course COURSE_SLUG that has "
    "none yet (e.g. after completions were imported from a paper session). The job is "
    "queued, as from the bulk issue page; with --wait it runs here and now, on every core, "
    "and the ZIP of its PDFs is written to storage (its path is printed)."))
@click.argument("course_slug")
@click.option("--wait", is_flag=True, help="Run the job in this process and wait for its end.")
@click.option("--workers", type=int, default=None,
              help="Processes rendering PDFs (default: the number of cores).")
@with_appcontext
def issue_certificates(course_slug: str, wait: bool, workers: int | None) -> None:
    from lms.certificates import jobs, storage
    from lms.certificates.models import CertificateJob
    from lms.courses.models import Course

    session = db.session
    course = session.scalar(select(Course).where(Course.slug == course_slug))
    if course is None:
        raise click.ClickException(f"No course has the slug {course_slug}.")
    try:
        job = jobs.create_job(session, None, course)
    except DomainError as exc:
        session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    session.commit()
    click.echo(f"Bulk issue #{job.id} for {course.slug}: {job.total} certificates to issue.")
    if not wait:
        click.echo("Queued. `lms certificates-work` runs it (or open the job's page and "
                   "start it there).")
        return
    started = time.monotonic()

    def report(state: CertificateJob) -> None:
        click.echo(f"  {state.done + state.failed}/{state.total} "
                   f"({state.done} issued, {state.failed} failed)")

    status = jobs.run_job(current_app._get_current_object(), job.id, workers=workers,
                          report=report)
    session.expire_all()
    job = session.get(CertificateJob, job.id)
    elapsed = time.monotonic() - started
    rate = job.done / elapsed if elapsed else 0.0
    click.echo(f"Bulk issue #{job.id} {status}: {job.done} issued, {job.failed} failed in "
               f"{elapsed:.1f} s ({rate:.1f} certificates/s).")
    if job.zip_sha256:
        click.echo(f"ZIP: {storage.path_for(job.zip_sha256)}")
    if status != "done":
        raise click.ClickException(job.error or f"The job is {status}.")


@click.command("certificates-work", help=(
    "Run every queued bulk certificate issue and resume the ones whose runner stopped "
    "(no heartbeat for a minute, e.g. after a restart); exits when there are none. Safe to "
    "run at any time and from cron: a job is never run twice at once."))
@click.option("--workers", type=int, default=None,
              help="Processes rendering PDFs (default: the number of cores).")
@with_appcontext
def certificates_work(workers: int | None) -> None:
    from lms.certificates import jobs

    def echo(job_id: int, status: str) -> None:
        click.echo(f"Bulk issue #{job_id}: {status}")

    ran = jobs.work_pending(current_app._get_current_object(), workers=workers, echo=echo)
    click.echo(f"{ran} bulk issue(s) run." if ran else "No bulk issue waiting.")
