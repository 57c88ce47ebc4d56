"""Pairing mentors with mentees through the services: one by one (a mentee has one mentor at
a time, the earlier pairings are kept), in bulk balanced by load, and from a file checked
row by row and applied all or nothing. A unit head pairs only within their own subtree.
"""
from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from lms.mentoring import services
from lms.mentoring.models import Mentorship
from lms.mentoring.services import MentoringError
from lms.notify.models import Notification
from lms.org import services as org
from lms.org.models import Role

MAX_BYTES = 1024 * 1024


def current(dbs, mentee) -> int | None:
    """The id of the mentee's current mentor."""
    return dbs.scalar(select(Mentorship.mentor_id).where(Mentorship.mentee_id == mentee.id,
                                                          Mentorship.ended_at.is_(None)))


def history(dbs, mentee) -> list[tuple[int, bool]]:
    """(mentor id, ended) of every pairing of the mentee, oldest first."""
    return [(m.mentor_id, m.ended_at is not None) for m in dbs.scalars(
        select(Mentorship).where(Mentorship.mentee_id == mentee.id).order_by(Mentorship.id))]


def pairings(dbs) -> int:
    return dbs.scalar(select(func.count()).select_from(Mentorship))


def csv_file(*rows: str) -> bytes:
    return "\n".join(rows).encode()


@pytest.fixture()
def unit(factory):
    return factory.unit("Phòng Tin học", code="TH")


# ---------------------------------------------------------------- one by one

def test_a_new_mentor_ends_the_old_pairing_and_keeps_it_in_the_history(dbs, factory, unit):
    an, binh = factory.mentor(unit, name="Nguyễn Văn An"), factory.mentor(unit, name="Trần Thị Bình")
    nhung = factory.person(unit=unit, name="Lê Hồng Nhung")
    first = services.pair(dbs, None, an, nhung)
    second = services.pair(dbs, None, binh, nhung)
    assert current(dbs, nhung) == binh.id
    assert history(dbs, nhung) == [(an.id, True), (binh.id, False)]
    assert first.ended_at == second.started_at
    assert services.current_mentor(dbs, nhung.id).id == binh.id
    assert services.mentor_loads(dbs, [an.id, binh.id]) == {an.id: 0, binh.id: 1}


def test_pairing_again_with_the_same_mentor_changes_nothing(dbs, factory, unit):
    mentor, mentee = factory.mentor(unit), factory.person(unit=unit)
    first = services.pair(dbs, None, mentor, mentee)
    assert services.pair(dbs, None, mentor, mentee).id == first.id
    assert history(dbs, mentee) == [(mentor.id, False)]


def test_nobody_mentors_themselves_and_a_mentor_holds_the_role_and_is_active(dbs, factory, unit):
    mentor, mentee = factory.mentor(unit), factory.person(unit=unit)
    colleague = factory.person(unit=unit)
    with pytest.raises(MentoringError):
        services.pair(dbs, None, mentor, mentor)
    with pytest.raises(MentoringError):
        services.pair(dbs, None, colleague, mentee)          # not a mentor
    org.set_person_active(dbs, None, mentee, False)
    with pytest.raises(MentoringError):
        services.pair(dbs, None, mentor, mentee)
    assert pairings(dbs) == 0


def test_the_mentee_and_the_mentor_are_told(dbs, factory, unit):
    admin = factory.admin()
    mentor, mentee = factory.mentor(unit, name="Đặng Quốc Việt"), factory.person(unit=unit)
    services.pair(dbs, admin, mentor, mentee)
    sent = dict(dbs.execute(select(Notification.user_id, Notification.kind)).all())
    assert sent == {mentee.id: "mentor_assigned", mentor.id: "mentees_assigned"}


def test_ending_a_pairing_keeps_it_as_history(dbs, factory, unit):
    mentor, mentee = factory.mentor(unit), factory.person(unit=unit)
    factory.pair(mentor, mentee)
    services.unpair(dbs, None, mentee)
    assert current(dbs, mentee) is None
    assert history(dbs, mentee) == [(mentor.id, True)]
    services.unpair(dbs, None, mentee)                        # nothing left to end: no error
    assert history(dbs, mentee) == [(mentor.id, True)]


