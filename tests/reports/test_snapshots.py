"""Snapshots: every unit's figures frozen as of a reporting date's end, untouched by later
moves and renames, taken once per month end whatever how often (or how concurrently) the
job runs."""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from lms import create_app
from lms.cli import upgrade_database
from lms.courses.models import Enrolment
from lms.db import db, utcnow
from lms.org import services as org
from lms.org.models import Unit
from lms.reports import services as reports
from lms.reports.figures import Filters, compute
from lms.reports.models import Snapshot, SnapshotKind, SnapshotRow
from tests.conftest import app_settings, fresh_database
from tests.races import race

MONTH_END = SnapshotKind.MONTH_END.value


def hanoi_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(reports.REPORT_TIMEZONE)).date()


def frozen(row: SnapshotRow) -> tuple:
    return (row.headcount, row.assigned, row.started, row.completed, row.overdue,
            row.score_sum, row.score_count, row.certificates)


def live(figures) -> tuple:
    return (figures.headcount, figures.assigned, figures.started, figures.completed,
            figures.overdue, figures.score_sum, figures.score_count, figures.certificates)


def rows_of(dbs, snapshot: Snapshot) -> dict[int, SnapshotRow]:
    return {row.unit_id: row for row in dbs.scalars(
        select(SnapshotRow).where(SnapshotRow.snapshot_id == snapshot.id))}


def set_times(dbs, person, course, **values) -> None:
    dbs.execute(update(Enrolment).where(Enrolment.user_id == person.id,
                                        Enrolment.course_id == course.id).values(**values)
                .execution_options(synchronize_session=False))


@pytest.fixture()
def ministry(dbs, factory):
    """A department with two divisions, staff who completed, started, or not begun the
    assigned course, someone with a concurrent post, and a second department."""
    dept = factory.unit("Vụ Hợp tác quốc tế", code="HTQT")
    a = factory.unit("Phòng A", parent=dept, code="HTQT-A", kind="division")
    b = factory.unit("Phòng B", parent=dept, code="HTQT-B", kind="division")
    other = factory.unit("Cục Lãnh sự", code="CLS")
    course = factory.course()
    people = {name: factory.person(name, unit=unit) for name, unit in (
        ("Nguyễn Văn An", a), ("Trần Thị Bình", a), ("Lê Minh Châu", b), ("Phạm Thu Dung", other))}
    factory.assignment(course, unit=factory.root, due_in_days=10)
    org.add_concurrent_post(dbs, None, people["Lê Minh Châu"], a.id, "Phó trưởng phòng")
    now = utcnow()
    set_times(dbs, people["Nguyễn Văn An"], course, enrolled_at=now - timedelta(days=20),
              started_at=now - timedelta(days=19), completed_at=now - timedelta(days=18),
              quiz_score=90.0, certified_at=now - timedelta(days=18))
    set_times(dbs, people["Trần Thị Bình"], course, enrolled_at=now - timedelta(days=20),
              started_at=now - timedelta(days=5))
    set_times(dbs, people["Phạm Thu Dung"], course, due_at=now - timedelta(days=1))
    dbs.expire_all()
    return {"dept": dept, "a": a, "b": b, "other": other, "course": course, **people}


def test_a_snapshot_freezes_every_units_subtree_figures(dbs, ministry):
    now = utcnow()
    snapshot = reports.take_snapshot(dbs, hanoi_today(now), label="Sơ kết", now=now)

    rollup = compute(dbs, dbs.get(Unit, ministry["dept"].parent_id), Filters(), now)
    rows = rows_of(dbs, snapshot)
    assert set(rows) == set(dbs.scalars(select(Unit.id)))
    for unit_id, row in rows.items():
        assert frozen(row) == live(rollup.totals[unit_id]), unit_id
        unit = dbs.get(Unit, unit_id)
        assert (row.unit_code, row.unit_name, row.path, row.parent_id) == (
            unit.code, unit.name, unit.path, unit.parent_id)
    dept = rows[ministry["dept"].id]
    assert frozen(dept) == (3, 3, 2, 1, 0, 90.0, 1, 1)
    assert frozen(rows[ministry["a"].id])[:4] == (3, 3, 2, 1)   # Châu's post counts in A
    assert frozen(rows[ministry["other"].id])[:5] == (1, 1, 0, 0, 1)


