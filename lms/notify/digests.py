"""What unit heads hear about their subtree: a weekly digest (Monday 08:00 in the head's own
timezone) and an escalation for each person overdue by more than 14 days.

Both are made by jobs of the `lms scheduler` process and are idempotent by their keys:
``weekly:{head}:{unit}:{ISO week}`` and ``escalate14:{head}:{enrolment}:{due date}``.
The figures come from the reports' roll-up (:func:`lms.reports.figures.compute`), so a
digest says what the head's dashboard says, and never covers people outside the subtree.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import url_for
from flask_babel import get_locale, gettext, ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, String, cast, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from lms.courses.models import Course, Enrolment
from lms.notify.kinds import register
from lms.notify.models import JobRun, JobRunStatus, Notification
from lms.notify.services import queue_emails
from lms.org.models import DEFAULT_TIMEZONE, ConcurrentPost, Role, RoleGrant, Unit, User

log = logging.getLogger(__name__)

WEEKLY_KIND = "weekly_digest"
ESCALATION_KIND = "overdue_escalation"
WEEKLY_JOB = "notify.weekly_digest"
ESCALATION_JOB = "notify.overdue_escalation"

SEND_HOUR = 8                              # local time of the head
ESCALATE_AFTER = timedelta(days=14)        # overdue by more than this
# Only people who passed the 14 days within this window are escalated: after a long
# outage the missed days are caught up, but switching the feature on does not send a
# ministry head one message for every person ever overdue.
ESCALATION_WINDOW = timedelta(days=7)
NAMES_SHOWN = 5
UNITS_SHOWN = 3
ASSIGNED = "assigned"


# ---------------------------------------------------------------- words

def _pct(value: Any) -> str:
    from lms.reports.charts import format_pct

    number = float(value) if isinstance(value, (int, float)) else None
    return format_pct(number, str(get_locale() or "vi"))


def _weekly_text(params: dict[str, Any]) -> str:
    parts = [gettext("Completion %(now)s (a week ago: %(before)s).",
                     now=_pct(params.get("completion")),
                     before=_pct(params.get("completion_week_ago")))]
    count = int(params.get("newly_overdue", 0))
    if count:
        parts.append(ngettext("%(num)d person became overdue this week: %(names)s.",
                              "%(num)d people became overdue this week: %(names)s.",
                              count, names=params.get("overdue_names", "")))
    else:
        parts.append(gettext("Nobody became overdue this week."))
    if params.get("top_unit"):
        parts.append(gettext("Highest: %(unit)s (%(pct)s).", unit=params["top_unit"],
                             pct=_pct(params.get("top_pct"))))
    if params.get("bottom_unit"):
        parts.append(gettext("Lowest: %(unit)s (%(pct)s).", unit=params["bottom_unit"],
                             pct=_pct(params.get("bottom_pct"))))
    return " ".join(parts)


def _escalation_text(params: dict[str, Any]) -> str:
    due = params.get("due_at", "")
    try:
        from lms.i18n import local_date

        shown = local_date(datetime.fromisoformat(str(due)).replace(tzinfo=ZoneInfo("UTC")))
    except ValueError:
        shown = str(due)[:10]
    return gettext("“%(course)s” was due on %(due)s and is still not completed.",
                   course=params.get("course", ""), due=shown)


def register_kinds() -> None:
    """The kinds this module sends (category "reports": heads choose how they get e-mail)."""
    register(WEEKLY_KIND, _l("Weekly digest: %(unit)s"), _weekly_text,
             lambda params: url_for("reports.dashboard", unit_id=params["unit_id"]),
             category="reports")
    register(ESCALATION_KIND, _l("%(name)s is more than 14 days overdue"), _escalation_text,
             lambda params: url_for("reports.dashboard", unit_id=params["unit_id"]),
             category="reports")


# ---------------------------------------------------------------- clocks

def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def local_start_of_day(now: datetime, timezone: str, hour: int) -> datetime:
    """Today's ``hour``:00 in ``timezone`` (as an aware datetime)."""
    tz = zone(timezone)
    return datetime.combine(now.astimezone(tz).date(), time(hour), tz)