def test_a_unit_head_pairs_only_within_their_subtree(dbs, factory, unit):
    division = factory.unit("Tổ Hạ tầng", parent=unit, kind="division")
    other = factory.unit("Cục Lãnh sự", code="CLS")
    head = factory.unit_head(unit)
    mentor, mentee = factory.mentor(division), factory.person(unit=division)
    outsider, outside_mentor = factory.person(unit=other), factory.mentor(other)
    services.pair(dbs, head, mentor, mentee)                 # below the head's unit: allowed
    with pytest.raises(MentoringError):
        services.pair(dbs, head, mentor, outsider)
    with pytest.raises(MentoringError):
        services.pair(dbs, head, outside_mentor, mentee)
    factory.pair(outside_mentor, outsider)
    with pytest.raises(MentoringError):
        services.unpair(dbs, head, outsider)
    assert current(dbs, mentee) == mentor.id and current(dbs, outsider) == outside_mentor.id


# ---------------------------------------------------------------- bulk, balanced by load

def mentor_of(factory, unit, office, name):
    """A mentor placed in ``office`` who holds the role for ``unit``."""
    return factory.person(name=name, unit=office, roles=((Role.MENTOR.value, unit),))


def test_bulk_pairing_shares_new_mentees_out_by_load(dbs, factory, unit):
    office = factory.unit("Văn phòng", code="VP")
    an = mentor_of(factory, unit, office, "Nguyễn Văn An")
    binh = mentor_of(factory, unit, office, "Trần Thị Bình")
    cuong = mentor_of(factory, unit, office, "Lê Mạnh Cường")
    for mentor, load in ((binh, 2), (cuong, 5)):
        for _ in range(load):
            factory.pair(mentor, factory.person(unit=office))
    newcomers = [factory.person(unit=unit) for _ in range(10)]

    plan = services.plan_bulk_pairing(dbs, unit)
    assert sorted(mentee.id for _m, mentee in plan.pairs) == sorted(p.id for p in newcomers)
    loads = {load.mentor.id: (load.before, load.after) for load in plan.loads}
    assert loads == {an.id: (0, 6), binh.id: (2, 6), cuong.id: (5, 5)}
    assert plan.already_paired == 0

    services.apply_bulk_pairing(dbs, None, unit)
    after = services.mentor_loads(dbs, [an.id, binh.id, cuong.id])
    assert after == {an.id: 6, binh.id: 6, cuong.id: 5}
    gained = [after[m.id] for m in (an, binh, cuong) if after[m.id] > loads[m.id][0]]
    assert max(gained) - min(gained) <= 1
    assert all(current(dbs, person) is not None for person in newcomers)


def test_bulk_pairing_never_makes_a_mentor_their_own_mentee(dbs, factory, unit):
    mentors = [factory.mentor(unit, name=n) for n in ("Nguyễn Văn An", "Trần Thị Bình",
                                                       "Lê Mạnh Cường")]
    staff = [factory.person(unit=unit) for _ in range(4)]
    plan = services.plan_bulk_pairing(dbs, unit)
    assert len(plan.pairs) == len(mentors) + len(staff)      # the mentors get a mentor too
    assert all(mentor.id != mentee.id for mentor, mentee in plan.pairs)
    afters = [load.after for load in plan.loads]
    assert max(afters) - min(afters) <= 1 and sum(afters) == 7


def test_the_only_mentor_of_a_unit_is_left_without_one(dbs, factory, unit):
    mentor = factory.mentor(unit)
    staff = [factory.person(unit=unit) for _ in range(2)]
    plan = services.plan_bulk_pairing(dbs, unit)
    assert {mentee.id for _m, mentee in plan.pairs} == {p.id for p in staff}
    assert {m.id for m, _mentee in plan.pairs} == {mentor.id}


