"""Every figure of every unit, checked against a brute-force count in plain Python.

Hypothesis builds a small random organisation (a ministry, 2–4 departments with 0–3
divisions each), 5–25 people placed at random (some who left, some holding a concurrent
post in another unit, some posts ended), 1–3 courses and enrolments with random sources,
assignments, timestamps, due dates, quiz scores and certificates around a fixed moment.
The rows are written straight to the tables (the engine reads only those), then for every
unit the engine's subtree total and own figures must equal what the documented rules give
when applied to the raw rows one by one:

- the members of a subtree are the active people whose own unit or any current concurrent
  post is in it, each counted once; a unit's "own" people are those placed in it or holding
  a current post in exactly that unit;
- assigned = source "assigned" and enrolled by then; started = started or completed by then;
  completed = completed by then; overdue = due before then and not completed by then;
- the quiz score averages every enrolment with a score; certificates = certified by then;
- the weekly line: assigned and completed as of each week's end.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from lms.courses.models import Course, Enrolment
from lms.org.models import ConcurrentPost, Unit, User
from lms.reports.figures import Figures, Filters, compute

AT = datetime(2026, 3, 15, 17, 0, tzinfo=timezone.utc)   # midnight in Hanoi
POSITIONS = ("Chuyên viên", "Chuyên viên chính", "Trưởng phòng")
TIMEZONES = ("Asia/Ho_Chi_Minh", "Europe/Paris", "America/New_York", "UTC")
SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


# ---------------------------------------------------------------- the plan (plain values)

@dataclass
class PlannedEnrolment:
    course: int                      # index into the plan's courses
    assigned: bool
    assignment: int | None
    enrolled_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    due_at: datetime | None
    quiz_score: float | None
    certified_at: datetime | None


@dataclass
class PlannedPerson:
    unit: int                        # index into the plan's units
    active: bool
    position: str
    posts: list[tuple[int, bool]]    # (unit index, ended)
    enrolments: list[PlannedEnrolment]


@dataclass
class Plan:
    parents: list[int | None]        # unit index -> parent's index (0 is the ministry)
    courses: int
    people: list[PlannedPerson]
    week_offsets: list[int] = field(default_factory=list)   # week ends, in hours from AT
    view: int = 0                    # a unit whose own dashboard is computed too


def hours(n: int) -> timedelta:
    return timedelta(hours=n)


# Moments the rules compare against (AT, the week ends, local midnights), in hours from AT:
# timestamps land on them often, so every "<" against "<=" is put to the test.
LANDMARKS = (0, -24, 24, -168, -336, -504)


def offsets(low: int, high: int) -> st.SearchStrategy[int]:
    return st.sampled_from([h for h in LANDMARKS if low <= h <= high]) | st.integers(low, high)


def moments(low: int, high: int) -> st.SearchStrategy[datetime]:
    return offsets(low, high).map(lambda h: AT + hours(h))


def later(draw, base: datetime) -> datetime:
    """A moment at or after ``base``: often a landmark, else some hours later."""
    landmarks = [AT + hours(h) for h in LANDMARKS if AT + hours(h) >= base]
    choice = st.integers(0, 24 * 40).map(lambda h: base + hours(h))
    return draw(st.sampled_from(landmarks) | choice if landmarks else choice)


@st.composite
def enrolments(draw, course: int) -> PlannedEnrolment:
    enrolled = draw(moments(-24 * 90, 24 * 10))
    started = later(draw, enrolled) if draw(st.booleans()) else None
    completed = later(draw, started or enrolled) if draw(st.booleans()) else None
    return PlannedEnrolment(
        course=course,
        assigned=draw(st.sampled_from((True, True, False))),
        assignment=draw(st.sampled_from((None, 1, 2))),
        enrolled_at=enrolled, started_at=started, completed_at=completed,
        due_at=draw(st.none() | moments(-24 * 60, 24 * 60)),
        quiz_score=draw(st.none() | st.integers(0, 200).map(lambda n: n / 2)),
        certified_at=draw(st.none() | moments(-24 * 60, 24 * 10)),
    )


@st.composite
def people(draw, units: int, courses: int) -> PlannedPerson:
    home = draw(st.integers(0, units - 1))
    elsewhere = st.integers(0, units - 1).filter(lambda u: u != home)
    post_units = draw(st.lists(elsewhere, max_size=2, unique=True)
                      if draw(st.integers(0, 3)) == 0 else st.just([]))
    posts = [(u, draw(st.sampled_from((False, False, True)))) for u in post_units]
    taken = draw(st.lists(st.integers(0, courses - 1), unique=True, max_size=courses))
    return PlannedPerson(
        unit=home, active=draw(st.sampled_from((True, True, True, True, False))),
        position=draw(st.sampled_from(POSITIONS)), posts=posts,
        enrolments=[draw(enrolments(course)) for course in taken])


@st.composite
def plans(draw) -> Plan:
    parents: list[int | None] = [None]
    for divisions in draw(st.lists(st.integers(0, 3), min_size=2, max_size=4)):
        department = len(parents)
        parents.append(0)
        parents.extend([department] * divisions)
    courses = draw(st.integers(1, 3))
    staff = draw(st.lists(people(len(parents), courses), min_size=5, max_size=25))
    weeks = draw(st.lists(offsets(-24 * 7 * 8, 24 * 7), max_size=4))
    return Plan(parents=parents, courses=courses, people=staff, week_offsets=sorted(weeks),
                view=draw(st.integers(0, len(parents) - 1)))


@st.composite
def filter_plans(draw, plan: Plan) -> dict:
    day = st.integers(-60, 60).map(lambda n: AT.date() + timedelta(days=n))
    due_from, due_to = draw(st.none() | day), draw(st.none() | day)
    return {
        "course": draw(st.none() | st.integers(0, plan.courses - 1)),
        "assignment": draw(st.sampled_from((None, None, 1, 2))),
        "due_from": due_from,
        "due_to": due_to,
        "position": draw(st.none() | st.sampled_from(POSITIONS)),
        "timezone": draw(st.sampled_from(TIMEZONES)),
    }


# ---------------------------------------------------------------- writing the rows

@dataclass
class Written:
    unit_ids: list[int]
    course_ids: list[int]
    root: Unit


def write(dbs: Session, plan: Plan) -> Written:
    """The plan's rows, straight into the tables (no services: the engine reads only these)."""
    units: list[Unit] = []
    for index, parent in enumerate(plan.parents):
        unit = Unit(code=f"P{index}", name=f"Đơn vị {index}", kind="department",
                    parent_id=units[parent].id if parent is not None else None, path="")
        dbs.add(unit)
        dbs.flush()
        unit.path = f"{units[parent].path if parent is not None else '/'}{unit.id}/"
        units.append(unit)
    courses = [Course(slug=f"prop-{n}", title=f"Khoá {n}", status="published")
               for n in range(plan.courses)]
    people_rows = [User(employee_code=f"P{n:03d}", full_name=f"Cán bộ {n}",
                        email=f"p{n}@mofa.example", unit_id=units[p.unit].id,
                        position=p.position, is_active=p.active)
                   for n, p in enumerate(plan.people)]
    dbs.add_all(courses + people_rows)
    dbs.flush()
    for person, row in zip(plan.people, people_rows, strict=True):
        for unit, ended in person.posts:
            dbs.add(ConcurrentPost(user_id=row.id, unit_id=units[unit].id, position="Kiêm nhiệm",
                                   ended_at=AT - hours(24) if ended else None))
        for e in person.enrolments:
            completed = e.completed_at is not None
            dbs.add(Enrolment(
                user_id=row.id, course_id=courses[e.course].id, unit_id=row.unit_id,
                source="assigned" if e.assigned else "self", assignment_id=e.assignment,
                due_at=e.due_at, status="completed" if completed else "in_progress",
                progress_pct=100 if completed else 0, enrolled_at=e.enrolled_at,
                started_at=e.started_at, completed_at=e.completed_at, quiz_score=e.quiz_score,
                certified_at=e.certified_at))
    dbs.flush()
    return Written([u.id for u in units], [c.id for c in courses], units[0])


