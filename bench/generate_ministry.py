#!/usr/bin/env python
"""Build a ministry for the reports benchmark, on PostgreSQL or SQLite.

    python bench/generate_ministry.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/lms_bench_reports
    python bench/generate_ministry.py --database-url sqlite:////tmp/lms-bench/lms_bench_reports.db

Drops and recreates the database (its name must contain "bench"), makes the schema with the
app's own Alembic migrations, then loads (defaults in brackets):

- units [400] on three levels below the ministry: departments, institutes and missions
  abroad; their divisions; teams in most divisions. ``path`` is the materialised path.
- people [50,000] with Vietnamese names and positions, ~1% who have left (inactive), ~4%
  who joined in the last four months; an admin, trainers, a head for every department
  and for some divisions; mentors with their mentees; a few hundred concurrent posts
  (most in another department, a tenth of them ended).
- published courses [20], most granting a certificate; four assignments by decision
  (real ``Assignment`` rows through the models, each a learning path of courses, target
  everyone) started 10, 5 and 2 months and 2 weeks ago, due 5 and 1 months ago, in 3 and
  in 9 weeks; the other fifth of the courses are taken by choice.
- enrolments [1,000,000: everyone in every course] whose status agrees with their
  timestamps as of the moment of generation: ~45% completed (started and completed set,
  certified where the course grants a certificate), ~25% in progress, the rest not
  started; earlier decisions further along; a quiz score on ~40% of those started;
  newcomers enrolled when they joined, with 30 days to finish; overdue where the due date
  has passed and the course is not completed.

Rows are bulk-loaded (PostgreSQL: COPY into the enrolments table without its secondary
indexes and constraints, rebuilt afterwards; SQLite: executemany in chunks of 10,000 in
one transaction, plain indexes rebuilt afterwards), then ANALYZE (PostgreSQL: VACUUM
ANALYZE, so the covering index can be read without the table). Deterministic for a seed
and a moment (``--now``).
"""
from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402
from bench.generate import (  # noqa: E402
    COURSES,
    DEPARTMENTS,
    DIVISIONS,
    GIVEN_F,
    GIVEN_M,
    INSTITUTES,
    MIDDLE_F,
    MIDDLE_M,
    MISSION_DIVISIONS,
    MISSIONS,
    SURNAMES,
    pg_detach,
    slugify,
    step,
)

#: Bump when the generated data changes for the same spec (run_reports.py then regenerates).
GENERATOR_VERSION = 2
DAY = 86400.0
YEAR = 365 * DAY
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
CHUNK = 10_000

POSITIONS = [("Chuyên viên", 46), ("Chuyên viên chính", 18), ("Chuyên viên cao cấp", 4),
             ("Cán sự", 6), ("Nhân viên", 5), ("Phó Trưởng phòng", 7), ("Trưởng phòng", 4),
             ("Phó Vụ trưởng", 1.5), ("Vụ trưởng", 0.5), ("Tùy viên", 2), ("Bí thư thứ ba", 2.5),
             ("Bí thư thứ hai", 1.5), ("Bí thư thứ nhất", 1), ("Tham tán", 1)]
TEAMS = [("Tổ Tổng hợp", "General Team"), ("Tổ Văn thư – Lưu trữ", "Records Team"),
         ("Tổ Công nghệ thông tin", "IT Team"), ("Tổ Hợp tác song phương", "Bilateral Team"),
         ("Tổ Lễ tân", "Protocol Team"), ("Tổ Bảo hộ công dân", "Citizen Protection Team"),
         ("Tổ Thị thực", "Visa Team"), ("Tổ Hộ chiếu", "Passport Team"),
         ("Tổ Kinh tế", "Economic Team"), ("Tổ Văn hóa", "Culture Team")]
POST_POSITIONS = ["Phó Trưởng phòng (kiêm nhiệm)", "Chuyên viên (kiêm nhiệm)", "Tổ trưởng (kiêm nhiệm)"]

