"""Bulk issue: certificates for the completions of a course that have none (e.g. imported
from a paper session), in chunks, resumable after a restart, each certificate issued once,
the PDFs rendered on a pool of processes, and one ZIP of them at the end."""
from __future__ import annotations

import hashlib
import io
import re
import threading
import zipfile
from datetime import timedelta

import pytest
from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms.certificates import jobs, rendering, storage
from lms.certificates.models import Certificate, CertificateJob
from lms.db import utcnow
from lms.errors import DomainError
from lms.seeds.certificates import issuing_deferred
from tests.certificates.support import complete, pdf_text, words
from tests.conftest import Factory

NAMES = ("Vũ Thị Lan", "Phan Văn Hùng", "Lê Ngọc Mai", "Đỗ Quang Huy", "Hồ Thị Ánh")


def ALREADY_CERTIFIED() -> str:  # noqa: N802  (a message, read in the current locale)
    return gettext("Every completed enrolment of this course already has its certificate.")


@pytest.fixture()
def course(factory):
    return factory.course(title="Sử dụng chữ ký số", lessons=1, slug="chu-ky-so")


@pytest.fixture()
def admin(factory):
    return factory.admin(email="admin@mofa.example")


@pytest.fixture()
def paper(dbs, factory, course):
    """Five completions recorded without their certificates (from a paper session)."""
    people = [factory.person(name=name) for name in NAMES]
    with issuing_deferred():
        enrolments = [complete(dbs, person, course) for person in people]
    dbs.flush()
    return enrolments


def certificates_of(dbs, course) -> list[Certificate]:
    dbs.expire_all()
    return list(dbs.scalars(select(Certificate).where(Certificate.course_id == course.id)
                            .order_by(Certificate.serial)))


def numbers(certificates) -> list[int]:
    return sorted(int(c.serial.rsplit("-", 1)[1]) for c in certificates)


def age(dbs, job: CertificateJob, by: timedelta) -> None:
    """The job's runner went silent ``by`` ago (a restart)."""
    dbs.expire_all()
    job = dbs.get(CertificateJob, job.id)
    job.heartbeat_at = (job.heartbeat_at or utcnow()) - by
    job.created_at = job.created_at - by
    dbs.flush()
    dbs.commit()


def test_a_job_covers_completions_without_a_certificate_only(dbs, factory, course, admin, paper):
    certified = complete(dbs, factory.person(name="Đã Có Chứng Nhận"), course)  # issued at once
    enrolled = factory.person(name="Chưa Học Xong")
    from lms.courses import services as learning
    learning.enrol(dbs, enrolled, course)

    job = jobs.create_job(dbs, admin, course)

    assert job.enrolment_ids == [e.id for e in paper]
    assert certified.id not in job.enrolment_ids
    assert (job.status, job.total, job.done, job.failed) == ("queued", 5, 0, 0)
    with pytest.raises(DomainError, match=re.escape(
            gettext("Certificates of this course are already being issued."))):
        jobs.create_job(dbs, admin, course)


def test_a_job_is_refused_when_there_is_nothing_to_issue(dbs, factory, admin, course):
    with pytest.raises(DomainError, match=re.escape(ALREADY_CERTIFIED())):
        jobs.create_job(dbs, admin, course)
    no_certificate = factory.course(title="Không cấp chứng nhận", lessons=1,
                                    certificate_enabled=False)
    with pytest.raises(DomainError, match=re.escape(gettext(
            "This course does not grant a certificate: turn certificates on in the course details first."))):
        jobs.create_job(dbs, admin, no_certificate)


