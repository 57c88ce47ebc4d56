"""Bulk issue: certificates for every completed enrolment of a course that has none yet
(e.g. after completions were imported from a paper session), in the background.

State lives in the job's row (``CertificateJob``), so a job survives a restart:

- ``create_job`` fixes the list of enrolments (``enrolment_ids``) once, in the order they
  will be issued.
- A runner first *claims* the job: one UPDATE that succeeds only when the job is queued or
  its heartbeat is older than ``STALE_AFTER``. The heartbeat value it wrote is its lease:
  every later write begins with ``UPDATE … SET heartbeat_at = new WHERE heartbeat_at =
  lease``; a runner that finds the value changed has been replaced and stops (rolling back).
- Enrolments are taken in chunks. For each chunk: (A) one short transaction issues the
  certificates without their PDFs (``services.issue_for_enrolment(render=False)``: register
  numbers and rows; exactly once per completion, whatever ran before); (B) the PDFs are
  rendered outside any transaction, on a pool of processes (both cores), and stored by
  content; (C) one short transaction records each PDF's sha256 and moves ``done``/``failed``
  on. ``done + failed`` is the position in ``enrolment_ids``: a runner that resumes starts
  where the last committed chunk ended, and a chunk interrupted between (A) and (C) is done
  again harmlessly (the service returns the certificates it issued; only their PDFs are
  rendered). A certificate never waits on its PDF: downloads render a missing one.
- When every enrolment is processed, the live certificates of the job's enrolments are
  written into one ZIP, stored by content; its sha256 is recorded on the job.

Who runs jobs (``LMS_CERTIFICATE_JOB_RUNNER``, config ``CERTIFICATE_JOB_RUNNER``):
``thread`` (default) starts a background thread in the web worker that created the job; it
works through every queued or stale job, then ends. ``lms certificates-work`` does the same
from a terminal, cron or a systemd timer, and is how a job stopped by a restart resumes
without anyone opening its page (its page also has a "Resume" button). ``none`` leaves every
job to ``lms certificates-work``; ``inline`` runs the job inside the request (tests).
"""
from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import tempfile
import threading
import zipfile
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from flask import Flask, current_app
from flask_babel import gettext as _
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session

from lms.audit.services import record
from lms.certificates import rendering, services, storage
from lms.certificates.models import Certificate, CertificateJob, JobStatus
from lms.certificates.register import REGISTER_TIMEZONE
from lms.courses.models import Course, Enrolment, EnrolmentStatus
from lms.db import db, sqlite_write_intent, utcnow
from lms.errors import DomainError
from lms.notify.reminders import notify_certificates_issued
from lms.text import fold

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(seconds=60)
CHUNK_SIZE = 48
POOL_MIN_TASKS = 12  # fewer PDFs than this left to render: not worth starting processes
ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


class LostLease(Exception):
    """Another runner took the job over (this one was thought dead): stop at once."""


# ---------------------------------------------------------------- creating and reading jobs

def _has_live_certificate():
    return exists().where(Certificate.enrolment_id == Enrolment.id,
                          Certificate.completed_at == Enrolment.completed_at,
                          Certificate.superseded_by_id.is_(None))


def eligible_enrolment_ids(dbs: Session, course: Course) -> list[int]:
    """Completed enrolments of the course whose completion has no certificate yet."""
    return list(dbs.scalars(
        select(Enrolment.id)
        .where(Enrolment.course_id == course.id,
               Enrolment.status == EnrolmentStatus.COMPLETED.value,
               Enrolment.completed_at.is_not(None), ~_has_live_certificate())
        .order_by(Enrolment.completed_at, Enrolment.id)))


def active_job(dbs: Session, course_id: int) -> CertificateJob | None:
    return dbs.scalar(select(CertificateJob).where(
        CertificateJob.course_id == course_id, CertificateJob.status.in_(ACTIVE))
        .order_by(CertificateJob.id.desc()).limit(1))