# The four decisions: (days since start, days to due from now, share completed, share in
# progress, number, title). Earlier decisions are further along.
WAVES = [
    (300, -150, 0.80, 0.10, "1637/QĐ-BNG", "Bồi dưỡng kỹ năng số cơ bản"),
    (150, -30, 0.60, 0.20, "412/QĐ-BNG", "An toàn thông tin cho cán bộ, công chức"),
    (60, 21, 0.35, 0.35, "1093/QĐ-BNG", "Chuyển đổi số trong công tác đối ngoại"),
    (14, 63, 0.12, 0.30, "1388/QĐ-BNG", "Dịch vụ công trực tuyến"),
]
SELF_COMPLETED, SELF_IN_PROGRESS = 0.38, 0.30

ENROLMENT_COLUMNS = ("id user_id course_id unit_id source assignment_id due_at status progress_pct "
                     "enrolled_at started_at completed_at last_lesson_id last_activity_at quiz_score "
                     "certified_at cycle_started_at updated_at").split()


@dataclass(frozen=True)
class Spec:
    """What to build; ``now`` (UTC seconds, whole minutes) fixes every timestamp."""

    users: int = 50_000
    units: int = 400
    courses: int = 20
    enrolments: int = 1_000_000
    posts: int = 300
    seed: int = 1
    now: float = 0.0

    def matches(self, other: dict[str, Any]) -> bool:
        """Same data as ``other`` (a spec as a dict), whatever the moment."""
        mine = asdict(self)
        return all(mine[k] == other.get(k) for k in mine if k != "now")


def moment(ts: float) -> datetime:
    return EPOCH + timedelta(seconds=ts)


def iso(ts: float | None) -> str | None:
    """UTC seconds -> text both databases read as that instant (SQLAlchemy's SQLite format;
    PostgreSQL with TimeZone=UTC)."""
    if ts is None:
        return None
    return (EPOCH + timedelta(seconds=ts)).strftime("%Y-%m-%d %H:%M:%S.%f")


# ------------------------------------------------------------------ the organisation


