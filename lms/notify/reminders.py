"""Learners' reminders before a due date, overdue notices, and certificate notices.

The hourly job (:func:`send_reminders`) works timezone by timezone: for every timezone of
active people where it is now 08:00 or later, a few INSERT … SELECT statements (their
number does not depend on how many people there are) add

- ``due_soon``: enrolments not completed whose due date, as a day in the learner's
  timezone, is exactly N days ahead, for each N of their assignment's ``reminder_days``
  ("7,1" when no assignment governs the enrolment);
- ``overdue``: enrolments not completed whose due moment has passed (in the last
  :data:`OVERDUE_CATCH_UP`: a notice is news, not a record of every old debt);
- ``certificate_expiring``: live certificates expiring within :data:`EXPIRY_NOTICE_DAYS`
  days (local days), unless a newer certificate of the same course replaces them;

each with a key naming what it is about (``due:7:<enrolment>:<local due day>``,
``overdue:<enrolment>:<local due day>``, ``expiring:<person>:<course>:<local expiry day>``)
and ON CONFLICT DO NOTHING, so a second run — the same hour or the next — adds nothing;
then the e-mails of the rows just made are queued (one INSERT … SELECT) and the
timezone's work is committed.

``certificate_issued`` is sent by :func:`notify_certificates_issued`, called in the
transaction that issues the certificate (one pair of statements for a whole chunk of a
bulk issue), keyed by the certificate, so it is sent once per certificate.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import url_for
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from lms.assignments.models import Assignment
from lms.assignments.services import DEFAULT_REMINDER_DAYS, parse_reminder_days
from lms.certificates.models import Certificate
from lms.courses.models import Course, CourseStatus, Enrolment, EnrolmentStatus
from lms.db import UTCDateTime
from lms.errors import DomainError
from lms.notify.kinds import register
from lms.notify.models import Notification
from lms.notify.services import queue_emails
from lms.org.models import DEFAULT_TIMEZONE, User

log = logging.getLogger(__name__)

REMIND_FROM = time(8, 0)                  # local time from which a day's notices go out
OVERDUE_CATCH_UP = timedelta(days=7)      # due moments older than this get no notice
EXPIRY_NOTICE_DAYS = 30
JOB_KINDS = ("due_soon", "overdue", "certificate_expiring")
ISSUED = "certificate_issued"


# ---------------------------------------------------------------- what the notices say

def _day(value: Any) -> str:
    try:
        return format_date(date.fromisoformat(str(value)), "medium")
    except ValueError:
        return str(value)


def _course_link(params: dict[str, Any]) -> str:
    return url_for("courses.course_page", slug=params["slug"])


def _certificates_link(params: dict[str, Any]) -> str:
    return url_for("certificates.my_certificates")


def register_kinds() -> None:
    """Register the learners' notices (called at app start-up, and by the tests)."""
    register("due_soon", _l("“%(course)s” is due soon"),
             lambda p: ngettext("Due on %(date)s: %(num)d day left.",
                                "Due on %(date)s: %(num)d days left.",
                                int(p.get("days", 0)), date=_day(p.get("due", ""))),
             _course_link, category="training")
    register("overdue", _l("“%(course)s” is overdue"),
             lambda p: _("It was due on %(date)s. Please finish it as soon as you can.",
                         date=_day(p.get("due", ""))),
             _course_link, category="training")
    register(ISSUED, _l("Your certificate for “%(course)s” is ready"),
             lambda p: _("Certificate number %(serial)s. You can download it and share its "
                         "verification link.", serial=p.get("serial", "")),
             _certificates_link, category="certificates")
    register("certificate_expiring", _l("Your certificate for “%(course)s” expires soon"),
             lambda p: ngettext("It expires on %(date)s, in %(num)d day. Take the course "
                                "again to renew it.",
                                "It expires on %(date)s, in %(num)d days. Take the course "
                                "again to renew it.",
                                int(p.get("days", 0)), date=_day(p.get("expires", ""))),
             _certificates_link, category="certificates")


# ---------------------------------------------------------------- SQL helpers

def _is_postgres(dbs: Session) -> bool:
    return dbs.get_bind().dialect.name == "postgresql"


def _text(value: str) -> ColumnElement[str]:
    return cast(literal(value), String)


def _json(dbs: Session, **values: ColumnElement[Any]) -> ColumnElement[Any]:
    """SQL: a JSON object of the values (keys are fixed identifiers, written inline)."""
    args: list[ColumnElement[Any]] = []
    for key, value in values.items():
        args += [literal_column(f"'{key}'"), value]
    function = func.json_build_object if _is_postgres(dbs) else func.json_object
    return function(*args, type_=JSON)


def _insert_notifications(dbs: Session, rows: Select) -> int:
    """INSERT … SELECT ``rows`` (user_id, kind, key, params, created_at) into notifications,
    skipping keys that exist. Returns how many were added."""
    if _is_postgres(dbs):
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    rows = rows.add_columns(_text(""), _text(""))
    statement = (dialect_insert(Notification)
                 .from_select(["user_id", "kind", "key", "params", "created_at", "body", "link"],
                              rows)
                 .on_conflict_do_nothing(index_elements=["key"]))
    return max(dbs.execute(statement.execution_options(preserve_rowcount=True)).rowcount or 0, 0)


