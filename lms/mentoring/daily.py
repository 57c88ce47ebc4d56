"""The mentors' daily list: at 08:00 in the mentor's timezone, one notification naming the
mentees who newly need help since the previous list (none when nobody is new).

"Newly" is per (mentee, need): someone overdue yesterday who now also waits for an answer
is on today's list. What the mentor was last told is kept in the params of their latest
list (``seen``); on a day with nobody new that record is brought up to date instead, so a
mentee who recovers and later needs help again is new again. Its key,
``mentees:{mentor}:{local date}``, makes the list once a day whatever runs twice.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, aliased

from lms.mentoring.models import Mentorship
from lms.mentoring.needs import needs_of
from lms.notify.digests import due_today, insert_ignoring, last_done_at, zone
from lms.notify.kinds import register
from lms.notify.models import Notification
from lms.notify.services import queue_emails
from lms.org.models import User

log = logging.getLogger(__name__)

KIND = "mentees_need_help"
JOB_ID = "mentoring.daily_list"
LIST_HOUR = 8
NAMES_SHOWN = 5


def _text(params: dict[str, Any]) -> str:
    count = int(params.get("count", 0))
    return ngettext("%(num)d mentee newly needs help: %(names)s",
                    "%(num)d mentees newly need help: %(names)s", count,
                    names=params.get("names", ""))


def register_kinds() -> None:
    register(KIND, _l("Mentees who need help today"), _text,
             lambda params: url_for("mentoring.index"), category="mentoring")


def _pairs(needs: dict[int, set[Any]], mentees: list[int]) -> set[str]:
    return {f"{mentee}:{need.value}" for mentee in mentees for need in needs.get(mentee, ())}


def daily_list(dbs: Session, now: datetime, inactive_days: int | None = None) -> str:
    """Make today's lists for mentors in timezones where it is 08:00 or later and whose list
    has not been made today. Statements: timezones, last run, pairs, today's keys, the needs
    (4), previous lists, one INSERT, one e-mail INSERT … SELECT, one batched UPDATE."""
    if inactive_days is None:
        inactive_days = current_app.config.get("MENTOR_INACTIVE_DAYS", 14)
    mentor, mentee = aliased(User), aliased(User)
    current = (Mentorship.ended_at.is_(None), mentor.is_active.is_(True))
    zones = dbs.scalars(select(mentor.timezone).distinct()
                        .join(Mentorship, Mentorship.mentor_id == mentor.id)
                        .where(*current)).all()
    last = last_done_at(dbs, JOB_ID)
    acting = sorted(tz for tz in zones if due_today(now, tz, LIST_HOUR, last))
    if not acting:
        return "0 lists"
    in_zones = mentor.timezone.in_(acting)
    mentees_of: dict[int, list[int]] = defaultdict(list)
    names: dict[int, tuple[str, str]] = {}
    zone_of: dict[int, str] = {}
    for mentor_id, mentee_id, full_name, sort_name, timezone in dbs.execute(
            select(Mentorship.mentor_id, Mentorship.mentee_id, mentee.full_name,
                   mentee.sort_name, mentor.timezone)
            .join(mentor, mentor.id == Mentorship.mentor_id)
            .join(mentee, mentee.id == Mentorship.mentee_id)
            .where(*current, in_zones, mentee.is_active.is_(True))):
        mentees_of[mentor_id].append(mentee_id)
        names[mentee_id] = (sort_name or full_name, full_name)
        zone_of[mentor_id] = timezone
    keys = {mentor_id: f"mentees:{mentor_id}:{now.astimezone(zone(tz)).date().isoformat()}"
            for mentor_id, tz in zone_of.items()}
    made = set(dbs.scalars(select(Notification.key).where(
        Notification.key.in_(list(keys.values()))))) if keys else set()
    mentors = [m for m in sorted(mentees_of) if keys[m] not in made]
    if not mentors:
        return "0 lists"
    people = (select(Mentorship.mentee_id).join(mentor, mentor.id == Mentorship.mentor_id)
              .where(*current, in_zones))
    needs = needs_of(dbs, people, now, inactive_days)
    previous = {row.user_id: row for row in dbs.execute(
        select(Notification.id, Notification.user_id, Notification.params)
        .where(Notification.id.in_(
            select(func.max(Notification.id))
            .where(Notification.kind == KIND, Notification.user_id.in_(mentors))
            .group_by(Notification.user_id))))}
    lists: list[dict[str, Any]] = []
    refreshed: list[dict[str, Any]] = []
    for mentor_id in mentors:
        now_seen = _pairs(needs, mentees_of[mentor_id])
        before = previous.get(mentor_id)
        seen = set((before.params or {}).get("seen", [])) if before is not None else set()
        new = sorted({int(pair.split(":")[0]) for pair in now_seen - seen},
                     key=lambda person: names[person])
        day = keys[mentor_id].rsplit(":", 1)[1]
        if new:
            shown = [names[person][1] for person in new[:NAMES_SHOWN]]
            lists.append({
                "user_id": mentor_id, "kind": KIND, "key": keys[mentor_id], "body": "",
                "link": "", "created_at": now,
                "params": {"count": len(new), "mentee_ids": new,
                           "names": ", ".join(shown) + (", …" if len(new) > NAMES_SHOWN else ""),
                           "needs": {str(p): sorted(n.value for n in needs[p]) for p in new},
                           "seen": sorted(now_seen), "day": day}})
        elif before is not None and now_seen != seen:
            refreshed.append({"row_id": before.id,
                              "new_params": {**(before.params or {}), "seen": sorted(now_seen),
                                             "seen_on": day}})
    if lists:
        dbs.execute(insert_ignoring(dbs, Notification, ["key"]), lists)
        queue_emails(dbs, Notification.key.in_([row["key"] for row in lists]), now)
    if refreshed:
        table = Notification.__table__
        dbs.connection().execute(
            update(table).where(table.c.id == bindparam("row_id"))
            .values(params=bindparam("new_params", type_=table.c.params.type)), refreshed)
    log.info("mentors' daily lists: %d (timezones %s)", len(lists), ", ".join(acting))
    return f"{len(lists)} lists"