def engine_filters(chosen: dict, written: Written) -> Filters:
    return Filters(
        course_id=written.course_ids[chosen["course"]] if chosen["course"] is not None else None,
        assignment_id=chosen["assignment"], due_from=chosen["due_from"], due_to=chosen["due_to"],
        position=chosen["position"], timezone=chosen["timezone"])


# ---------------------------------------------------------------- the brute force

def by(moment: datetime | None, then: datetime) -> bool:
    return moment is not None and moment <= then


def subtree(plan: Plan, top: int) -> set[int]:
    found, grew = {top}, True
    while grew:
        below = {u for u, parent in enumerate(plan.parents) if parent in found}
        grew = not below <= found
        found |= below
    return found


def passes(e: PlannedEnrolment, chosen: dict) -> bool:
    if chosen["course"] is not None and e.course != chosen["course"]:
        return False
    if chosen["assignment"] is not None and e.assignment != chosen["assignment"]:
        return False
    zone = ZoneInfo(chosen["timezone"])
    if chosen["due_from"] is not None:
        start = datetime.combine(chosen["due_from"], time.min, zone)
        if e.due_at is None or e.due_at < start:
            return False
    if chosen["due_to"] is not None:
        end = datetime.combine(chosen["due_to"] + timedelta(days=1), time.min, zone)
        if e.due_at is None or e.due_at >= end:
            return False
    return True


