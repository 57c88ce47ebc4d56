"""E-mail from the outbox, checked at a real SMTP server (aiosmtpd on 127.0.0.1): each
e-mail arrives once with the recipient's name intact, in their language, as HTML and plain
text, under a Message-ID made from its outbox key; running delivery twice, or in several
processes at once, sends nothing twice; a server that is down is retried with back-off and
the mail arrives once it is up; a mail the server keeps refusing is given up after the last
try and an admin can send it again; a person's preference decides whether a notification
is e-mailed at once, gathered into the 07:00 daily digest of their timezone, or not at all.

The UI is Vietnamese and not translated yet: the tests read recipients, headers, names,
keys and database rows, never English words.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from lms import create_app
from lms.cli import upgrade_database
from lms.db import db, utcnow
from lms.notify import kinds, services
from lms.notify.kinds import describe_values
from lms.notify.models import Notification, OutboxEmail, OutboxStatus
from lms.notify.outbox import (
    NOT_CONFIGURED,
    MailSettings,
    backoff,
    deliver_due,
    message_id,
    queue_daily_digests,
)
from lms.org import services as org
from lms.org.models import User
from lms.scheduler import run_now
from tests.conftest import app_settings, fresh_database, login
from tests.notify.smtp import (  # noqa: F401  (fixtures)
    SmtpServer,
    smtp_server_fixture,
    stopped_smtp_server_fixture,
)
from tests.races import race

UTC = timezone.utc
NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)          # 08:00 in Hanoi, 02:00 in Paris


@pytest.fixture()
def people(factory):
    unit = factory.unit("Vụ Tổ chức Cán bộ")
    return {"nhung": factory.person("Nguyễn Thị Hồng Nhung", unit=unit, email="nhung@mofa.example"),
            "son": factory.person("Bùi Thanh Sơn", unit=unit, email="son@mofa.example"),
            "mentor": factory.mentor(unit, name="Đặng Quốc Việt", email="viet@mofa.example")}


@pytest.fixture()
def certificate_kind():
    """A notification kind of another e-mail category than mentoring (then forgotten)."""
    kinds.register("test_certificate_issued", _l("Certificate %(serial)s"),
                   lambda params: str(params.get("serial", "")), category="certificates")
    yield "test_certificate_issued"
    kinds.KINDS.pop("test_certificate_issued", None)


def nudge(dbs, person, mentor, text: str, at: datetime = NOW) -> Notification:
    services.notify(dbs, [person.id], "nudge", actor=mentor, params={"mentor": mentor.full_name},
                    body=text, at=at)
    return dbs.scalars(select(Notification).where(Notification.user_id == person.id)
                       .order_by(Notification.id.desc())).first()


def outbox(dbs, person=None) -> list[OutboxEmail]:
    dbs.expire_all()
    query = select(OutboxEmail).order_by(OutboxEmail.id)
    if person is not None:
        query = query.where(OutboxEmail.user_id == person.id)
    return list(dbs.scalars(query))


def set_zone(dbs, person: User, zone: str, locale: str = "vi") -> None:
    org.update_own_preferences(dbs, person, locale, zone)
    dbs.flush()


# ---------------------------------------------------------------- one e-mail, once

def test_a_notice_reaches_the_recipient_once_with_name_subject_parts_and_stable_message_id(
        dbs, people, smtp_server):
    nhung, mentor = people["nhung"], people["mentor"]
    notification = nudge(dbs, nhung, mentor, "Em nhớ hoàn thành bài 2 nhé.\nCố lên!")
    [row] = outbox(dbs, nhung)
    assert row.key == f"n:{notification.id}" and row.status == OutboxStatus.PENDING.value
    settings = smtp_server.settings()

    report = deliver_due(dbs, NOW, settings)

    assert report.sent == 1 and report.failed == report.retrying == 0
    [mail] = smtp_server.messages
    assert mail.rcpt_tos == ["nhung@mofa.example"]
    assert mail.mail_from == "no-reply@hoc.mofa.example"
    [to] = mail.message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Nguyễn Thị Hồng Nhung", "nhung@mofa.example")
    assert mail.message["From"].addresses[0].display_name == "Bình dân học vụ số"
    with force_locale("vi"):
        title = describe_values("nudge", {"mentor": mentor.full_name}).title
    assert mail.message["Subject"] == title and "Đặng Quốc Việt" in title
    assert mail.message["Message-ID"] == message_id(row.key, settings)
    assert mail.message["Content-Language"] == "vi"
    assert mail.message.get_content_type() == "multipart/alternative"
    text, html = mail.part("text/plain"), mail.part("text/html")
    link = "http://127.0.0.1:5000/learning"
    for body in (text, html):
        assert "Nguyễn Thị Hồng Nhung" in body and "Em nhớ hoàn thành bài 2 nhé." in body
        assert link in body
    assert f'href="{link}"' in html and '<html lang="vi">' in html
    [row] = outbox(dbs, nhung)
    assert row.status == OutboxStatus.SENT.value and row.sent_at == NOW and row.tries == 1
    assert row.to_address == "nhung@mofa.example" and row.subject == title

    again = deliver_due(dbs, NOW + timedelta(minutes=1), settings)
    assert again.claimed == 0 and len(smtp_server.messages) == 1


def test_each_email_is_written_in_its_recipients_language(dbs, people, smtp_server):
    nhung, son, mentor = people["nhung"], people["son"], people["mentor"]
    set_zone(dbs, son, "Europe/Paris", locale="en")
    nudge(dbs, nhung, mentor, "Tin cho Nhung")
    nudge(dbs, son, mentor, "Tin cho Sơn")
    deliver_due(dbs, NOW, smtp_server.settings())
    [to_nhung] = smtp_server.to("nhung@mofa.example")
    [to_son] = smtp_server.to("son@mofa.example")
    assert to_nhung.message["Content-Language"] == "vi"
    assert to_son.message["Content-Language"] == "en"
    assert '<html lang="en">' in to_son.part("text/html")
    assert "Tin cho Sơn" in to_son.part("text/plain")


def test_a_batch_costs_a_fixed_number_of_statements_plus_one_update_per_email_sent(
        dbs, factory, people, smtp_server, count_queries):
    """Reading and rendering a batch is a fixed number of statements; each e-mail the server
    takes is then recorded at once on its own (a killed process never resends it)."""
    mentor = people["mentor"]
    settings = smtp_server.settings()

    def run(n: int, at: datetime) -> int:
        for i in range(n):
            nudge(dbs, factory.person(), mentor, f"Tin {i}", at=at)
        dbs.flush()
        with count_queries() as statements:
            report = deliver_due(dbs, at, settings, batch_size=20)
        assert report.sent == n
        return len(statements)

    assert run(2, NOW) - 2 == run(9, NOW + timedelta(hours=1)) - 9
    assert len(smtp_server.messages) == 11


def test_delivery_takes_due_mail_batch_after_batch_until_none_is_left(
        dbs, factory, people, smtp_server):
    for i in range(7):
        nudge(dbs, factory.person(), people["mentor"], f"Tin {i}")
    later = nudge(dbs, people["nhung"], people["mentor"], "Chưa đến giờ")
    dbs.execute(OutboxEmail.__table__.update()
                .where(OutboxEmail.notification_id == later.id)
                .values(next_attempt_at=NOW + timedelta(minutes=5)))
    report = deliver_due(dbs, NOW, smtp_server.settings(), batch_size=3)
    assert report.sent == 7 and len(smtp_server.messages) == 7
    assert not smtp_server.to("nhung@mofa.example")            # not due yet
    deliver_due(dbs, NOW + timedelta(minutes=5), smtp_server.settings(), batch_size=3)
    assert len(smtp_server.to("nhung@mofa.example")) == 1


def test_without_an_smtp_server_configured_mail_waits_and_says_why(dbs, people):
    nudge(dbs, people["nhung"], people["mentor"], "Chờ máy chủ")
    report = deliver_due(dbs, NOW, MailSettings(host=""))
    assert report.waiting == 1 and report.sent == 0
    [row] = outbox(dbs, people["nhung"])
    assert (row.status, row.tries, row.last_error) == (OutboxStatus.PENDING.value, 0,
                                                        NOT_CONFIGURED)
    assert deliver_due(dbs, NOW + timedelta(minutes=1), MailSettings()).waiting == 0  # said once


def test_a_mail_left_sending_by_a_process_that_died_is_sent_after_fifteen_minutes(
        dbs, people, smtp_server):
    nudge(dbs, people["nhung"], people["mentor"], "Tiến trình chết giữa chừng")
    nudge(dbs, people["son"], people["mentor"], "Đang được gửi")
    crashed, busy = outbox(dbs)
    dbs.execute(OutboxEmail.__table__.update().where(OutboxEmail.id == crashed.id).values(
        status=OutboxStatus.SENDING.value, claimed_at=NOW - timedelta(minutes=16)))
    dbs.execute(OutboxEmail.__table__.update().where(OutboxEmail.id == busy.id).values(
        status=OutboxStatus.SENDING.value, claimed_at=NOW - timedelta(minutes=5)))
    report = deliver_due(dbs, NOW, smtp_server.settings())
    assert report.sent == 1
    assert [m.rcpt_tos for m in smtp_server.messages] == [["nhung@mofa.example"]]
    assert [r.status for r in outbox(dbs)] == [OutboxStatus.SENT.value, OutboxStatus.SENDING.value]


def test_the_delivery_job_reads_the_smtp_settings_and_records_its_run(
        app, dbs, people, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", smtp_server.port)
    nudge(dbs, people["nhung"], people["mentor"], "Qua lịch chạy")
    dbs.flush()
    run = run_now(app, "notify.deliver_email", NOW)
    assert run.status == "done" and run.result.startswith("1 ")
    assert run.period == "2026-11-24T01:00"
    assert len(smtp_server.to("nhung@mofa.example")) == 1
    assert run_now(app, "notify.deliver_email", NOW + timedelta(seconds=30)) is None


# ---------------------------------------------------------------- server down, refusals

def test_a_server_that_is_down_is_retried_with_back_off_and_the_mail_arrives_once_it_is_up(
        dbs, people, stopped_smtp_server):
    server = stopped_smtp_server
    nudge(dbs, people["nhung"], people["mentor"], "Máy chủ đang tắt")
    nudge(dbs, people["son"], people["mentor"], "Máy chủ đang tắt")
    settings = server.settings(max_tries=2)    # never given up for the server's own fault

    first = deliver_due(dbs, NOW, settings)
    assert first.sent == 0 and first.retrying == 2
    rows = outbox(dbs)
    assert [(r.status, r.tries, r.next_attempt_at) for r in rows] == [
        (OutboxStatus.PENDING.value, 1, NOW + timedelta(minutes=1))] * 2
    assert all(r.last_error for r in rows)

    assert deliver_due(dbs, NOW + timedelta(seconds=30), settings).claimed == 0   # backing off
    deliver_due(dbs, NOW + timedelta(minutes=1), settings)
    assert [(r.status, r.tries, r.next_attempt_at) for r in outbox(dbs)] == [
        (OutboxStatus.PENDING.value, 2, NOW + timedelta(minutes=3))] * 2

    server.start()
    assert deliver_due(dbs, NOW + timedelta(minutes=2), settings).claimed == 0
    done = deliver_due(dbs, NOW + timedelta(minutes=3), settings)
    assert done.sent == 2
    assert sorted(m.rcpt_tos[0] for m in server.messages) == ["nhung@mofa.example",
                                                               "son@mofa.example"]
    assert {r.status for r in outbox(dbs)} == {OutboxStatus.SENT.value}
    deliver_due(dbs, NOW + timedelta(hours=1), settings)
    assert len(server.messages) == 2


def test_back_off_doubles_from_one_minute_and_stops_at_six_hours():
    assert [backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert backoff(9) == timedelta(minutes=256)
    assert backoff(10) == backoff(50) == timedelta(hours=6)


def test_a_refused_mail_is_given_up_after_the_last_try_and_an_admin_sends_it_again(
        client, dbs, factory, people, smtp_server):
    smtp_server.refuse["nhung@mofa.example"] = "550 5.1.1 Mailbox unavailable"
    settings = smtp_server.settings(max_tries=3)
    nudge(dbs, people["nhung"], people["mentor"], "Hộp thư đầy")
    nudge(dbs, people["son"], people["mentor"], "Hộp thư ổn")

    first = deliver_due(dbs, NOW, settings)
    assert (first.sent, first.retrying) == (1, 1)                # the other mail still goes
    assert len(smtp_server.to("son@mofa.example")) == 1
    [refused] = outbox(dbs, people["nhung"])
    assert (refused.status, refused.tries) == (OutboxStatus.PENDING.value, 1)
    assert "550" in refused.last_error
    deliver_due(dbs, NOW + timedelta(minutes=1), settings)
    last = deliver_due(dbs, NOW + timedelta(minutes=3), settings)
    assert last.failed == 1
    [refused] = outbox(dbs, people["nhung"])
    assert (refused.status, refused.tries) == (OutboxStatus.FAILED.value, 3)
    assert deliver_due(dbs, NOW + timedelta(days=1), settings).claimed == 0
    assert not smtp_server.to("nhung@mofa.example")

    smtp_server.refuse.clear()
    factory.admin(email="admin@mofa.example")
    dbs.flush()
    login(client, "admin@mofa.example")
    response = client.form(f"/admin/outbox/{refused.id}/retry")
    assert response.status_code == 302
    [refused] = outbox(dbs, people["nhung"])
    assert (refused.status, refused.tries) == (OutboxStatus.PENDING.value, 3)   # tries kept
    assert deliver_due(dbs, utcnow(), settings).sent == 1
    assert len(smtp_server.to("nhung@mofa.example")) == 1
    assert len(smtp_server.to("son@mofa.example")) == 1


# ---------------------------------------------------------------- preferences and digests

def test_a_person_who_switched_a_category_off_gets_no_email_of_it(
        dbs, people, certificate_kind):
    nhung = people["nhung"]
    services.set_email_mode(dbs, nhung.id, "mentoring", "off")
    nudge(dbs, nhung, people["mentor"], "Không gửi thư")
    assert outbox(dbs, nhung) == []
    services.notify(dbs, [nhung.id], certificate_kind, params={"serial": "BNG-2026-000001"},
                    at=NOW)
    assert [r.kind for r in outbox(dbs, nhung)] == [certificate_kind]    # other categories: yes
    assert queue_daily_digests(dbs, NOW + timedelta(days=1)) == 0


def test_a_daily_digest_gathers_the_days_notifications_into_one_email_at_seven_local_time(
        dbs, people, smtp_server, certificate_kind):
    nhung, mentor = people["nhung"], people["mentor"]            # Hanoi, UTC+7
    services.set_email_mode(dbs, nhung.id, "mentoring", "digest")
    before = nudge(dbs, nhung, mentor, "Hôm kia", at=datetime(2026, 11, 22, 23, 0, tzinfo=UTC))
    first = nudge(dbs, nhung, mentor, "Tin buổi sáng", at=datetime(2026, 11, 23, 3, 0, tzinfo=UTC))
    second = nudge(dbs, nhung, mentor, "Tin đêm khuya",
                   at=datetime(2026, 11, 23, 23, 30, tzinfo=UTC))
    services.notify(dbs, [nhung.id], certificate_kind, params={"serial": "BNG-2026-000002"},
                    at=datetime(2026, 11, 23, 4, 0, tzinfo=UTC))
    after = nudge(dbs, nhung, mentor, "Sau bảy giờ", at=datetime(2026, 11, 24, 0, 30, tzinfo=UTC))
    [immediate] = outbox(dbs, nhung)                             # certificates: at once
    assert immediate.kind == certificate_kind

    assert queue_daily_digests(dbs, datetime(2026, 11, 23, 23, 59, tzinfo=UTC)) == 0  # 06:59
    assert queue_daily_digests(dbs, datetime(2026, 11, 24, 0, 5, tzinfo=UTC)) == 1    # 07:05
    assert queue_daily_digests(dbs, datetime(2026, 11, 24, 0, 5, tzinfo=UTC)) == 0
    assert queue_daily_digests(dbs, datetime(2026, 11, 24, 9, 5, tzinfo=UTC)) == 0
    digest = next(r for r in outbox(dbs, nhung) if r.kind == "digest")
    assert digest.key == f"digest:{nhung.id}:2026-11-24"
    assert sorted(digest.params["ids"]) == [first.id, second.id]
    assert before.id not in digest.params["ids"] and after.id not in digest.params["ids"]

    settings = smtp_server.settings()
    deliver_due(dbs, datetime(2026, 11, 24, 0, 6, tzinfo=UTC), settings)
    mails = smtp_server.to("nhung@mofa.example")
    assert len(mails) == 2                                       # the certificate + the digest
    [mail] = [m for m in mails if m.message["Message-ID"] == message_id(digest.key, settings)]
    for body in (mail.part("text/plain"), mail.part("text/html")):
        assert "Tin buổi sáng" in body and "Tin đêm khuya" in body
        assert "Hôm kia" not in body and "Sau bảy giờ" not in body
        assert "BNG-2026-000002" not in body
    assert "Đặng Quốc Việt" in mail.part("text/plain")


def test_a_digest_follows_each_persons_own_morning(dbs, people):
    nhung, son, mentor = people["nhung"], people["son"], people["mentor"]
    set_zone(dbs, son, "Europe/Paris")                           # UTC+1 in November
    for person in (nhung, son):
        services.set_email_mode(dbs, person.id, "mentoring", "digest")
        nudge(dbs, person, mentor, "Tin hôm qua", at=datetime(2026, 11, 23, 11, 0, tzinfo=UTC))

    def digests() -> dict[int, str]:
        return {r.user_id: r.key for r in outbox(dbs) if r.kind == "digest"}

    queue_daily_digests(dbs, datetime(2026, 11, 24, 0, 5, tzinfo=UTC))   # 07:05 Hanoi, 01:05 Paris
    assert digests() == {nhung.id: f"digest:{nhung.id}:2026-11-24"}
    queue_daily_digests(dbs, datetime(2026, 11, 24, 5, 55, tzinfo=UTC))  # 06:55 Paris
    assert son.id not in digests()
    queue_daily_digests(dbs, datetime(2026, 11, 24, 6, 5, tzinfo=UTC))   # 07:05 Paris
    assert digests() == {nhung.id: f"digest:{nhung.id}:2026-11-24",
                         son.id: f"digest:{son.id}:2026-11-24"}


def test_the_digest_job_queues_once_per_person_and_day(app, dbs, people):
    nhung = people["nhung"]
    services.set_email_mode(dbs, nhung.id, "mentoring", "digest")
    nudge(dbs, nhung, people["mentor"], "Tin", at=datetime(2026, 11, 23, 11, 0, tzinfo=UTC))
    dbs.flush()
    run = run_now(app, "notify.daily_digest", datetime(2026, 11, 24, 0, 3, tzinfo=UTC))
    assert run.status == "done" and run.result.startswith("1 ")
    run_now(app, "notify.daily_digest", datetime(2026, 11, 24, 1, 3, tzinfo=UTC))
    assert dbs.scalar(select(func.count()).select_from(OutboxEmail).where(
        OutboxEmail.kind == "digest")) == 1


# ---------------------------------------------------------------- processes racing

WORKERS = 4
MAILS = 12


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    """An app on its own database whose transactions really commit (as two schedulers')."""
    with fresh_database("outbox") as url:
        app = create_app(app_settings(url, str(tmp_path_factory.mktemp("outbox"))))
        with app.app_context(), app.test_request_context():
            upgrade_database()
            dbs = db.session
            root = org.create_unit(dbs, None, org.UnitData(code="BNG", name="Bộ Ngoại giao",
                                                           kind="ministry"))
            people = [org.create_person(dbs, None, org.PersonData(
                employee_code=f"M{n}", full_name=f"Người Nhận Thư {n}",
                email=f"m{n}@mofa.example", unit_id=root.id), audit=False)
                for n in range(MAILS)]
            dbs.flush()
            services.notify_each(dbs, "nudge", [(p.id, {"mentor": "Đặng Quốc Việt"})
                                                for p in people], body="Thư đua", at=NOW)
            dbs.commit()
        yield app
        with app.app_context():
            db.engine.dispose()


def test_delivery_processes_racing_send_each_email_once(committed):
    server = SmtpServer().start()
    try:
        settings = server.settings()
        reports = race(committed, [lambda s: deliver_due(s, NOW, settings, batch_size=2)]
                       * WORKERS)
        assert all(not isinstance(r, Exception) for r in reports), reports
        assert sum(r.sent for r in reports) == MAILS
        assert len(server.messages) == MAILS
        assert len({m.message["Message-ID"] for m in server.messages}) == MAILS
        assert sorted(m.rcpt_tos[0] for m in server.messages) == sorted(
            f"m{n}@mofa.example" for n in range(MAILS))
        again = race(committed, [lambda s: deliver_due(s, NOW, settings)] * 2)
        assert sum(r.claimed for r in again) == 0 and len(server.messages) == MAILS
    finally:
        server.stop()
    with committed.app_context():
        assert {status for status in db.session.scalars(select(OutboxEmail.status))} == {
            OutboxStatus.SENT.value}


def test_a_process_killed_mid_batch_leaves_what_was_sent_recorded_as_sent(
        dbs, factory, people, smtp_server, monkeypatch):
    """The scheduler killed while sending: the e-mails the server already took are marked
    sent, so the next run (after the claim goes stale) sends only the others."""
    import smtplib

    for i in range(5):
        nudge(dbs, factory.person(), people["mentor"], f"Tin {i}")
    dbs.flush()
    real_send = smtplib.SMTP.send_message
    calls = []

    def send_then_die(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise SystemExit("killed")           # not an SMTP error: the process ends here
        return real_send(self, *args, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "send_message", send_then_die)
    with pytest.raises(SystemExit):
        deliver_due(dbs, NOW, smtp_server.settings(), batch_size=10)
    dbs.rollback()
    statuses = sorted(dbs.scalars(select(OutboxEmail.status)))
    assert statuses == ["sending"] * 3 + ["sent"] * 2
    assert len(smtp_server.messages) == 2
    monkeypatch.setattr(smtplib.SMTP, "send_message", real_send)
    deliver_due(dbs, NOW + timedelta(hours=1), smtp_server.settings(), batch_size=10)
    assert len(smtp_server.messages) == 5                   # three more, none twice
    assert len({m.message["Message-ID"] for m in smtp_server.messages}) == 5


def test_a_claim_takes_no_more_than_the_batch_size(dbs, factory, people):
    """On PostgreSQL a LIMIT … FOR UPDATE SKIP LOCKED subquery inside the UPDATE can be
    scanned again while the UPDATE runs and hand out more rows than asked: a killed process
    would then strand them all. The pick is materialised once."""
    from lms.notify.outbox import claim_batch

    mentor = people["mentor"]
    learners = [factory.person() for _ in range(12)]
    for round_ in range(10):
        for learner in learners:
            nudge(dbs, learner, mentor, f"Tin {round_}")
    dbs.flush()
    assert dbs.scalar(select(func.count()).select_from(OutboxEmail)) == 120
    assert len(claim_batch(dbs, NOW, limit=7)) == 7
    assert dbs.scalar(select(func.count()).select_from(OutboxEmail).where(
        OutboxEmail.status == OutboxStatus.SENDING.value)) == 7