class Ministry:
    """Units, people, courses, grants, posts and mentorships (small enough for lists);
    enrolments are streamed by :func:`enrolment_rows`."""

    def __init__(self, spec: Spec) -> None:
        if spec.units < 4:
            raise ValueError("at least 4 units (the ministry and one unit on each level)")
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.now = spec.now
        self.units: list[dict] = []
        self.users: list[dict] = []
        self.courses: list[dict] = []
        self.grants: list[dict] = []
        self.posts: list[dict] = []
        self.mentorships: list[dict] = []
        self.waves: list[dict] = []            # per decision: dates, shares, course ids
        self.course_wave: dict[int, int | None] = {}
        self.zeal: dict[int, float] = {}
        self._make_units()
        self._make_users()
        self._make_grants_and_posts()
        self._make_courses_and_waves()

    # -------------------------------------------------------------- units

    def _make_units(self) -> None:
        rng, n = self.rng, self.spec.units
        created = moment(self.now - 3 * YEAR)
        n1 = max(1, round(n * 0.06))
        n2 = max(1, round(n * 0.36))
        n3 = n - 1 - n1 - n2
        if n3 < 1:
            n2, n3 = n2 - 1, 1

        def add(code: str, name: str, name_en: str, kind: str, parent: dict | None, tz: str) -> dict:
            uid = len(self.units) + 1
            unit = {"id": uid, "code": code, "name": name, "name_en": name_en, "kind": kind,
                    "parent_id": parent["id"] if parent else None,
                    "path": f"{parent['path'] if parent else '/'}{uid}/", "timezone": tz,
                    "is_active": True, "created_at": created}
            self.units.append(unit)
            return unit

        root = add("BNG", "Bộ Ngoại giao", "Ministry of Foreign Affairs", "ministry", None,
                   "Asia/Ho_Chi_Minh")
        n_missions = min(len(MISSIONS), round(n1 * 0.3))
        n_institutes = min(len(INSTITUTES), 1 if n1 >= 6 else 0)
        level1: list[tuple[dict, bool]] = []
        for i in range(n1):
            if i < n1 - n_missions - n_institutes:
                name, name_en = DEPARTMENTS[i % len(DEPARTMENTS)]
                if i >= len(DEPARTMENTS):
                    again = i // len(DEPARTMENTS) + 1
                    name, name_en = f"{name} {again}", f"{name_en} {again}"
                unit = add(f"V{i + 1:02d}", name, name_en, "department", root, "Asia/Ho_Chi_Minh")
                level1.append((unit, False))
            elif i < n1 - n_missions:
                name, name_en = INSTITUTES[i - (n1 - n_missions - n_institutes)]
                level1.append((add(f"HV{i + 1:02d}", name, name_en, "institute", root,
                                   "Asia/Ho_Chi_Minh"), False))
            else:
                country, country_en, tz = MISSIONS[i - (n1 - n_missions)]
                level1.append((add(f"DSQ{i + 1:02d}", f"Đại sứ quán Việt Nam tại {country}",
                                   f"Embassy of Viet Nam in {country_en}", "mission", root, tz), True))
        # Divisions: every level-1 unit gets at least one, missions fewer, the rest unevenly.
        parents = list(range(len(level1)))
        if n2 > len(level1):
            weights = [0.5 if mission else rng.uniform(0.7, 1.5) for _u, mission in level1]
            parents += rng.choices(range(len(level1)), weights=weights, k=n2 - len(level1))
        level2: list[tuple[dict, bool]] = []
        used: dict[int, int] = {}
        for p in sorted(parents[:n2]):
            parent, mission = level1[p]
            k = used.get(p, 0)
            used[p] = k + 1
            names = MISSION_DIVISIONS if mission else DIVISIONS
            name, name_en = names[k % len(names)]
            if k >= len(names):
                name, name_en = f"{name} {k // len(names) + 1}", f"{name_en} {k // len(names) + 1}"
            level2.append((add(f"{parent['code']}-P{k + 1:02d}", name, name_en, "division", parent,
                               parent["timezone"]), mission))
        # Teams below divisions (level 3), most divisions have one or more.
        chosen = sorted(rng.choices(range(len(level2)), k=n3))
        used = {}
        for p in chosen:
            parent, _mission = level2[p]
            k = used.get(p, 0)
            used[p] = k + 1
            name, name_en = TEAMS[k % len(TEAMS)]
            if k >= len(TEAMS):
                name, name_en = f"{name} {k // len(TEAMS) + 1}", f"{name_en} {k // len(TEAMS) + 1}"
            add(f"{parent['code']}-T{k + 1:02d}", name, name_en, "division", parent, parent["timezone"])
        self.zeal = {u["id"]: rng.uniform(-0.08, 0.08) for u in self.units}

    # -------------------------------------------------------------- people

    def _make_users(self) -> None:
        from lms.auth.passwords import hash_password
        from lms.org.models import User
        from lms.org.services import set_derived_names

        rng, now = self.rng, self.now
        password_hash = hash_password(_common.BENCH_PASSWORD)
        depth = {u["id"]: u["path"].count("/") - 2 for u in self.units}
        unit_ids = [u["id"] for u in self.units]
        weights = [(0.3, 0.4, 1.0, 1.0)[depth[uid]] * rng.uniform(0.6, 1.4) for uid in unit_ids]
        placed = rng.choices(unit_ids, weights=weights, k=self.spec.users)
        placed[0] = 1  # the admin sits in the ministry
        tz_of = {u["id"]: u["timezone"] for u in self.units}
        surnames, surname_w = zip(*SURNAMES, strict=True)
        positions, position_w = zip(*POSITIONS, strict=True)
        taken: dict[str, int] = {}
        for i in range(self.spec.users):
            female = rng.random() < 0.52
            surname = rng.choices(surnames, surname_w)[0]
            middles = rng.sample(MIDDLE_F if female else MIDDLE_M, 2 if rng.random() < 0.25 else 1)
            given = rng.choice(GIVEN_F if female else GIVEN_M)
            full_name = " ".join([surname, *middles, given])
            local = slugify(given).replace("-", "") + "".join(slugify(w)[0] for w in [surname, *middles])
            count = taken.get(local, 0) + 1
            taken[local] = count
            person = User(full_name=full_name, employee_code=f"CB{i + 1:06d}",
                          email=f"{local}{count if count > 1 else ''}@mofa.example")
            set_derived_names(person)
            newcomer = rng.random() < 0.04
            created = now - (rng.uniform(7 * DAY, 120 * DAY) if newcomer
                             else rng.uniform(1.1 * YEAR, 4 * YEAR))
            active = i < 5 or rng.random() >= 0.01
            self.users.append({
                "id": i + 1, "employee_code": person.employee_code, "full_name": full_name,
                "email": person.email, "search_text": person.search_text, "sort_name": person.sort_name,
                "password_hash": password_hash, "unit_id": placed[i],
                "position": rng.choices(positions, position_w)[0],
                "locale": "en" if rng.random() < 0.05 else "vi", "timezone": tz_of[placed[i]],
                "is_active": active, "must_change_password": False, "failed_logins": 0,
                "created_at": moment(created),
                "updated_at": moment(created if active else now - rng.uniform(DAY, 90 * DAY))})

    def _make_grants_and_posts(self) -> None:
        rng, now = self.rng, self.now
        granted_at = moment(now - YEAR)
        by_subtree: dict[int, list[int]] = {}   # level-1 unit -> active people in its subtree
        level1 = {u["id"] for u in self.units if u["parent_id"] == 1}
        unit_path = {u["id"]: u["path"] for u in self.units}
        for user in self.users:
            ids = [int(p) for p in unit_path[user["unit_id"]].strip("/").split("/")]
            if len(ids) > 1 and user["is_active"]:
                by_subtree.setdefault(ids[1], []).append(user["id"])
        grants: list[tuple[int, str, int | None]] = [(1, "admin", None)]
        grants += [(uid, "trainer", None) for uid in range(2, min(5, len(self.users)) + 1)]
        heads: set[int] = set()
        for unit_id in sorted(level1):
            people = [p for p in by_subtree.get(unit_id, []) if p > 5]
            if people:
                heads.add(people[0])
                grants.append((people[0], "unit_head", unit_id))
        # Some division heads too (the first active person placed in the division).
        first_in: dict[int, int] = {}
        for user in self.users:
            if user["is_active"] and user["id"] > 5 and user["id"] not in heads:
                first_in.setdefault(user["unit_id"], user["id"])
        for unit in self.units:
            if unit["parent_id"] in level1 and unit["id"] in first_in and rng.random() < 0.5:
                grants.append((first_in[unit["id"]], "unit_head", unit["id"]))
        active = [u["id"] for u in self.users if u["is_active"] and u["id"] > 5]
        mentors = rng.sample(active, max(1, len(active) // 200)) if active else []
        grants += [(uid, "mentor", None) for uid in mentors]
        seen: set[tuple[int, str, int | None]] = set()
        for user_id, role, unit_id in grants:
            if (user_id, role, unit_id) not in seen:
                seen.add((user_id, role, unit_id))
                self.grants.append({"id": len(self.grants) + 1, "user_id": user_id, "role": role,
                                    "unit_id": unit_id, "granted_at": granted_at})
        # Mentees: ~10% of the active people, each with one current mentor.
        mentor_set = set(mentors)
        mentees = rng.sample([p for p in active if p not in mentor_set],
                             min(len(active) - len(mentor_set), len(active) // 10)) if mentors else []
        for mentee in sorted(mentees):
            self.mentorships.append({"id": len(self.mentorships) + 1, "mentor_id": rng.choice(mentors),
                                     "mentee_id": mentee,
                                     "started_at": moment(now - rng.uniform(10 * DAY, YEAR))})
        # Concurrent posts: mostly in another department's division or team, some in the same
        # department; a tenth of them have ended.
        lower = [u for u in self.units if u["path"].count("/") - 2 >= 2]
        top_of = {u["id"]: int(u["path"].strip("/").split("/")[1]) for u in self.units if u["id"] != 1}
        home = {u["id"]: u["unit_id"] for u in self.users}
        candidates = [p for p in active if home[p] != 1]
        total = min(len(candidates), self.spec.posts + self.spec.posts // 10)
        for n, user_id in enumerate(sorted(rng.sample(candidates, total))):
            my_top = top_of[home[user_id]]
            elsewhere = rng.random() < 0.7
            choices = [u for u in lower if (top_of[u["id"]] != my_top) == elsewhere
                       and u["id"] != home[user_id]] or [u for u in lower if u["id"] != home[user_id]]
            if not choices:
                continue
            started = now - rng.uniform(30 * DAY, 2 * YEAR)
            ended = n % 11 == 10
            self.posts.append({"id": len(self.posts) + 1, "user_id": user_id,
                               "unit_id": rng.choice(choices)["id"],
                               "position": rng.choice(POST_POSITIONS), "started_at": moment(started),
                               "ended_at": moment(started + rng.uniform(0.2, 0.9) * (now - started))
                               if ended else None})

    # -------------------------------------------------------------- courses and decisions

    def _make_courses_and_waves(self) -> None:
        from lms.text import fold

        rng, now = self.rng, self.now
        n = self.spec.courses
        for c in range(n):
            title, topic = COURSES[c % len(COURSES)]
            if c >= len(COURSES):
                title = f"{title} (phần {c // len(COURSES) + 1})"
            published = moment(now - rng.uniform(1.0 * YEAR, 1.5 * YEAR))
            self.courses.append({
                "id": c + 1, "slug": slugify(title), "title": title,
                "summary": "Khoá học thuộc phong trào học tập số của Bộ.",
                "outcomes": "Nắm được kiến thức cơ bản\nÁp dụng trong công việc hằng ngày",
                "topic": topic, "language": "vi", "status": "published",
                "estimated_minutes": rng.choice((45, 60, 90, 120)),
                "certificate_enabled": c % 5 not in (3, 4), "validity_months": rng.choice((12, 24, None)),
                "search_text": fold(title), "created_by_id": 1, "created_at": published,
                "updated_at": published, "published_at": published})
        # The first four fifths of the courses are assigned by the four decisions, in order.
        assigned = max(1, round(n * 0.8)) if n > 1 else 1
        bounds = [round(assigned * k / len(WAVES)) for k in range(len(WAVES) + 1)]
        for w, (ago, due_in, completed, in_progress, number, title) in enumerate(WAVES):
            course_ids = list(range(bounds[w] + 1, bounds[w + 1] + 1))
            if not course_ids:
                continue
            start = now - ago * DAY
            self.waves.append({"number": number, "title": title, "start": start,
                               "due": now + due_in * DAY, "completed": completed,
                               "in_progress": in_progress, "course_ids": course_ids})
            for course_id in course_ids:
                self.course_wave[course_id] = len(self.waves) - 1
        for course_id in range(assigned + 1, n + 1):
            self.course_wave[course_id] = None


def enrolment_rows(ministry: Ministry, assignment_ids: list[int]) -> Iterator[tuple]:
    """Every enrolment, as a tuple in ENROLMENT_COLUMNS order (timestamps as ISO text).

    Course by course, person by person (the order set-based enrolment writes them in).
    """
    spec, now = ministry.spec, ministry.now
    rng = random.Random(spec.seed * 7919 + 17)
    rnd, expo, gauss = rng.random, rng.expovariate, rng.gauss
    users = ministry.users
    n_users, n_courses = len(users), spec.courses
    pairs = n_users * n_courses
    if spec.enrolments >= pairs:
        chosen: Any = None
    else:
        chosen = set(rng.sample(range(pairs), spec.enrolments))
    created = [u["created_at"].timestamp() for u in users]
    unit_of = [u["unit_id"] for u in users]
    zeal = ministry.zeal
    certifies = {c["id"]: c["certificate_enabled"] for c in ministry.courses}
    enrolment_id = 0
    for course_index in range(n_courses):
        course_id = course_index + 1
        wave_index = ministry.course_wave.get(course_id)
        wave = ministry.waves[wave_index] if wave_index is not None else None
        certificate = certifies[course_id]
        for user_index in range(n_users):
            if chosen is not None and user_index * n_courses + course_index not in chosen:
                continue
            enrolment_id += 1
            joined = created[user_index]
            unit_id = unit_of[user_index]
            if wave is not None:
                source, assignment_id = "assigned", assignment_ids[wave_index]
                if joined <= wave["start"]:
                    enrolled, due = wave["start"], wave["due"]
                else:  # a newcomer: enrolled on arrival, with at least 30 days
                    enrolled = joined + rnd() * 3600
                    due = max(wave["due"], enrolled + 30 * DAY)
                p_done, p_progress = wave["completed"], wave["in_progress"]
            else:
                source, assignment_id, due = "self", None, None
                first = max(joined, now - YEAR)
                enrolled = first + rnd() * (now - first)
                p_done, p_progress = SELF_COMPLETED, SELF_IN_PROGRESS
            roll = rnd() - zeal[unit_id]
            span = now - enrolled
            started = completed = certified = activity = score = None
            if roll < p_done:
                status, pct = "completed", 100
                started = enrolled + min(expo(1 / (4 * DAY)), 0.5 * span)
                completed = min(started + 1800 + rnd() * 40 * DAY, now)
                activity = completed
                if certificate:
                    certified = min(completed + 30, now)
            elif roll < p_done + p_progress:
                status = "in_progress"
                started = enrolled + rnd() * 0.8 * span
                activity = started + rnd() * (now - started)
                pct = 5 + int(rnd() * 90)
            else:
                status, pct = "not_started", 0
            if started is not None and rnd() < 0.4:
                score = round(min(100.0, max(20.0, gauss(78, 12))), 1)
            yield (enrolment_id, user_index + 1, course_id, unit_id, source, assignment_id, iso(due),
                   status, pct, iso(enrolled), iso(started), iso(completed), None, iso(activity), score,
                   iso(certified), None, iso(activity if activity is not None else enrolled))


# ------------------------------------------------------------------ loading


def _insert_small_tables(dbs: Any, ministry: Ministry) -> list[int]:
    """Units, people, grants, posts, mentorships, courses (Core executemany in chunks), then
    the learning paths and assignments through the models; returns the assignment ids."""
    from sqlalchemy import insert

    from lms.assignments.models import Assignment, LearningPath, LearningPathCourse, TargetKind
    from lms.courses.models import Course
    from lms.mentoring.models import Mentorship
    from lms.org.models import ConcurrentPost, RoleGrant, Unit, User

    for model, rows in ((Unit, ministry.units), (User, ministry.users), (RoleGrant, ministry.grants),
                        (ConcurrentPost, ministry.posts), (Mentorship, ministry.mentorships),
                        (Course, ministry.courses)):
        for start in range(0, len(rows), CHUNK):
            dbs.execute(insert(model.__table__), rows[start:start + CHUNK])
    ids = []
    for wave in ministry.waves:
        start, due = moment(wave["start"]), moment(wave["due"])
        path_id = None
        course_id = wave["course_ids"][0] if len(wave["course_ids"]) == 1 else None
        if course_id is None:
            path = LearningPath(title=wave["title"], description=f"Theo Quyết định số {wave['number']}.",
                                created_by_id=1, created_at=start)
            path.steps = [LearningPathCourse(course_id=c, position=k)
                          for k, c in enumerate(wave["course_ids"], 1)]
            dbs.add(path)
            dbs.flush()
            path_id = path.id
        assignment = Assignment(
            title=wave["title"], decision_number=wave["number"], decision_date=start.date(),
            course_id=course_id, path_id=path_id, target_kind=TargetKind.EVERYONE.value,
            start_at=start, due_at=due, created_by_id=1, created_at=start)
        dbs.add(assignment)
        dbs.flush()
        ids.append(assignment.id)
    return ids


SEQUENCE_TABLES = ("units", "users", "role_grants", "concurrent_posts", "mentorships", "courses",
                   "enrolments")


def _load_postgres(url: str, ministry: Ministry, assignment_ids: list[int],
                   timings: dict[str, float]) -> None:
    import psycopg

    conninfo = _common.libpq_url(url)
    with psycopg.connect(conninfo) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '1GB'")
        with step("enrolments: drop secondary indexes and constraints", timings):
            restore = pg_detach(conn, "enrolments")
            conn.execute("TRUNCATE enrolments CASCADE")  # empty; makes COPY ... FREEZE possible
        with step("enrolments (COPY)", timings):
            columns = ", ".join(ENROLMENT_COLUMNS)
            with conn.cursor().copy(f"COPY enrolments ({columns}) FROM STDIN WITH (FREEZE)") as copy:
                for row in enrolment_rows(ministry, assignment_ids):
                    copy.write_row(row)
        with step("enrolments: rebuild indexes and constraints", timings):
            for statement in restore:
                conn.execute(statement)
            for table in SEQUENCE_TABLES:
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                             f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)")
        conn.commit()
    with psycopg.connect(conninfo, autocommit=True) as conn, step("VACUUM ANALYZE", timings):
        conn.execute("VACUUM (ANALYZE) enrolments")
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")  # the load's dirty pages go to disk now, not during a measurement


def _load_sqlite(path: Path, ministry: Ministry, assignment_ids: list[int],
                 timings: dict[str, float]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    conn.execute("PRAGMA temp_store=MEMORY")
    try:
        with step("enrolments: drop plain indexes", timings):
            saved = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                 "AND sql IS NOT NULL AND tbl_name = 'enrolments'").fetchall()
            for name, _sql in saved:
                conn.execute(f'DROP INDEX "{name}"')
        with step("enrolments (executemany, chunks of 10,000)", timings):
            statement = (f"INSERT INTO enrolments ({', '.join(ENROLMENT_COLUMNS)}) "
                         f"VALUES ({', '.join('?' * len(ENROLMENT_COLUMNS))})")
            conn.execute("BEGIN")
            buffer: list[tuple] = []
            for row in enrolment_rows(ministry, assignment_ids):
                buffer.append(row)
                if len(buffer) >= CHUNK:
                    conn.executemany(statement, buffer)
                    buffer.clear()
            conn.executemany(statement, buffer)
            conn.execute("COMMIT")
        with step("enrolments: rebuild indexes", timings):
            for _name, sql in saved:
                conn.execute(sql)
        with step("ANALYZE", timings):
            conn.execute("ANALYZE")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def database_bytes(url: str) -> int:
    from sqlalchemy import create_engine, text

    if not _common.is_postgres(url):
        path = _common.sqlite_path(url)
        return sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists())
    engine = create_engine(_common.sqlalchemy_url(url))
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    return int(size)


def generate(url: str, spec: Spec, log: Callable[[str], None] = print,
             config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Recreate the database at ``url`` and fill it; returns a summary (spec, counts, timings).
    ``config``: more app settings (the tests give their instance folder)."""
    from sqlalchemy import func, select

    from lms.cli import upgrade_database
    from lms.courses.models import Enrolment
    from lms.db import db

    url = _common.sqlalchemy_url(url)
    if not spec.now:
        spec = Spec(**{**asdict(spec), "now": time.time() // 60 * 60})
    timings: dict[str, float] = {}
    started = time.perf_counter()
    _common.recreate_database(url)
    app = _common.make_app({"LOG_LEVEL": "WARNING", **(config or {}), "DATABASE_URL": url})
    with app.app_context():
        with step("schema (Alembic migrations)", timings):
            upgrade_database()
        with step("units, people, courses (in Python)", timings):
            ministry = Ministry(spec)
        with step("units, people, grants, posts, courses, decisions (insert)", timings):
            dbs = db.session
            assignment_ids = _insert_small_tables(dbs, ministry)
            dbs.commit()
        db.engine.dispose()
    if _common.is_postgres(url):
        _load_postgres(url, ministry, assignment_ids, timings)
    else:
        _load_sqlite(_common.sqlite_path(url), ministry, assignment_ids, timings)
    with app.app_context():
        dbs = db.session
        status_counts = dict(dbs.execute(select(Enrolment.status, func.count())
                                         .group_by(Enrolment.status)).all())
        assigned = dbs.scalar(select(func.count()).where(Enrolment.source == "assigned"))
        dbs.close()
        db.engine.dispose()
    counts = {"units": len(ministry.units), "users": len(ministry.users),
              "inactive_users": sum(1 for u in ministry.users if not u["is_active"]),
              "courses": len(ministry.courses), "assignments": len(assignment_ids),
              "concurrent_posts": sum(1 for p in ministry.posts if p["ended_at"] is None),
              "ended_posts": sum(1 for p in ministry.posts if p["ended_at"] is not None),
              "mentorships": len(ministry.mentorships), "role_grants": len(ministry.grants),
              "enrolments": sum(status_counts.values()), "assigned": assigned, **status_counts,
              "levels": max(u["path"].count("/") - 2 for u in ministry.units),
              "database_bytes": database_bytes(url)}
    seconds = time.perf_counter() - started
    summary = {"generator": GENERATOR_VERSION, "database_url": url,
               "database": "PostgreSQL" if _common.is_postgres(url) else "SQLite",
               "spec": asdict(spec), "now": moment(spec.now).isoformat(), "counts": counts,
               "timings": timings, "seconds": seconds,
               "root_id": 1, "department_id": _biggest_department(ministry)}
    log(f"generated in {seconds:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return summary


def _biggest_department(ministry: Ministry) -> int:
    """The department with the most people in its subtree (the department dashboard's unit)."""
    top_of = {u["id"]: int(u["path"].strip("/").split("/")[1]) for u in ministry.units if u["id"] != 1}
    kind = {u["id"]: u["kind"] for u in ministry.units}
    sizes: dict[int, int] = {}
    for user in ministry.users:
        if user["unit_id"] != 1:
            top = top_of[user["unit_id"]]
            sizes[top] = sizes.get(top, 0) + 1
    departments = {k: v for k, v in sizes.items() if kind[k] == "department"} or sizes
    return max(departments, key=lambda k: (departments[k], -k))


def summary_path(out: Path, url: str) -> Path:
    """Where a generated database's summary is kept (next to the other bench results)."""
    from sqlalchemy.engine import make_url

    name = Path(make_url(_common.sqlalchemy_url(url)).database or "db").name
    kind = "pg" if _common.is_postgres(url) else "sqlite"
    return out / f"reports-data-{kind}-{name}.json"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    defaults = Spec()
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--units", type=int, default=defaults.units)
    parser.add_argument("--courses", type=int, default=defaults.courses)
    parser.add_argument("--enrolments", type=int, default=defaults.enrolments)
    parser.add_argument("--posts", type=int, default=defaults.posts)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--now", type=date.fromisoformat, default=None,
                        help="generate as of midnight UTC of this day (default: now)")
    parser.add_argument("--out", type=Path, default=_common.DEFAULT_OUT)
    args = parser.parse_args(argv)
    now = datetime.combine(args.now, datetime.min.time(), timezone.utc).timestamp() if args.now else 0.0
    spec = Spec(users=args.users, units=args.units, courses=args.courses, enrolments=args.enrolments,
                posts=args.posts, seed=args.seed, now=now)
    _common.use_bench_environ(args.database_url)
    summary = generate(args.database_url, spec)
    args.out.mkdir(parents=True, exist_ok=True)
    summary_path(args.out, args.database_url).write_text(json.dumps(summary, indent=2, default=str))
    return summary


if __name__ == "__main__":
    main()