def last_done_at(dbs: Session, job_id: str) -> datetime | None:
    """When the last completed run of ``job_id`` started (its clock), or None."""
    return dbs.scalar(select(func.max(JobRun.started_at)).where(
        JobRun.job == job_id, JobRun.status == JobRunStatus.DONE.value))


def due_today(now: datetime, timezone: str, hour: int, last_done: datetime | None) -> bool:
    """A once-a-day job acts for ``timezone`` now: it is ``hour``:00 there or later, and no
    completed run began since then (a run missed at 08:00 is caught up later that day)."""
    start = local_start_of_day(now, timezone, hour)
    return now >= start and (last_done is None or last_done < start)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def weekly_due(now: datetime, timezone: str) -> str | None:
    """The local ISO week a head's digest is due for: from Monday 08:00 local on (a
    scheduler that was down on Monday catches up later that week); None before."""
    local = now.astimezone(zone(timezone))
    monday = local.date() - timedelta(days=local.weekday())
    if local < datetime.combine(monday, time(SEND_HOUR), zone(timezone)):
        return None
    return iso_week(local.date())


# ---------------------------------------------------------------- the weekly digest

@dataclass(frozen=True)
class Headed:
    head_id: int
    unit_id: int
    key: str


def _heads(dbs: Session) -> list[tuple[int, int, str]]:
    """(head, unit, timezone) of every active head of an active unit (one query)."""
    return [tuple(row) for row in dbs.execute(
        select(RoleGrant.user_id, RoleGrant.unit_id, User.timezone)
        .join(User, User.id == RoleGrant.user_id)
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .where(RoleGrant.role == Role.UNIT_HEAD.value, User.is_active.is_(True),
               Unit.is_active.is_(True))
        .order_by(RoleGrant.user_id, RoleGrant.unit_id))]