def _when(moment: datetime) -> ColumnElement[datetime]:
    return literal(moment, UTCDateTime())


# ---------------------------------------------------------------- timezones

@dataclass(frozen=True)
class Zone:
    """The people whose ``users.timezone`` is ``name`` (None: not set), and their clock."""

    name: str | None
    tz: ZoneInfo
    today: date

    def start_of(self, day: date) -> datetime:
        """The UTC moment the local ``day`` begins."""
        return datetime.combine(day, time.min, self.tz).astimezone(ZoneInfo("UTC"))

    def day_range(self, day: date) -> tuple[datetime, datetime]:
        return self.start_of(day), self.start_of(day + timedelta(days=1))

    def people(self) -> ColumnElement[bool]:
        if self.name is None or self.name == DEFAULT_TIMEZONE:
            return or_(User.timezone == DEFAULT_TIMEZONE, User.timezone.is_(None))
        return User.timezone == self.name


def _zone_info(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown timezone %r: its people get the default timezone's times", name)
        return ZoneInfo(DEFAULT_TIMEZONE)


def zones_at(dbs: Session, now: datetime, remind_from: time = REMIND_FROM) -> list[Zone]:
    """The timezones of active people where the local time is ``remind_from`` or later
    (one small query)."""
    names = set(dbs.scalars(select(User.timezone).where(User.is_active.is_(True)).distinct()))
    if None in names:
        names.discard(None)
        names.add(DEFAULT_TIMEZONE)
    zones = []
    for name in sorted(names):
        tz = _zone_info(name)
        local = now.astimezone(tz)
        if local.time() >= remind_from:
            zones.append(Zone(name, tz, local.date()))
    return zones


def reminder_offsets(dbs: Session) -> list[int]:
    """Every N of every assignment's reminder days, and of the default (one small query)."""
    offsets = {int(n) for n in DEFAULT_REMINDER_DAYS.split(",")}
    for text in dbs.scalars(select(Assignment.reminder_days).distinct()):
        try:
            normal = parse_reminder_days(text)
        except DomainError:
            log.warning("assignment reminder days %r are not valid: ignored", text)
            continue
        offsets.update(int(n) for n in normal.split(",") if n)
    return sorted(offsets, reverse=True)


# ---------------------------------------------------------------- who gets what (SELECTs)

def _open_enrolments() -> Select:
    """Enrolments not completed, of active people, in courses not archived, with a due date
    (the statement's FROM; the caller adds the columns)."""
    return (select().select_from(Enrolment)
            .join(User, User.id == Enrolment.user_id)
            .join(Course, Course.id == Enrolment.course_id)
            .where(Enrolment.due_at.is_not(None),
                   Enrolment.status != EnrolmentStatus.COMPLETED.value,
                   User.is_active.is_(True),
                   Course.status != CourseStatus.ARCHIVED.value))


def due_soon_rows(dbs: Session, zone: Zone, offsets: Sequence[int], now: datetime) -> Select:
    """(user_id, kind, key, params, created_at) of the due-soon reminders of one timezone."""
    days_of = ("," + func.coalesce(Assignment.reminder_days, DEFAULT_REMINDER_DAYS) + ",")
    windows = [(n, zone.today + timedelta(days=n), zone.day_range(zone.today + timedelta(days=n)))
               for n in offsets]
    in_window = {n: and_(Enrolment.due_at >= lo, Enrolment.due_at < hi)
                 for n, _day_, (lo, hi) in windows}
    days = case(*((in_window[n], literal(n, Integer)) for n, *_rest in windows))
    due_day = case(*((in_window[n], _text(day.isoformat())) for n, day, _r in windows))
    key = case(*((in_window[n], _text(f"due:{n}:")) for n, *_rest in windows)) \
        + cast(Enrolment.id, String) + ":" + due_day
    return (_open_enrolments()
            .outerjoin(Assignment, Assignment.id == Enrolment.assignment_id)
            .add_columns(Enrolment.user_id, _text("due_soon"), key,
                         _json(dbs, course=Course.title, slug=Course.slug, due=due_day, days=days),
                         _when(now))
            .where(zone.people(),
                   or_(*(and_(in_window[n], days_of.like(f"%,{n},%")) for n, *_r in windows))))


def overdue_rows(dbs: Session, zone: Zone, now: datetime) -> Select:
    """(user_id, kind, key, params, created_at) of the overdue notices of one timezone."""
    since = now - OVERDUE_CATCH_UP
    first, last = since.astimezone(zone.tz).date(), zone.today
    ranges = [(first + timedelta(days=i), zone.day_range(first + timedelta(days=i)))
              for i in range((last - first).days + 1)]
    due_day = case(*((and_(Enrolment.due_at >= lo, Enrolment.due_at < hi), _text(day.isoformat()))
                     for day, (lo, hi) in ranges))
    key = "overdue:" + cast(Enrolment.id, String) + ":" + due_day
    return (_open_enrolments()
            .add_columns(Enrolment.user_id, _text("overdue"), key,
                         _json(dbs, course=Course.title, slug=Course.slug, due=due_day),
                         _when(now))
            .where(zone.people(), Enrolment.due_at >= since, Enrolment.due_at < now))


def expiring_rows(dbs: Session, zone: Zone, now: datetime) -> Select:
    """(user_id, kind, key, params, created_at) of the expiry notices of one timezone."""
    windows = [(n, zone.today + timedelta(days=n), zone.day_range(zone.today + timedelta(days=n)))
               for n in range(1, EXPIRY_NOTICE_DAYS + 1)]
    in_window = [(n, day, and_(Certificate.expires_at >= lo, Certificate.expires_at < hi))
                 for n, day, (lo, hi) in windows]
    days = case(*((cond, literal(n, Integer)) for n, _day_, cond in in_window))
    expiry_day = case(*((cond, _text(day.isoformat())) for _n, day, cond in in_window))
    key = ("expiring:" + cast(Certificate.user_id, String) + ":"
           + cast(Certificate.course_id, String) + ":" + expiry_day)
    newer = aliased(Certificate)
    renewed = exists().where(
        newer.user_id == Certificate.user_id, newer.course_id == Certificate.course_id,
        newer.id != Certificate.id, newer.revoked_at.is_(None), newer.superseded_by_id.is_(None),
        or_(newer.expires_at.is_(None), newer.expires_at > Certificate.expires_at))
    return (select(Certificate.user_id, _text("certificate_expiring"), key,
                   _json(dbs, course=Certificate.course_title, expires=expiry_day, days=days,
                         serial=Certificate.serial),
                   _when(now))
            .join(User, User.id == Certificate.user_id)
            .where(zone.people(), User.is_active.is_(True),
                   Certificate.revoked_at.is_(None), Certificate.superseded_by_id.is_(None),
                   Certificate.expires_at >= windows[0][2][0],
                   Certificate.expires_at < windows[-1][2][1],
                   ~renewed))


def selections(dbs: Session, now: datetime) -> list[tuple[str, str, Select]]:
    """(timezone, kind, SELECT) of everything one run at ``now`` considers (the bench runs
    them alone, as the floor of a run)."""
    offsets = reminder_offsets(dbs)
    found = []
    for zone in zones_at(dbs, now):
        label = zone.name or DEFAULT_TIMEZONE
        found += [(label, "due_soon", due_soon_rows(dbs, zone, offsets, now)),
                  (label, "overdue", overdue_rows(dbs, zone, now)),
                  (label, "certificate_expiring", expiring_rows(dbs, zone, now))]
    return found


# ---------------------------------------------------------------- the run

@dataclass
class ReminderReport:
    zones: list[str] = field(default_factory=list)
    due_soon: int = 0
    overdue: int = 0
    expiring: int = 0
    emails: int = 0

    def __str__(self) -> str:
        return (f"{len(self.zones)} timezones: {self.due_soon} due soon, {self.overdue} overdue, "
                f"{self.expiring} certificates expiring; {self.emails} e-mails queued")


def send_reminders(dbs: Session, now: datetime, commit: bool = True) -> ReminderReport:
    """Add this hour's reminders and notices, and queue their e-mails (see the module's
    docstring). Idempotent: running it again, at ``now`` or later the same day, adds
    nothing. Commits each timezone's work (unless ``commit`` is false)."""
    report = ReminderReport()
    offsets = reminder_offsets(dbs)
    for zone in zones_at(dbs, now):
        report.zones.append(zone.name or DEFAULT_TIMEZONE)
        report.due_soon += _insert_notifications(dbs, due_soon_rows(dbs, zone, offsets, now))
        report.overdue += _insert_notifications(dbs, overdue_rows(dbs, zone, now))
        report.expiring += _insert_notifications(dbs, expiring_rows(dbs, zone, now))
        report.emails += queue_emails(dbs, and_(Notification.created_at == now,
                                                Notification.kind.in_(JOB_KINDS)), now)
        if commit:
            dbs.commit()
    log.info("reminders at %s: %s", now.isoformat(), report)
    return report


# ---------------------------------------------------------------- certificates issued

def issued_key(certificate_id: int) -> str:
    return f"{ISSUED}:{certificate_id}"


def notify_certificates_issued(dbs: Session, certificate_ids: Iterable[int],
                               at: datetime) -> int:
    """Tell the holders of these certificates that they are ready, once per certificate,
    and queue the e-mails: two statements, however many certificates."""
    ids = sorted(set(certificate_ids))
    if not ids:
        return 0
    rows = (select(Certificate.user_id, _text(ISSUED),
                   _text(f"{ISSUED}:") + cast(Certificate.id, String),
                   _json(dbs, course=Certificate.course_title, serial=Certificate.serial,
                         certificate_id=Certificate.id),
                   _when(at))
            .where(Certificate.id.in_(ids), Certificate.revoked_at.is_(None)))
    added = _insert_notifications(dbs, rows)
    queue_emails(dbs, Notification.key.in_([issued_key(i) for i in ids]), at)
    return added