def test_moving_someone_changes_the_live_dashboard_not_the_snapshot(dbs, ministry):
    dept, a = ministry["dept"], ministry["a"]
    snapshot = reports.take_snapshot(dbs, hanoi_today())
    before = reports.unit_report(dbs, dept)
    view = reports.snapshot_view(dbs, snapshot, dept.id)
    frozen_before = (frozen(view.unit), [(r.unit_id, frozen(r)) for r in view.rows])

    an = ministry["Nguyễn Văn An"]
    org.update_person(dbs, None, an, org.PersonData(
        employee_code=an.employee_code, full_name=an.full_name, email=an.email,
        unit_id=ministry["other"].id, position=an.position))
    org.update_unit(dbs, None, a, org.UnitData(code=a.code, name="Phòng Hợp tác đa phương",
                                               kind=a.kind, parent_id=a.parent_id))

    after = reports.unit_report(dbs, dept)
    assert (after.total.headcount, after.total.completed) == (before.total.headcount - 1,
                                                                 before.total.completed - 1)
    assert reports.unit_report(dbs, ministry["other"]).total.completed == 1
    view = reports.snapshot_view(dbs, snapshot, dept.id)
    assert (frozen(view.unit), [(r.unit_id, frozen(r)) for r in view.rows]) == frozen_before
    assert [r.unit_name for r in view.rows] == ["Phòng A", "Phòng B"]
    assert [r.unit_id for r in view.rows] == [a.id, ministry["b"].id]
    assert reports.snapshot_view(dbs, snapshot, 10**9) is None


def test_the_people_placed_directly_in_a_unit_are_frozen_as_their_own_line(dbs, factory,
                                                                          ministry):
    """The dashboard's "placed directly" line is part of the snapshot too (the totals cannot
    give it: a concurrent post counts in two lines and once in the total), and the monthly
    report read from a month-end snapshot prints it."""
    from lms.reports.monthly import default_month, month_bounds, monthly_report
    from lms.reports.queries import live_dashboard, snapshot_dashboard

    dept = ministry["dept"]
    hai = factory.person("Đỗ Văn Hải", unit=dept)  # placed in the department itself
    now = utcnow()
    month = default_month(now)
    at = min(reports.end_of_day(month_bounds(month)[1]), now)
    live_rows = [(line.kind, live(line.figures)) for line in
                 live_dashboard(dbs, dept, Filters(), at).rows]
    assert [kind for kind, _figures in live_rows] == ["unit", "unit", "own"]
    snapshot = reports.take_snapshot(dbs, month_bounds(month)[1], MONTH_END, now=now)

    org.update_person(dbs, None, hai, org.PersonData(  # moved afterwards
        employee_code=hai.employee_code, full_name=hai.full_name, email=hai.email,
        unit_id=ministry["a"].id, position=hai.position))
    assert [line.kind for line in live_dashboard(dbs, dept, Filters(), utcnow()).rows] == [
        "unit", "unit"]

    frozen_rows = [(line.kind, live(line.figures)) for line in
                   snapshot_dashboard(dbs, dept, snapshot).rows]
    assert frozen_rows == live_rows
    assert frozen_rows[-1][1][0] == 1                       # Hải
    report = monthly_report(dbs, dept, month, Filters(), utcnow())
    assert report.snapshot_taken_on is not None             # read from the snapshot
    assert [line.own for line in report.rows] == [False, False, True]
    assert report.rows[-1].figures.headcount == 1


def test_a_past_date_counts_as_of_that_days_end_in_hanoi(dbs, ministry):
    """Training completed by the end of the reporting date (Hanoi time) counts; completions,
    certificates and enrolments after it do not."""
    as_of = hanoi_today() - timedelta(days=40)
    end = reports.end_of_day(as_of)
    course = ministry["course"]
    for name in ("Nguyễn Văn An", "Trần Thị Bình", "Lê Minh Châu"):
        set_times(dbs, ministry[name], course, enrolled_at=end - timedelta(days=30),
                  started_at=None, completed_at=None, certified_at=None,
                  due_at=end - timedelta(days=2))
    set_times(dbs, ministry["Nguyễn Văn An"], course, started_at=end - timedelta(days=3),
              completed_at=end - timedelta(minutes=1), certified_at=end - timedelta(minutes=1))
    set_times(dbs, ministry["Trần Thị Bình"], course, started_at=end - timedelta(days=1),
              completed_at=end + timedelta(minutes=1), certified_at=end + timedelta(hours=1))
    # Dung was enrolled (by today's assignment) after the date: not assigned then.

    snapshot = reports.take_snapshot(dbs, as_of, label="Quá khứ")

    assert snapshot.as_of == as_of
    rows = rows_of(dbs, snapshot)
    # assigned, started, completed, overdue (Bình and Châu: due two days before, not done)
    assert frozen(rows[ministry["dept"].id])[1:5] == (3, 2, 1, 2)
    assert rows[ministry["dept"].id].certificates == 1
    assert frozen(rows[ministry["other"].id])[1:5] == (0, 0, 0, 0)
    assert rows[ministry["dept"].parent_id].completed == 1
    # The same figures as the engine's "as of" the end of that day.
    rollup = compute(dbs, dbs.get(Unit, ministry["dept"].parent_id), Filters(), end)
    assert all(frozen(row) == live(rollup.totals[uid]) for uid, row in rows.items())