def _existing_keys(dbs: Session, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set(dbs.scalars(select(Notification.key).where(Notification.key.in_(keys))))


def _newly_overdue(dbs: Session, now: datetime, units: dict[int, Any],
                   headed: set[int]) -> dict[int, list[tuple[str, int, str]]]:
    """Per headed unit: the people (sort name, id, name) whose assigned training fell due in
    the last 7 days and is not completed, placed in its subtree or holding a current
    concurrent post there. Two queries for the whole organisation."""
    week_ago = now - timedelta(days=7)
    late = (select(Enrolment.user_id, Enrolment.unit_id, User.full_name, User.sort_name)
            .join(User, User.id == Enrolment.user_id)
            .where(Enrolment.source == ASSIGNED, User.is_active.is_(True),
                   Enrolment.due_at >= week_ago, Enrolment.due_at < now,
                   or_(Enrolment.completed_at.is_(None), Enrolment.completed_at > now)))
    places: dict[int, set[int]] = defaultdict(set)
    names: dict[int, tuple[str, str]] = {}
    for user_id, unit_id, full_name, sort_name in dbs.execute(late):
        places[user_id].add(unit_id)
        names[user_id] = (sort_name or full_name, full_name)
    if not names:
        return {}
    late_people = late.with_only_columns(Enrolment.user_id).distinct()
    for user_id, unit_id in dbs.execute(
            select(ConcurrentPost.user_id, ConcurrentPost.unit_id)
            .where(ConcurrentPost.ended_at.is_(None), ConcurrentPost.user_id.in_(late_people))):
        places[user_id].add(unit_id)
    found: dict[int, set[int]] = defaultdict(set)
    for user_id, unit_ids in places.items():
        for unit_id in unit_ids:
            info = units.get(unit_id)
            for ancestor in (info.ancestor_ids if info else ()):
                if ancestor in headed:
                    found[ancestor].add(user_id)
    return {unit_id: sorted((names[u][0], u, names[u][1]) for u in people)
            for unit_id, people in found.items()}


def _ranked_children(rollup: Any, unit_id: int) -> list[tuple[Any, float]]:
    ranked = [(child, rollup.totals[child.id].completion_pct)
              for child in rollup.children(unit_id)]
    ranked = [(child, pct) for child, pct in ranked if pct is not None]
    return sorted(ranked, key=lambda item: (-item[1], item[0].code))


def digest_params(rollup: Any, unit_id: int,
                  overdue: list[tuple[str, int, str]]) -> dict[str, Any]:
    """What one head's digest says about one unit (plain JSON values)."""
    info = rollup.units[unit_id]
    total = rollup.totals[unit_id]
    before = (round(100 * total.trend_completed[0] / total.trend_assigned[0], 1)
              if total.trend_assigned and total.trend_assigned[0] else None)
    ranked = _ranked_children(rollup, unit_id)
    shown = min(UNITS_SHOWN, len(ranked) // 2)
    top = ranked[:shown]
    bottom = list(reversed(ranked[len(ranked) - shown:])) if shown else []
    names = [name for _, _, name in overdue[:NAMES_SHOWN]]
    params: dict[str, Any] = {
        "unit_id": unit_id, "unit": info.name,
        "completion": total.completion_pct, "completion_week_ago": before,
        "assigned": total.assigned, "completed": total.completed,
        "newly_overdue": len(overdue),
        "overdue_ids": [person_id for _, person_id, _ in overdue[:NAMES_SHOWN]],
        "overdue_names": ", ".join(names) + (", …" if len(overdue) > NAMES_SHOWN else ""),
        "top_units": [{"id": u.id, "name": u.name, "pct": pct} for u, pct in top],
        "bottom_units": [{"id": u.id, "name": u.name, "pct": pct} for u, pct in bottom],
    }
    if top:
        params.update(top_unit=top[0][0].name, top_pct=top[0][1],
                      bottom_unit=bottom[0][0].name, bottom_pct=bottom[0][1])
    return params


def weekly_digest(dbs: Session, now: datetime) -> str:
    """Each head whose week's digest is due (Monday 08:00 local or later) and not yet made
    gets one per headed unit. Statements: heads, existing keys, one roll-up of the
    organisation (4), newly overdue people (2), one INSERT, one INSERT … SELECT of e-mails."""
    from lms.reports.figures import Filters, compute

    due: list[Headed] = []
    for head_id, unit_id, timezone in _heads(dbs):
        week = weekly_due(now, timezone)
        if week is not None:
            due.append(Headed(head_id, unit_id, f"weekly:{head_id}:{unit_id}:{week}"))
    done = _existing_keys(dbs, [h.key for h in due])
    due = [h for h in due if h.key not in done]
    if not due:
        return "0 digests"
    roots = dbs.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id)).all()
    rollups = [compute(dbs, root, Filters(), now, [now - timedelta(days=7)]) for root in roots]
    rollup_of = {unit_id: r for r in rollups for unit_id in r.units}
    units = {unit_id: info for r in rollups for unit_id, info in r.units.items()}
    headed = {h.unit_id for h in due}
    overdue = _newly_overdue(dbs, now, units, headed)
    rows = [{"user_id": h.head_id, "kind": WEEKLY_KIND, "key": h.key,
             "params": digest_params(rollup_of[h.unit_id], h.unit_id, overdue.get(h.unit_id, [])),
             "body": "", "link": "", "created_at": now}
            for h in due if h.unit_id in rollup_of]
    if rows:
        dbs.execute(insert_ignoring(dbs, Notification, ["key"]), rows)
        queue_emails(dbs, Notification.key.in_([row["key"] for row in rows]), now)
    log.info("weekly digests: %d", len(rows))
    return f"{len(rows)} digests"


# ---------------------------------------------------------------- escalations

def insert_ignoring(dbs: Session, model: Any, keys: list[str]):
    """INSERT … ON CONFLICT (keys) DO NOTHING, for this session's database."""
    if dbs.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(model).on_conflict_do_nothing(index_elements=keys)


def _utc_text(dbs: Session, column: ColumnElement[Any]) -> ColumnElement[str]:
    """SQL: a timestamp as 'YYYY-MM-DD HH:MM:SS' in UTC (SQLite keeps it as such text)."""
    if dbs.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS")
    return func.substr(column, 1, 19)