def brute_figures(members: list[PlannedPerson], chosen: dict, week_ends: list[datetime]) -> tuple:
    members = [p for p in members if chosen["position"] in (None, p.position)]
    assigned = started = completed = overdue = score_count = certificates = 0
    score_sum = 0.0
    trend_assigned, trend_completed = [0] * len(week_ends), [0] * len(week_ends)
    for person in members:
        for e in person.enrolments:
            if not passes(e, chosen):
                continue
            if e.quiz_score is not None:
                score_sum += e.quiz_score
                score_count += 1
            certificates += by(e.certified_at, AT)
            if not e.assigned:
                continue
            for n, end in enumerate(week_ends):
                if by(e.enrolled_at, end):
                    trend_assigned[n] += 1
                    trend_completed[n] += by(e.completed_at, end)
            if not by(e.enrolled_at, AT):
                continue
            done = by(e.completed_at, AT)
            assigned += 1
            started += by(e.started_at, AT) or done
            completed += done
            overdue += e.due_at is not None and e.due_at < AT and not done
    return (len(members), assigned, started, completed, overdue, score_sum, score_count,
            certificates, trend_assigned, trend_completed)


def expected(plan: Plan, chosen: dict, week_ends: list[datetime]) -> tuple[dict, dict]:
    """(subtree totals, own figures) per unit index, from the plan alone."""
    active = [p for p in plan.people if p.active]

    def places(person: PlannedPerson) -> set[int]:
        return {person.unit} | {unit for unit, ended in person.posts if not ended}

    totals, own = {}, {}
    for unit in range(len(plan.parents)):
        below = subtree(plan, unit)
        totals[unit] = brute_figures([p for p in active if places(p) & below], chosen, week_ends)
        own[unit] = brute_figures([p for p in active if unit in places(p)], chosen, week_ends)
    return totals, own


def as_tuple(f: Figures) -> tuple:
    return (f.headcount, f.assigned, f.started, f.completed, f.overdue, f.score_sum,
            f.score_count, f.certificates, f.trend_assigned, f.trend_completed)


NO_FILTERS = {"course": None, "assignment": None, "due_from": None, "due_to": None,
              "position": None, "timezone": "Asia/Ho_Chi_Minh"}


def check(dbs: Session, plan: Plan, chosen: dict) -> None:
    """The ministry's roll-up for every unit, and one unit's own dashboard (computed from that
    unit down) for every unit of its subtree, against the brute force."""
    savepoint = dbs.begin_nested()
    try:
        written = write(dbs, plan)
        week_ends = [AT + hours(h) for h in plan.week_offsets]
        filters = engine_filters(chosen, written)
        totals, own = expected(plan, chosen, week_ends)
        rollup = compute(dbs, written.root, filters, AT, week_ends)
        view = compute(dbs, dbs.get(Unit, written.unit_ids[plan.view]), filters, AT, week_ends)
        assert set(rollup.totals) == set(written.unit_ids)
        assert set(view.totals) == {written.unit_ids[u] for u in subtree(plan, plan.view)}
        for index, unit_id in enumerate(written.unit_ids):
            assert as_tuple(rollup.totals[unit_id]) == totals[index], f"total of unit #{index}"
            assert as_tuple(rollup.own[unit_id]) == own[index], f"own figures of unit #{index}"
            if unit_id in view.totals:
                assert as_tuple(view.totals[unit_id]) == totals[index], \
                    f"total of unit #{index} seen from unit #{plan.view}"
                assert as_tuple(view.own[unit_id]) == own[index], \
                    f"own figures of unit #{index} seen from unit #{plan.view}"
    finally:
        savepoint.rollback()


# ---------------------------------------------------------------- the properties

@SETTINGS
@given(plan=plans())
def test_every_unit_total_and_own_figure_matches_the_brute_force(dbs, plan):
    check(dbs, plan, NO_FILTERS)


@SETTINGS
@given(data=st.data())
def test_filtered_figures_match_the_brute_force(dbs, data):
    plan = data.draw(plans(), label="plan")
    chosen = data.draw(filter_plans(plan), label="filters")
    check(dbs, plan, chosen)


def test_the_brute_force_counts_a_concurrent_post_once_in_a_shared_total():
    """The reference itself, on a hand-checked case: someone placed in division 2 holding a
    post in division 3 (both under department 1) counts in both divisions, once in the
    department and the ministry."""
    e = PlannedEnrolment(0, True, None, AT - hours(48), AT - hours(24), AT - hours(1),
                         AT - hours(2), 80.0, AT - hours(1))
    late = PlannedEnrolment(0, True, None, AT - hours(48), None, None, AT - hours(2), None, None)
    plan = Plan(parents=[None, 0, 1, 1], courses=1, people=[
        PlannedPerson(2, True, "Chuyên viên", [(3, False)], [e]),
        PlannedPerson(3, True, "Chuyên viên", [], [late]),
        PlannedPerson(3, False, "Chuyên viên", [], [late]),
    ])
    totals, own = expected(plan, NO_FILTERS, [AT - hours(24), AT])
    assert totals[0][:8] == totals[1][:8] == (2, 2, 1, 1, 1, 80.0, 1, 1)
    assert own[2][:5] == (1, 1, 1, 1, 0)
    assert own[3][:5] == totals[3][:5] == (2, 2, 1, 1, 1)
    assert totals[1][8:] == ([2, 2], [0, 1])
    assert own[0][0] == 0