def create_job(dbs: Session, actor: Any, course: Course) -> CertificateJob:
    """Queue a bulk issue for every completed enrolment of ``course`` without a certificate."""
    if not course.certificate_enabled:
        raise DomainError(_("This course does not grant a certificate: turn certificates on in "
                            "the course details first."))
    running = active_job(dbs, course.id)
    if running is not None:
        raise DomainError(_("Certificates of this course are already being issued."))
    ids = eligible_enrolment_ids(dbs, course)
    if not ids:
        raise DomainError(_("Every completed enrolment of this course already has its "
                            "certificate."))
    job = CertificateJob(course_id=course.id, status=JobStatus.QUEUED.value, total=len(ids),
                         done=0, failed=0, enrolment_ids=ids,
                         created_by_id=getattr(actor, "id", None), created_at=utcnow())
    dbs.add(job)
    dbs.flush()
    record(dbs, actor, "certificate.bulk_issue", course, label=course.title, job_id=job.id,
           total=len(ids))
    log.info("bulk issue %s queued for course %s: %s enrolments", job.id, course.id, len(ids))
    return job


def is_stale(job: CertificateJob, now: datetime | None = None) -> bool:
    """Running, but its runner has not been heard of for a while (the server restarted);
    or queued for a while and nobody took it (no runner was started)."""
    now = now or utcnow()
    if job.status == JobStatus.QUEUED.value:
        return job.created_at is not None and job.created_at < now - STALE_AFTER
    return job.status == JobStatus.RUNNING.value and (
        job.heartbeat_at is None or job.heartbeat_at < now - STALE_AFTER)