def test_a_snapshot_of_today_counts_what_is_done_so_far(dbs, ministry):
    now = utcnow()
    snapshot = reports.take_snapshot(dbs, hanoi_today(now) + timedelta(days=3), label="Tương lai",
                                     now=now)
    assert rows_of(dbs, snapshot)[ministry["dept"].id].completed == 1


def test_the_month_end_snapshot_is_taken_once(dbs, ministry):
    now = utcnow()
    first = reports.take_month_end_snapshot(dbs, now=now)
    assert first.kind == MONTH_END and first.as_of == reports.last_month_end(now)
    count = len(rows_of(dbs, first))

    # More training done, the job runs again later in the month: the same snapshot.
    set_times(dbs, ministry["Trần Thị Bình"], ministry["course"], completed_at=now)
    again = reports.take_month_end_snapshot(dbs, now=now + timedelta(hours=5))

    assert again.id == first.id
    assert dbs.scalar(select(func.count()).select_from(Snapshot)) == 1
    assert dbs.scalar(select(func.count()).select_from(SnapshotRow)) == count
    # An on-demand snapshot of the same date is another snapshot.
    on_demand = reports.take_snapshot(dbs, first.as_of, label="Báo cáo nhanh", now=now)
    assert on_demand.id != first.id
    assert reports.take_snapshot(dbs, first.as_of, label="Báo cáo nhanh", now=now).id == on_demand.id


@pytest.mark.parametrize(("now", "month_end"), [
    (datetime(2026, 2, 28, 16, 59, tzinfo=timezone.utc), date(2026, 1, 31)),   # 23:59 in Hanoi
    (datetime(2026, 2, 28, 17, 0, tzinfo=timezone.utc), date(2026, 2, 28)),    # 1 March in Hanoi
    (datetime(2026, 1, 10, 3, 0, tzinfo=timezone.utc), date(2025, 12, 31)),
])
def test_the_last_month_end_is_a_hanoi_date(now, month_end):
    assert reports.last_month_end(now) == month_end


def test_a_snapshot_needs_an_organisation(dbs):
    with pytest.raises(LookupError):
        reports.take_snapshot(dbs, hanoi_today())


# ---------------------------------------------------------------- races (committed database)

@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    with fresh_database("snaprace") as url:
        app = create_app(app_settings(url, str(tmp_path_factory.mktemp("snaprace"))))
        with app.app_context():
            upgrade_database()
            dbs = db.session
            root = org.create_unit(dbs, None, org.UnitData(code="BNG", name="Bộ Ngoại giao",
                                                           kind="ministry"))
            for n in range(3):
                unit = org.create_unit(dbs, None, org.UnitData(
                    code=f"V{n}", name=f"Vụ {n}", kind="department", parent_id=root.id))
                org.create_person(dbs, None, org.PersonData(
                    employee_code=f"S{n}", full_name=f"Người Chụp {n}",
                    email=f"s{n}@mofa.example", unit_id=unit.id), audit=False)
            dbs.commit()
        yield app
        with app.app_context():
            db.engine.dispose()


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Snapshot)),
                db.session.scalar(select(func.count()).select_from(SnapshotRow)))


def test_two_month_end_jobs_at_once_leave_one_snapshot(committed, monkeypatch):
    """Both jobs look, find no snapshot and compute before either writes (held at a barrier
    where the database lets them: SQLite serialises writers from their first statement);
    the loser's insert is refused by the unique key and it returns the winner's snapshot."""
    workers = 4
    barrier = threading.Barrier(workers)
    real_compute = reports.compute

    def compute_then_wait(*args, **kwargs):
        rollup = real_compute(*args, **kwargs)
        try:
            barrier.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass
        return rollup

    monkeypatch.setattr(reports, "compute", compute_then_wait)
    now = datetime(2026, 7, 3, 2, 0, tzinfo=timezone.utc)

    ids = race(committed, [lambda s: reports.take_month_end_snapshot(s, now=now).id] * workers)

    assert all(isinstance(i, int) for i in ids), ids
    assert len(set(ids)) == 1
    assert counts(committed) == (1, 4)
    with committed.app_context():
        snapshot = db.session.get(Snapshot, ids[0])
        assert (snapshot.as_of, snapshot.kind) == (date(2026, 6, 30), MONTH_END)
        assert sorted(r.headcount for r in snapshot.rows) == [1, 1, 1, 3]