def test_a_job_issues_every_certificate_with_its_pdf_and_one_zip(app, dbs, course, admin, paper):
    job = jobs.create_job(dbs, admin, course)
    dbs.commit()

    status = jobs.run_job(app, job.id, workers=0, chunk_size=2)

    assert status == "done"
    dbs.refresh(job)
    assert (job.status, job.done, job.failed) == ("done", 5, 0)
    assert job.started_at and job.finished_at and job.heartbeat_at
    issued = certificates_of(dbs, course)
    assert sorted(c.full_name for c in issued) == sorted(NAMES)
    assert all(c.job_id == job.id and c.issued_by_id == admin.id for c in issued)
    assert all(storage.path_for(c.pdf_sha256).is_file() for c in issued)
    assert numbers(issued) == list(range(numbers(issued)[0], numbers(issued)[0] + 5))  # no gaps
    lan = next(c for c in issued if c.full_name == "Vũ Thị Lan")
    assert "Vũ Thị Lan" in words(pdf_text(storage.read_bytes(lan.pdf_sha256)))

    archive = storage.path_for(job.zip_sha256).read_bytes()
    assert hashlib.sha256(archive).hexdigest() == job.zip_sha256
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        names = bundle.namelist()
        assert names == [f"{c.serial}-{jobs.zip_member_name(c).split('-', 3)[3]}" for c in issued]
        assert f"{lan.serial}-vu-thi-lan.pdf" in names
        for certificate in issued:  # one PDF per certificate, exactly the stored one
            member = bundle.read(jobs.zip_member_name(certificate))
            assert member == storage.read_bytes(certificate.pdf_sha256)
    # Running it again does nothing.
    assert jobs.run_job(app, job.id, workers=0) == "done"
    assert len(certificates_of(dbs, course)) == 5


def test_an_interrupted_job_is_resumed_and_issues_each_certificate_once(app, dbs, course, admin,
                                                                        paper):
    job = jobs.create_job(dbs, admin, course)
    dbs.commit()

    # The first runner does one chunk of two, then the server stops.
    assert jobs.run_job(app, job.id, workers=0, chunk_size=2, max_chunks=1) == "running"
    dbs.refresh(job)
    assert (job.status, job.done) == ("running", 2)
    # While its heartbeat is fresh, nobody else takes the job.
    assert jobs.run_job(app, job.id, workers=0) == "busy"
    assert jobs.pending_job_ids(dbs) == []

    age(dbs, job, timedelta(minutes=5))
    assert jobs.pending_job_ids(dbs) == [job.id]
    assert jobs.run_job(app, job.id, workers=0, chunk_size=2) == "done"

    issued = certificates_of(dbs, course)
    assert len(issued) == 5 and len({c.enrolment_id for c in issued}) == 5
    assert numbers(issued) == list(range(numbers(issued)[0], numbers(issued)[0] + 5))
    dbs.refresh(job)
    assert (job.done, job.failed, job.status) == (5, 0, "done")


def test_the_scheduler_resumes_a_job_left_running_by_a_stopped_server(app, dbs, course, admin,
                                                                       paper, monkeypatch):
    from lms.certificates.tasks import JOBS
    from lms.notify.jobs import run_job

    [resume] = [job for job in JOBS if job.id == "certificates.resume_bulk_jobs"]
    monkeypatch.setattr(jobs, "worker_count", lambda: 0)  # render in this process
    job = jobs.create_job(dbs, admin, course)
    dbs.commit()
    assert jobs.run_job(app, job.id, workers=0, chunk_size=2, max_chunks=1) == "running"
    # Its runner's heartbeat is fresh: the scheduler leaves it alone.
    assert run_job(app, resume, utcnow()).result == "nothing to resume"

    age(dbs, job, timedelta(minutes=5))  # the server stopped; nobody pressed "Resume"
    assert run_job(app, resume, utcnow() + timedelta(minutes=1)).result == "bulk issues run: 1"
    dbs.refresh(job)
    assert (job.status, job.done, job.failed) == ("done", 5, 0)
    assert len(certificates_of(dbs, course)) == 5


class Crash(BaseException):
    """A kill in the middle of a chunk (not an error the runner would handle)."""