def progress(job: CertificateJob, now: datetime | None = None) -> dict[str, Any]:
    processed = job.done + job.failed
    return {
        "id": job.id, "status": job.status, "total": job.total, "done": job.done,
        "failed": job.failed, "processed": processed,
        "percent": 100 if not job.total else min(100, processed * 100 // job.total),
        "finished": job.status in (JobStatus.DONE.value, JobStatus.FAILED.value),
        "stale": is_stale(job, now), "has_zip": bool(job.zip_sha256),
    }


def retry(dbs: Session, actor: Any, job: CertificateJob) -> None:
    """Queue a stopped job again (it resumes where it stopped)."""
    if job.status == JobStatus.FAILED.value or (is_stale(job)
                                                 and job.status == JobStatus.RUNNING.value):
        job.status = JobStatus.QUEUED.value
        job.error = None
        job.heartbeat_at = None
        dbs.flush()
        record(dbs, actor, "certificate.bulk_issue_resumed", job, label=f"#{job.id}")


# ---------------------------------------------------------------- leases

def claim(dbs: Session, job_id: int, now: datetime | None = None) -> datetime | None:
    """Take the job if it is queued or stale; returns the lease (the heartbeat written)."""
    now = now or utcnow()
    taken = dbs.execute(
        update(CertificateJob)
        .where(CertificateJob.id == job_id, or_(
            CertificateJob.status == JobStatus.QUEUED.value,
            and_(CertificateJob.status == JobStatus.RUNNING.value,
                 or_(CertificateJob.heartbeat_at.is_(None),
                     CertificateJob.heartbeat_at < now - STALE_AFTER))))
        .values(status=JobStatus.RUNNING.value, heartbeat_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if taken:
        dbs.execute(update(CertificateJob)
                    .where(CertificateJob.id == job_id, CertificateJob.started_at.is_(None))
                    .values(started_at=now).execution_options(synchronize_session=False))
    dbs.commit()
    return now if taken else None


def _beat(dbs: Session, job_id: int, lease: datetime) -> datetime:
    """Renew the lease as the first write of a transaction (on PostgreSQL the row stays
    locked until the commit, so a would-be successor waits and then sees a fresh heartbeat)."""
    now = utcnow()
    if now <= lease:
        now = lease + timedelta(microseconds=1)
    renewed = dbs.execute(
        update(CertificateJob)
        .where(CertificateJob.id == job_id, CertificateJob.status == JobStatus.RUNNING.value,
               CertificateJob.heartbeat_at == lease)
        .values(heartbeat_at=now).execution_options(synchronize_session=False)).rowcount
    if not renewed:
        raise LostLease(job_id)
    return now


# ---------------------------------------------------------------- rendering on both cores

def worker_count() -> int:
    configured = current_app.config.get("CERTIFICATE_WORKERS")
    return int(configured) if configured else (os.cpu_count() or 1)  # 0 or unset: one per core


Task = tuple[int, rendering.CertificateValues, rendering.TemplateValues]


def _warm_worker() -> None:
    """Load the fonts and parse the stylesheets once, as each worker starts."""
    for design in rendering.DESIGNS:
        rendering.render_pdf(rendering.sample_values(), rendering.TemplateValues(design=design))


@dataclass
class _Batch:
    tasks: list[Task]
    futures: list[tuple[int, Future]] | None = None


@dataclass
class Renderer:
    """Renders PDFs in this process, or on a pool of ``workers`` processes once there is
    enough work. The pool is started with "spawn": this may run in a web worker's thread,
    where forking is unsafe. Each worker keeps WeasyPrint's fonts and parsed CSS.

    ``submit`` hands a batch to the pool and returns at once, so the next chunk's database
    work overlaps with this chunk's rendering; ``collect`` waits for it."""

    workers: int
    pool: ProcessPoolExecutor | None = None
    broken: bool = False

    def submit(self, tasks: list[Task]) -> _Batch:
        batch = _Batch(tasks)
        if self.workers > 1 and not self.broken and len(tasks) >= POOL_MIN_TASKS:
            try:
                if self.pool is None:
                    self.pool = ProcessPoolExecutor(
                        max_workers=self.workers, initializer=_warm_worker,
                        mp_context=multiprocessing.get_context("spawn"))
                batch.futures = [(cid, self.pool.submit(rendering.render_pdf, values, template))
                                 for cid, values, template in tasks]
            except BrokenProcessPool:
                self._broke()
                batch.futures = None
        return batch

    def collect(self, batch: _Batch) -> dict[int, bytes | Exception]:
        results: dict[int, bytes | Exception] = {}
        if batch.futures is not None:
            try:
                for cid, future in batch.futures:
                    try:
                        results[cid] = future.result()
                    except BrokenProcessPool:
                        raise
                    except Exception as exc:  # this certificate only
                        results[cid] = exc
                return results
            except BrokenProcessPool:
                self._broke()
        for cid, values, template in batch.tasks:
            if isinstance(results.get(cid), bytes):
                continue
            try:
                results[cid] = rendering.render_pdf(values, template)
            except Exception as exc:
                results[cid] = exc
        return results

    def _broke(self) -> None:
        log.warning("certificate render pool broke; rendering in this process")
        self.broken = True
        self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


# ---------------------------------------------------------------- running a job

def _needs_pdf(certificate: Certificate) -> bool:
    return not certificate.pdf_sha256 or not storage.path_for(certificate.pdf_sha256).is_file()


@dataclass
class _Chunk:
    ids: list[int]
    failed: int
    batch: _Batch


@dataclass
class _Runner:
    dbs: Session
    job: CertificateJob
    lease: datetime
    renderer: Renderer
    template_cache: dict[int | None, rendering.TemplateValues] = field(default_factory=dict)

    def _template_values(self, certificate: Certificate) -> rendering.TemplateValues:
        key = certificate.template_id
        if key not in self.template_cache:
            template = certificate.template or services.default_template(self.dbs)
            self.template_cache[key] = services.template_values(template)
        return self.template_cache[key]

    def issue(self, ids: list[int]) -> _Chunk:
        """(A) The chunk's certificates without their PDFs, in one short transaction; their
        rendering is handed to the renderer before returning."""
        dbs, job = self.dbs, self.job
        self.lease = _beat(dbs, job.id, self.lease)
        enrolments = {e.id: e for e in dbs.scalars(select(Enrolment).where(Enrolment.id.in_(ids)))}
        issued: list[Certificate] = []
        failed = 0
        for enrolment_id in ids:
            enrolment = enrolments.get(enrolment_id)
            certificate = None
            if enrolment is not None:
                try:
                    with dbs.begin_nested():
                        certificate = services.issue_for_enrolment(dbs, enrolment, job=job,
                                                                   render=False, notify=False)
                except Exception:
                    log.exception("bulk issue %s: enrolment %s failed", job.id, enrolment_id)
            if certificate is None:  # gone, no longer completed, or the course grants none
                failed += 1
                continue
            if certificate.job_id == job.id and certificate.issued_by_id is None:
                certificate.issued_by_id = job.created_by_id
            issued.append(certificate)
        tasks = [(c.id, services.certificate_values(c), self._template_values(c))
                 for c in issued if _needs_pdf(c)]
        # The holders are told in the chunk's transaction, once per certificate (keyed).
        notify_certificates_issued(dbs, [c.id for c in issued], utcnow())
        dbs.commit()
        return _Chunk(ids, failed, self.renderer.submit(tasks))

    def record(self, chunk: _Chunk) -> None:
        """(B) Wait for the chunk's PDFs and store them (outside any transaction); (C) record
        them and move the job on, in one short transaction."""
        dbs, job = self.dbs, self.job
        failed = chunk.failed
        pdfs: dict[int, tuple[str, int]] = {}
        for cid, result in self.renderer.collect(chunk.batch).items():
            if isinstance(result, Exception):
                log.error("bulk issue %s: certificate %s could not be rendered: %s", job.id, cid,
                          result)
                failed += 1
            else:
                pdfs[cid] = (storage.store_pdf(result), len(result))
        self.lease = _beat(dbs, job.id, self.lease)
        for cid, (sha, size) in pdfs.items():
            dbs.execute(update(Certificate).where(Certificate.id == cid)
                        .values(pdf_sha256=sha, pdf_size=size)
                        .execution_options(synchronize_session=False))
        job.done += len(chunk.ids) - failed
        job.failed += failed
        job.heartbeat_at = self.lease
        dbs.commit()

    def finish(self) -> None:
        dbs, job = self.dbs, self.job
        certificates = []
        for certificate in job_certificates(dbs, job):
            if _needs_pdf(certificate):  # its rendering failed above: one more try
                try:
                    with dbs.begin_nested():
                        services.ensure_pdf(dbs, certificate)
                except Exception:
                    log.exception("bulk issue %s: no PDF for certificate %s", job.id,
                                  certificate.serial)
                    continue
            certificates.append(certificate)
        dbs.commit()
        sha = write_zip(certificates) if certificates else None
        self.lease = _beat(dbs, job.id, self.lease)
        job.zip_sha256 = sha
        job.status = JobStatus.DONE.value
        job.finished_at = job.heartbeat_at = self.lease
        dbs.commit()


def run_job(app: Flask, job_id: int, *, workers: int | None = None,
            chunk_size: int = CHUNK_SIZE, max_chunks: int | None = None,
            report: Callable[[CertificateJob], None] | None = None,
            renderer: Renderer | None = None) -> str:
    """Run (or resume) one job to its end in this thread; returns its status afterwards, or
    "busy" when another runner holds it. ``max_chunks`` stops early (tests, benchmarks).
    A ``renderer`` given is shared with other jobs (its pool stays open; the caller closes
    it); else one is made for this job, with ``workers`` processes."""
    token = sqlite_write_intent.set(True)  # every transaction here writes
    try:
        with app.app_context():
            dbs = db.session
            lease = claim(dbs, job_id)
            if lease is None:
                job = dbs.get(CertificateJob, job_id)
                return "busy" if job is not None and job.status in ACTIVE else (
                    job.status if job is not None else "missing")
            job = dbs.get(CertificateJob, job_id)
            dbs.refresh(job)
            own = renderer is None
            if renderer is None:
                renderer = Renderer(worker_count() if workers is None else workers)
            runner = _Runner(dbs, job, lease, renderer)
            log.info("bulk issue %s: running from %s of %s", job.id, job.done + job.failed,
                     job.total)
            try:
                ids = list(job.enrolment_ids)
                position = job.done + job.failed
                pending: _Chunk | None = None
                chunks = 0
                while True:
                    # The next chunk is issued while the pool renders the pending one.
                    upcoming = None
                    if position < len(ids) and (max_chunks is None or chunks < max_chunks):
                        upcoming = runner.issue(ids[position:position + chunk_size])
                        position += len(upcoming.ids)
                        chunks += 1
                    if pending is not None:
                        runner.record(pending)
                        if report is not None:
                            report(job)
                    if upcoming is None:
                        break
                    pending = upcoming
                if job.done + job.failed >= len(ids):
                    runner.finish()
                    log.info("bulk issue %s done: %s issued, %s failed", job.id, job.done,
                             job.failed)
                return job.status
            except LostLease:
                dbs.rollback()
                log.warning("bulk issue %s was taken over by another runner", job_id)
                return "busy"
            except Exception as exc:
                dbs.rollback()
                log.exception("bulk issue %s stopped", job_id)
                _mark_failed(dbs, job_id, runner.lease, f"{type(exc).__name__}: {exc}")
                return JobStatus.FAILED.value
            finally:
                if own:
                    renderer.close()
    finally:
        sqlite_write_intent.reset(token)


def _mark_failed(dbs: Session, job_id: int, lease: datetime, error: str) -> None:
    try:
        dbs.execute(update(CertificateJob)
                    .where(CertificateJob.id == job_id, CertificateJob.heartbeat_at == lease)
                    .values(status=JobStatus.FAILED.value, error=error[:2000],
                            finished_at=utcnow())
                    .execution_options(synchronize_session=False))
        dbs.commit()
    except Exception:
        dbs.rollback()
        log.exception("bulk issue %s: could not record the failure", job_id)


def pending_job_ids(dbs: Session, now: datetime | None = None) -> list[int]:
    """Queued jobs, and running ones whose runner stopped answering, oldest first."""
    now = now or utcnow()
    return list(dbs.scalars(select(CertificateJob.id).where(or_(
        CertificateJob.status == JobStatus.QUEUED.value,
        and_(CertificateJob.status == JobStatus.RUNNING.value,
             or_(CertificateJob.heartbeat_at.is_(None),
                 CertificateJob.heartbeat_at < now - STALE_AFTER))))
        .order_by(CertificateJob.id)))


def work_pending(app: Flask, workers: int | None = None, echo=None) -> int:
    """Run every queued or stale job, then return how many were run (``lms
    certificates-work`` and the background thread). The jobs share one process pool."""
    tried: set[int] = set()
    ran = 0
    with app.app_context():
        renderer = Renderer(worker_count() if workers is None else workers)
    try:
        while True:
            with app.app_context():
                ids = [i for i in pending_job_ids(db.session) if i not in tried]
                db.session.rollback()
            if not ids:
                return ran
            tried.add(ids[0])
            status = run_job(app, ids[0], renderer=renderer)
            if status != "busy":
                ran += 1
            if echo is not None:
                echo(ids[0], status)
    finally:
        renderer.close()


# ---------------------------------------------------------------- background thread

_thread_lock = threading.Lock()
_thread: threading.Thread | None = None
_wanted = False


def start(app: Flask, job_id: int) -> None:
    """Have the job run, as configured (see the module's docstring)."""
    mode = app.config.get("CERTIFICATE_JOB_RUNNER", "thread")
    if mode == "inline":
        run_job(app, job_id)
    elif mode == "thread":
        start_background(app)


def start_background(app: Flask) -> None:
    """Make sure this process has one thread working through the pending jobs."""
    global _thread, _wanted
    with _thread_lock:
        _wanted = True
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_background, args=(app,), daemon=True,
                                       name="certificate-jobs")
            _thread.start()


def _background(app: Flask) -> None:
    global _thread, _wanted
    while True:
        with _thread_lock:
            _wanted = False
        try:
            work_pending(app)
        except Exception:
            log.exception("certificate job thread failed")
        with _thread_lock:
            if not _wanted:
                _thread = None
                return


# ---------------------------------------------------------------- the ZIP

def job_certificates(dbs: Session, job: CertificateJob) -> list[Certificate]:
    """The current certificates of the job's enrolments (their latest completion; not
    superseded, not revoked), by serial."""
    found: list[Certificate] = []
    ids = list(job.enrolment_ids or [])
    for start_at in range(0, len(ids), 500):
        found.extend(dbs.scalars(
            select(Certificate)
            .join(Enrolment, and_(Enrolment.id == Certificate.enrolment_id,
                                  Enrolment.completed_at == Certificate.completed_at))
            .where(Certificate.enrolment_id.in_(ids[start_at:start_at + 500]),
                   Certificate.superseded_by_id.is_(None), Certificate.revoked_at.is_(None))))
    return sorted(found, key=lambda c: c.serial)


def zip_member_name(certificate: Certificate) -> str:
    name = "-".join("".join(ch if ch.isalnum() else " " for ch in fold(certificate.full_name))
                    .split())
    return f"{certificate.serial}-{name or 'chung-nhan'}.pdf"


def write_zip(certificates: list[Certificate]) -> str:
    """One ZIP of the certificates' stored PDFs, stored by content; returns its sha256.
    The same certificates give the same bytes (fixed member dates)."""
    root = storage.storage_root()
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".zip-")
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as archive:
                for certificate in certificates:
                    issued = certificate.issued_at.astimezone(REGISTER_TIMEZONE)
                    info = zipfile.ZipInfo(zip_member_name(certificate),
                                           date_time=issued.timetuple()[:6])
                    info.external_attr = 0o644 << 16
                    with storage.path_for(certificate.pdf_sha256).open("rb") as pdf, \
                            archive.open(info, "w") as member:
                        while chunk := pdf.read(1 << 20):
                            member.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        digest = hashlib.sha256()
        with open(tmp, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        sha = digest.hexdigest()
        target = storage.path_for(sha)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        return sha
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