def test_people_who_have_a_mentor_keep_them_unless_shared_out_again(dbs, factory, unit):
    office = factory.unit("Văn phòng", code="VP")
    an = mentor_of(factory, unit, office, "Nguyễn Văn An")
    binh = mentor_of(factory, unit, office, "Trần Thị Bình")
    staff = [factory.person(unit=unit, name=f"Cán Bộ {letter}") for letter in "HKLM"]
    for person in staff:
        factory.pair(an, person)

    kept = services.plan_bulk_pairing(dbs, unit)
    assert kept.pairs == [] and kept.already_paired == 4

    plan = services.apply_bulk_pairing(dbs, None, unit, replace_existing=True)
    assert len(plan.pairs) == 2 and plan.unchanged == 2
    assert services.mentor_loads(dbs, [an.id, binh.id]) == {an.id: 2, binh.id: 2}
    moved = [person for person in staff if current(dbs, person) == binh.id]
    assert len(moved) == 2
    for person in moved:                                     # the earlier pairing is history
        assert history(dbs, person) == [(an.id, True), (binh.id, False)]


def test_bulk_pairing_of_one_unit_only_leaves_the_units_below_alone(dbs, factory, unit):
    division = factory.unit("Tổ Hạ tầng", parent=unit, kind="division")
    office = factory.unit("Văn phòng", code="VP")
    mentor_of(factory, unit, office, "Nguyễn Văn An")
    here, below = factory.person(unit=unit), factory.person(unit=division)
    own = services.plan_bulk_pairing(dbs, unit, include_subunits=False)
    assert [mentee.id for _m, mentee in own.pairs] == [here.id]
    everyone = services.plan_bulk_pairing(dbs, unit)
    assert {mentee.id for _m, mentee in everyone.pairs} == {here.id, below.id}


def test_bulk_pairing_without_any_mentor_says_so(dbs, factory, unit):
    factory.person(unit=unit)
    with pytest.raises(MentoringError):
        services.plan_bulk_pairing(dbs, unit)


def test_bulk_pairing_uses_the_mentors_of_the_nearest_unit_above(dbs, factory, unit):
    division = factory.unit("Tổ Hạ tầng", parent=unit, kind="division")
    mentor = factory.mentor(unit)
    person = factory.person(unit=division)
    plan = services.plan_bulk_pairing(dbs, division)
    assert [(m.id, p.id) for m, p in plan.pairs] == [(mentor.id, person.id)]


# ---------------------------------------------------------------- from a file

@pytest.fixture()
def team(factory, unit):
    mentor = factory.mentor(unit, name="Đặng Quốc Việt", code="MV01", email="viet@mofa.example")
    other = factory.mentor(unit, name="Phạm Thu Trang", code="MV02", email="trang@mofa.example")
    staff = [factory.person(unit=unit, name=n, code=f"CB{i:02d}", email=f"cb{i}@mofa.example")
             for i, n in enumerate(("Lê Hồng Nhung", "Bùi Thanh Sơn", "Vũ Văn Tám"), start=1)]
    return mentor, other, staff


def test_a_file_pairs_by_code_or_email_whatever_the_case(dbs, factory, team):
    mentor, other, (nhung, son, tam) = team
    factory.pair(other, tam)
    content = csv_file("mentee,mentor", "cb01,MV01", "CB2@MOFA.example,viet@mofa.example",
                       "CB03,MV01")
    plan = services.plan_csv_pairing(dbs, None, "pairs.csv", content, MAX_BYTES)
    assert plan.errors == [] and plan.can_apply
    assert [(p.line, p.mentee.id, p.mentor.id) for p in plan.pairs] == [
        (2, nhung.id, mentor.id), (3, son.id, mentor.id), (4, tam.id, mentor.id)]
    assert plan.pairs[2].previous.id == other.id
    services.apply_csv_pairing(dbs, None, "pairs.csv", content, MAX_BYTES)
    assert {current(dbs, p) for p in (nhung, son, tam)} == {mentor.id}
    assert history(dbs, tam) == [(other.id, True), (mentor.id, False)]


def test_a_row_already_in_place_is_unchanged(dbs, factory, team):
    mentor, _other, (nhung, son, _tam) = team
    factory.pair(mentor, nhung)
    content = csv_file("mentee,mentor", "CB01,MV01", "CB02,MV01")
    plan = services.plan_csv_pairing(dbs, None, "pairs.csv", content, MAX_BYTES)
    assert [p.unchanged for p in plan.pairs] == [True, False]
    assert [p.mentee.id for p in plan.changes] == [son.id]
    services.apply_csv_pairing(dbs, None, "pairs.csv", content, MAX_BYTES)
    assert history(dbs, nhung) == [(mentor.id, False)]       # not ended and made again