def test_a_crash_after_the_certificates_but_before_their_pdfs_loses_nothing(app, dbs, course,
                                                                             admin, paper,
                                                                             monkeypatch):
    job = jobs.create_job(dbs, admin, course)
    dbs.commit()
    real_collect = jobs.Renderer.collect

    def crash(self, batch):
        raise Crash()
    monkeypatch.setattr(jobs.Renderer, "collect", crash)
    with pytest.raises(Crash):
        jobs.run_job(app, job.id, workers=0, chunk_size=2)
    # The certificates of the first chunk, and of the second (issued while the first one's
    # PDFs were being rendered), exist with their numbers, without PDFs yet.
    first = certificates_of(dbs, course)
    assert len(first) == 4 and all(c.pdf_sha256 is None for c in first)
    dbs.refresh(job)
    assert (job.status, job.done) == ("running", 0)

    monkeypatch.setattr(jobs.Renderer, "collect", real_collect)
    age(dbs, job, timedelta(minutes=5))
    assert jobs.work_pending(app, workers=0) == 1

    issued = certificates_of(dbs, course)
    assert len(issued) == 5
    assert {c.serial for c in first} <= {c.serial for c in issued}  # the same certificates
    assert all(c.pdf_sha256 and storage.path_for(c.pdf_sha256).is_file() for c in issued)
    dbs.refresh(job)
    assert (job.status, job.done, job.failed) == ("done", 5, 0)


def test_a_runner_that_was_replaced_stops(app, dbs, course, admin, paper):
    job = jobs.create_job(dbs, admin, course)
    dbs.commit()
    lease = jobs.claim(dbs, job.id)
    assert lease is not None and jobs.claim(dbs, job.id) is None
    age(dbs, job, timedelta(minutes=5))
    successor = jobs.claim(dbs, job.id)
    assert successor is not None
    with pytest.raises(jobs.LostLease):
        jobs._beat(dbs, job.id, lease)
    dbs.rollback()
    assert jobs._beat(dbs, job.id, successor) > successor


def test_an_enrolment_no_longer_completed_is_counted_as_failed(app, dbs, course, admin, paper):
    job = jobs.create_job(dbs, admin, course)
    enrolment = paper[0]
    enrolment.status, enrolment.completed_at = "in_progress", None
    dbs.flush()
    dbs.commit()

    assert jobs.run_job(app, job.id, workers=0) == "done"

    dbs.refresh(job)
    assert (job.done, job.failed) == (4, 1)
    assert len(certificates_of(dbs, course)) == 4
    with zipfile.ZipFile(storage.path_for(job.zip_sha256)) as bundle:
        assert len(bundle.namelist()) == 4


def test_a_certificate_whose_pdf_cannot_be_made_is_counted_and_left_out_of_the_zip(
        app, dbs, course, admin, paper, monkeypatch):
    real = rendering.render_pdf

    def picky(values, template):
        if values.full_name == "Lê Ngọc Mai":
            raise RuntimeError("the printer ran out of ink")
        return real(values, template)
    monkeypatch.setattr(rendering, "render_pdf", picky)
    job = jobs.create_job(dbs, admin, course)
    dbs.commit()

    assert jobs.run_job(app, job.id, workers=0, chunk_size=2) == "done"

    dbs.refresh(job)
    assert (job.done, job.failed) == (4, 1)
    mai = next(c for c in certificates_of(dbs, course) if c.full_name == "Lê Ngọc Mai")
    assert mai.pdf_sha256 is None  # issued; its PDF is made when it is first downloaded
    with zipfile.ZipFile(storage.path_for(job.zip_sha256)) as bundle:
        assert len(bundle.namelist()) == 4 and not any("mai" in n for n in bundle.namelist())


