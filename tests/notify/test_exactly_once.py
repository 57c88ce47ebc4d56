"""Two scheduler processes fire the reminder and delivery jobs at the same moment, then again
an hour later: every learner receives each reminder once, counted at the SMTP server.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from lms import create_app
from lms.cli import upgrade_database
from lms.courses import authoring
from lms.courses import services as learning
from lms.db import db
from lms.notify.jobs import run_job
from lms.org import services as org
from lms.scheduler import all_jobs
from tests.conftest import app_settings, fresh_database
from tests.notify.smtp import SmtpServer

# 09:05 in Hanoi, 03:05 in Paris: Hanoi's reminders are due now, Paris's not before 08:00.
NOW = datetime(2026, 12, 1, 2, 5, tzinfo=timezone.utc)
LEARNERS = (("Nguyễn Thị Hồng Nhung", "Asia/Ho_Chi_Minh"), ("Bùi Thanh Sơn", "Asia/Ho_Chi_Minh"),
            ("Đặng Quốc Việt", "Europe/Paris"))


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    with fresh_database("exactlyonce") as url:
        app = create_app(app_settings(url, str(tmp_path_factory.mktemp("exactlyonce"))))
        with app.app_context(), app.test_request_context():
            upgrade_database()
            dbs = db.session
            root = org.create_unit(dbs, None, org.UnitData(code="BNG", name="Bộ Ngoại giao",
                                                           kind="ministry"))
            course = authoring.create_course(dbs, None, authoring.CourseData(
                slug="ky-so", title="Ký số văn bản điện tử", topic="documents"))
            module = authoring.add_module(dbs, None, course, "Chương 1")
            authoring.add_lesson(dbs, None, module, authoring.LessonData(title="Bài 1", body="."))
            authoring.set_course_status(dbs, None, course, "published")
            for n, (name, zone) in enumerate(LEARNERS):
                person = org.create_person(dbs, None, org.PersonData(
                    employee_code=f"E{n}", full_name=name, email=f"e{n}@mofa.example",
                    unit_id=root.id), audit=False)
                person.timezone = zone
                enrolment = learning.enrol(dbs, person, course, source="assigned")
                enrolment.due_at = NOW + timedelta(days=7)      # a week from today, everywhere
            dbs.commit()
        yield app
        with app.app_context():
            db.engine.dispose()


def fire_both_schedulers(app, now: datetime) -> None:
    """Two processes' schedulers fire "reminders" at the same moment, then both fire "deliver
    e-mail" at the same later moment (the loser of the reminders' claim would otherwise reach
    the delivery before the winner committed: its mail would leave a minute later)."""
    jobs = all_jobs()
    start, reminded = threading.Barrier(2), threading.Barrier(2)

    def scheduler() -> None:
        start.wait()
        run_job(app, jobs["notify.reminders"], now)
        reminded.wait()
        run_job(app, jobs["notify.deliver_email"], now + timedelta(seconds=30))

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_racing_schedulers_send_each_reminder_once_at_the_smtp_server(committed):
    server = SmtpServer().start()
    committed.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, SMTP_TIMEOUT=5)
    try:
        fire_both_schedulers(committed, NOW)
        assert sorted(m.rcpt_tos[0] for m in server.messages) == ["e0@mofa.example",
                                                                  "e1@mofa.example"]
        # An hour later both fire again: nothing new for Hanoi, Paris not yet at 08:00.
        fire_both_schedulers(committed, NOW + timedelta(hours=1))
        assert len(server.messages) == 2
        # Paris's morning: its learner's reminder arrives, once.
        paris_morning = datetime(2026, 12, 1, 7, 5, tzinfo=timezone.utc)
        fire_both_schedulers(committed, paris_morning)
        fire_both_schedulers(committed, paris_morning + timedelta(minutes=1))
        assert sorted(m.rcpt_tos[0] for m in server.messages) == [
            "e0@mofa.example", "e1@mofa.example", "e2@mofa.example"]
        assert len({m.message["Message-ID"] for m in server.messages}) == 3
    finally:
        server.stop()