def test_every_bad_row_is_named_by_its_line(dbs, factory, team):
    _mentor, _other, (nhung, _son, _tam) = team
    content = csv_file("mentee,mentor",
                       "CB01,MV01",      # 2: fine
                       "CB99,MV01",      # 3: unknown mentee
                       "CB02,CB03",      # 4: not a mentor
                       "MV01,MV01",      # 5: their own mentor
                       ",MV01",          # 6: a cell missing
                       "",               # 7: blank, skipped
                       "cb01,MV02")      # 8: listed twice
    plan = services.plan_csv_pairing(dbs, None, "pairs.csv", content, MAX_BYTES)
    assert [line for line, _message in plan.errors] == [3, 4, 5, 6, 8]
    assert "CB99" in dict(plan.errors)[3]
    assert nhung.full_name in dict(plan.errors)[8]
    assert not plan.can_apply


def test_one_bad_row_changes_nothing(dbs, factory, team):
    mentor, other, (nhung, son, tam) = team
    factory.pair(other, nhung)
    before = pairings(dbs)
    content = csv_file("mentee,mentor", "CB01,MV01", "CB02,MV01", "CB03,nobody@mofa.example")
    with pytest.raises(MentoringError):
        services.apply_csv_pairing(dbs, None, "pairs.csv", content, MAX_BYTES)
    assert pairings(dbs) == before
    assert current(dbs, nhung) == other.id and current(dbs, son) is None


def test_the_header_may_be_in_vietnamese_and_the_file_in_excel(dbs, factory, team):
    mentor, _other, (nhung, son, _tam) = team
    book = Workbook()
    sheet = book.active
    for row in (("Người được hỗ trợ", "Người hỗ trợ"), ("CB01", "MV01"), ("CB02", "viet@mofa.example")):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    plan = services.plan_csv_pairing(dbs, None, "ghep-cap.xlsx", buffer.getvalue(), MAX_BYTES)
    assert [(p.mentee.id, p.mentor.id) for p in plan.pairs] == [(nhung.id, mentor.id),
                                                                 (son.id, mentor.id)]


def test_a_file_without_the_two_columns_is_refused(dbs, team):
    with pytest.raises(MentoringError):
        services.plan_csv_pairing(dbs, None, "pairs.csv", csv_file("code,name", "CB01,MV01"),
                                  MAX_BYTES)
    with pytest.raises(MentoringError):
        services.plan_csv_pairing(dbs, None, "pairs.csv", csv_file("mentee,mentor"), MAX_BYTES)


def test_a_unit_heads_file_may_not_reach_outside_their_subtree(dbs, factory, unit, team):
    mentor, _other, (nhung, _son, _tam) = team
    head = factory.unit_head(unit)
    outsider = factory.person(unit=factory.unit("Cục Lãnh sự"), code="CLS01")
    content = csv_file("mentee,mentor", "CB01,MV01", "CLS01,MV01")
    plan = services.plan_csv_pairing(dbs, head, "pairs.csv", content, MAX_BYTES)
    assert [line for line, _message in plan.errors] == [3]
    with pytest.raises(MentoringError):
        services.apply_csv_pairing(dbs, head, "pairs.csv", content, MAX_BYTES)
    assert current(dbs, nhung) is None and current(dbs, outsider) is None


def test_applying_a_bulk_pairing_runs_the_same_queries_for_any_number_of_mentees(
        dbs, factory, count_queries):
    head = factory.unit_head(factory.unit("Vụ Lễ tân Nhà nước"))
    statements_for = {}
    for size in (3, 9):
        division = factory.unit(f"Phòng {size}", parent=head.unit)
        factory.mentor(division)
        factory.mentor(division)
        for _ in range(size):
            factory.person(unit=division)
        dbs.expire_all()
        with count_queries() as statements:
            plan = services.apply_bulk_pairing(dbs, head, division)
        assert len(plan.pairs) == size + 2       # the two mentors mentor each other
        statements_for[size] = len(statements)
    assert statements_for[3] == statements_for[9], statements_for