def test_pdfs_are_rendered_on_a_pool_of_processes(app, dbs, course, admin, paper, monkeypatch):
    monkeypatch.setattr(jobs, "POOL_MIN_TASKS", 2)
    job = jobs.create_job(dbs, admin, course)
    dbs.commit()
    pools = []
    real_submit = jobs.Renderer.submit

    def watch(self, tasks):
        batch = real_submit(self, tasks)
        pools.append(batch.futures is not None)
        return batch
    monkeypatch.setattr(jobs.Renderer, "submit", watch)
    threads = threading.active_count()

    assert jobs.run_job(app, job.id, workers=2, chunk_size=3) == "done"

    assert pools == [True, True]
    issued = certificates_of(dbs, course)
    assert len(issued) == 5
    for certificate in issued:
        assert certificate.full_name in words(pdf_text(storage.read_bytes(certificate.pdf_sha256)))
    assert threading.active_count() == threads  # the pool is gone, its threads too


def test_work_pending_runs_queued_and_stale_jobs_but_not_live_ones(app, dbs, factory, admin,
                                                                   course, paper):
    other = factory.course(title="Cổng thông tin điện tử", lessons=1)
    with issuing_deferred():
        complete(dbs, factory.person(name="Trịnh Văn Bảo"), other)
    live = jobs.create_job(dbs, admin, other)
    queued = jobs.create_job(dbs, admin, course)
    dbs.commit()
    assert jobs.claim(dbs, live.id) is not None  # someone is on it

    assert jobs.work_pending(app, workers=0) == 1

    dbs.expire_all()
    assert dbs.get(CertificateJob, queued.id).status == "done"
    assert dbs.get(CertificateJob, live.id).status == "running"


def test_a_failed_job_can_be_retried(app, dbs, course, admin, paper, monkeypatch):
    job = jobs.create_job(dbs, admin, course)
    dbs.commit()
    monkeypatch.setattr(jobs, "write_zip", lambda certificates: 1 / 0)
    assert jobs.run_job(app, job.id, workers=0) == "failed"
    dbs.refresh(job)
    assert job.status == "failed" and "ZeroDivisionError" in job.error and job.done == 5
    monkeypatch.undo()

    jobs.retry(dbs, admin, job)
    dbs.commit()
    assert jobs.run_job(app, job.id, workers=0) == "done"
    dbs.refresh(job)
    assert job.zip_sha256 and job.error is None
    assert len(certificates_of(dbs, course)) == 5


# ---------------------------------------------------------------- the lms commands

@pytest.fixture()
def paper_course(app, connection) -> int:
    """Five paper completions, made in their own (closed) request context: the commands run
    outside any request, as in a terminal."""
    session = Session(bind=connection, expire_on_commit=False,
                      join_transaction_mode="create_savepoint")
    with app.test_request_context():
        factory = Factory(session)
        course = factory.course(title="Sử dụng chữ ký số", lessons=1, slug="chu-ky-so")
        with issuing_deferred():
            for name in NAMES:
                complete(session, factory.person(name=name), course)
    session.commit()
    session.close()
    return course.id


def test_issue_certificates_queues_and_certificates_work_runs_it(lms, look, paper_course):
    queued = lms("issue-certificates", "chu-ky-so")
    assert queued.exit_code == 0, queued.output
    assert "5 certificates to issue" in queued.output and "Queued" in queued.output

    worked = lms("certificates-work", "--workers", "0")
    assert worked.exit_code == 0, worked.output
    assert "done" in worked.output and "1 bulk issue(s) run." in worked.output
    session = look()
    assert session.scalar(select(func.count()).select_from(Certificate)) == 5
    assert lms("certificates-work").output.strip() == "No bulk issue waiting."


def test_issue_certificates_wait_runs_it_here(app, lms, look, paper_course):
    result = lms("issue-certificates", "chu-ky-so", "--wait", "--workers", "0")
    assert result.exit_code == 0, result.output
    assert "done: 5 issued, 0 failed" in result.output and "ZIP: " in result.output
    again = lms("issue-certificates", "chu-ky-so")
    with app.test_request_context():
        assert again.exit_code != 0 and ALREADY_CERTIFIED() in again.output
    unknown = lms("issue-certificates", "khong-co")
    assert unknown.exit_code != 0 and "No course has the slug khong-co" in unknown.output
    session = look()
    assert session.scalar(select(func.count()).select_from(Certificate)) == 5