def _json_object(dbs: Session, *pairs: Any) -> ColumnElement[Any]:
    if dbs.get_bind().dialect.name == "postgresql":
        return func.json_build_object(*pairs)
    return func.json_object(*pairs)


def _escalations(dbs: Session, now: datetime, timezones: list[str], via_posts: bool):
    """SELECT the escalation rows of the heads in ``timezones``: people placed in the head's
    subtree (or, with ``via_posts``, holding a current concurrent post there) whose assigned
    training has been overdue for more than 14 days."""
    head, person = aliased(User), aliased(User)
    head_unit, unit = aliased(Unit), aliased(Unit)
    due = _utc_text(dbs, Enrolment.due_at)
    key = (literal("escalate14:") + cast(RoleGrant.user_id, String) + literal(":")
           + cast(Enrolment.id, String) + literal(":") + func.substr(due, 1, 10))
    params = _json_object(dbs, "name", person.full_name, "person_id", person.id,
                          "course", Course.title, "enrolment_id", Enrolment.id,
                          "due_at", due, "unit_id", RoleGrant.unit_id)
    query = (select(RoleGrant.user_id, literal(ESCALATION_KIND), key, params, literal(""),
                    literal(""), literal(now, Notification.created_at.type))
             .select_from(RoleGrant)
             .join(head, head.id == RoleGrant.user_id)
             .join(head_unit, head_unit.id == RoleGrant.unit_id)
             .join(unit, unit.path.startswith(head_unit.path)))
    if via_posts:
        query = (query.join(ConcurrentPost, (ConcurrentPost.unit_id == unit.id)
                            & ConcurrentPost.ended_at.is_(None))
                 .join(Enrolment, Enrolment.user_id == ConcurrentPost.user_id))
    else:
        query = query.join(Enrolment, Enrolment.unit_id == unit.id)
    return (query.join(person, person.id == Enrolment.user_id)
            .join(Course, Course.id == Enrolment.course_id)
            .where(RoleGrant.role == Role.UNIT_HEAD.value, head.is_active.is_(True),
                   head.timezone.in_(timezones), head_unit.is_active.is_(True),
                   person.is_active.is_(True), person.id != head.id,
                   Enrolment.source == ASSIGNED, Enrolment.completed_at.is_(None),
                   Enrolment.due_at < now - ESCALATE_AFTER,
                   Enrolment.due_at >= now - ESCALATE_AFTER - ESCALATION_WINDOW))


def overdue_escalation(dbs: Session, now: datetime) -> str:
    """Once a local day (08:00 in the head's timezone, or later when that run was missed),
    heads get one notification per enrolment in their subtree overdue by more than 14 days;
    its key names the enrolment and due date, so each is escalated once (again only if the
    due date moves). Statements: timezones, last run, two INSERT … SELECT, the e-mails."""
    zones = dbs.scalars(select(User.timezone).distinct()
                        .join(RoleGrant, RoleGrant.user_id == User.id)
                        .where(RoleGrant.role == Role.UNIT_HEAD.value,
                               User.is_active.is_(True))).all()
    last = last_done_at(dbs, ESCALATION_JOB)
    acting = sorted(tz for tz in zones if due_today(now, tz, SEND_HOUR, last))
    if not acting:
        return "0 escalations"
    before = dbs.scalar(select(func.max(Notification.id))) or 0
    columns = ["user_id", "kind", "key", "params", "body", "link", "created_at"]
    added = 0
    for via_posts in (False, True):
        stmt = insert_ignoring(dbs, Notification, ["key"]).from_select(
            columns, _escalations(dbs, now, acting, via_posts))
        added += dbs.execute(stmt).rowcount or 0
    queue_emails(dbs, (Notification.id > before) & (Notification.kind == ESCALATION_KIND)
                 & (Notification.created_at == now), now)
    log.info("overdue escalations: %d (timezones %s)", added, ", ".join(acting))
    return f"{added} escalations"
