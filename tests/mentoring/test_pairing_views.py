"""The pairing pages: an admin or unit head sees the current pairs of their units, pairs one
colleague, a whole unit (preview, then apply) or a file (every row checked, all or nothing);
a person's page shows their mentor, the history and, for those who may, the form to change it.

The pages are in Vietnamese and not yet translated, so the assertions read data: status codes,
element ids, data-* attributes and the database.
"""
from __future__ import annotations

import base64
import io
import re
import zlib
from html import unescape

import pytest
from sqlalchemy import func, select

from lms.mentoring import services
from lms.mentoring.models import Mentorship
from lms.mentoring.views.pairing import plan_key
from lms.notify.models import Notification
from lms.org.models import Role
from tests.conftest import login


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def current(dbs, mentee) -> int | None:
    return dbs.scalar(select(Mentorship.mentor_id).where(Mentorship.mentee_id == mentee.id,
                                                          Mentorship.ended_at.is_(None)))


def pairings(dbs) -> int:
    return dbs.scalar(select(func.count()).select_from(Mentorship))


def rows(page: str, table_id: str) -> list[dict[str, str]]:
    """The data-* attributes of each body row of a table."""
    match = re.search(rf'<table[^>]*id="{table_id}"[^>]*>(.*?)</table>', page, re.S)
    assert match, f"no table {table_id}"
    return [dict(re.findall(r'data-([\w-]+)="([^"]*)"', tr))
            for tr in re.findall(r"<tr\b([^>]*)>", match.group(1)) if "data-" in tr]


def stat(page: str, stat_id: str) -> int:
    match = re.search(rf'id="{stat_id}" data-count="(\d+)"', page)
    assert match, f"no stat {stat_id}"
    return int(match.group(1))


def option_values(page: str, select_id: str) -> list[str]:
    match = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert match, f"no select {select_id}"
    return [v for v in re.findall(r'<option[^>]*value="([^"]*)"', match.group(1)) if v]


def hidden(page: str, name: str, form: str | None = None) -> str:
    """A hidden field's value (in the form with this id, or the first one)."""
    if form is not None:
        found = re.search(rf'<form[^>]*id="{form}"[^>]*>(.*?)</form>', page, re.S)
        assert found, f"no form {form}"
        page = found.group(1)
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden {name}"
    return match.group(1)


def has_error(page: str, field_id: str) -> bool:
    return f'id="{field_id}-error"' in page


def upload(client, content: bytes, filename: str = "ghep-cap.csv"):
    return client.form("/mentoring/pairs/csv", {"file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data")


@pytest.fixture()
def ministry(factory):
    """A department with a division and its mentors, and another department."""
    dept = factory.unit("Vụ Hợp tác quốc tế", code="HTQT")
    division = factory.unit("Phòng Đa phương", parent=dept, code="HTQT-DP", kind="division")
    other = factory.unit("Cục Lãnh sự", code="CLS")
    an = factory.mentor(dept, name="Nguyễn Văn An", code="MA01", email="an@mofa.example")
    binh = factory.mentor(division, name="Trần Thị Bình", code="MB02", email="binh@mofa.example")
    consul = factory.mentor(other, name="Phạm Lãnh Sự", code="MC03", email="ls@mofa.example")
    staff = [factory.person(name=name, unit=unit, code=code, email=f"{code.lower()}@mofa.example")
             for name, unit, code in (("Lê Hồng Nhung", dept, "CB01"),
                                      ("Bùi Thanh Sơn", division, "CB02"),
                                      ("Vũ Văn Tám", division, "CB03"),
                                      ("Hoàng Thị Yến", other, "CB04"))]
    return {"dept": dept, "division": division, "other": other, "an": an, "binh": binh,
            "consul": consul, "staff": staff}


@pytest.fixture()
def admin(factory):
    return factory.admin(name="Trần Minh Quân", email="admin@mofa.example")


@pytest.fixture()
def head(factory, ministry):
    return factory.unit_head(ministry["dept"], name="Đỗ Văn Trưởng", email="head@mofa.example")


# ---------------------------------------------------------------- who may open the pages

def test_learners_and_mentors_may_not_open_the_pairing_pages(client, dbs, factory, ministry):
    nhung, son = ministry["staff"][:2]
    factory.pair(ministry["an"], nhung)
    before = pairings(dbs)
    for person in (son, ministry["an"]):
        login(client, person.email)
        for url in ("/mentoring/pairs", "/mentoring/pairs/bulk", "/mentoring/pairs/csv",
                    "/mentoring/pairs/csv/template",
                    f"/mentoring/pairs/bulk?unit_id={ministry['dept'].id}"):
            assert client.get(url).status_code == 403, url
        assert client.form("/mentoring/pairs", {"mentee": "CB02", "mentor_id": ministry["an"].id}
                           ).status_code == 403
        assert client.form(f"/mentoring/pairs/{nhung.id}/end").status_code == 403
        assert client.form("/mentoring/pairs/bulk", {"unit_id": ministry["dept"].id}
                           ).status_code == 403
        assert upload(client, b"mentee,mentor\nCB02,MA01\n").status_code == 403
    assert pairings(dbs) == before and current(dbs, nhung) == ministry["an"].id


# ---------------------------------------------------------------- the list

def test_an_admin_sees_every_pair_grouped_by_mentor_with_the_counts(client, factory, ministry,
                                                                    admin):
    an, binh, consul = ministry["an"], ministry["binh"], ministry["consul"]
    nhung, son, tam, yen = ministry["staff"]
    for mentor, mentee in ((binh, son), (an, nhung), (an, tam), (consul, yen)):
        factory.pair(mentor, mentee)
    login(client, admin.email)
    page = text(client.get("/mentoring/pairs"))
    listed = [(int(r["mentee"]), int(r["mentor"])) for r in rows(page, "pairs")]
    assert listed == [(nhung.id, an.id), (tam.id, an.id), (son.id, binh.id), (yen.id, consul.id)]
    assert stat(page, "stat-pairs") == 4
    assert stat(page, "stat-mentors") == 3
    # Nobody mentors the admin and the three mentors: they count as without a mentor.
    assert stat(page, "stat-unpaired") == 4
    loads = {int(r["mentor"]): int(r["mentees"]) for r in rows(page, "loads")}
    assert loads == {an.id: 2, binh.id: 1, consul.id: 1}
    assert set(option_values(page, "mentor_id")) == {str(an.id), str(binh.id), str(consul.id)}
    assert 'href="/mentoring/pairs/bulk"' in page and 'href="/mentoring/pairs/csv"' in page
    assert "mentoring-pairs.css" in page and "<script>" not in page


def test_the_list_filters_by_unit_by_mentor_and_by_search(client, factory, ministry, admin):
    an, binh = ministry["an"], ministry["binh"]
    nhung, son, tam, _yen = ministry["staff"]
    for mentor, mentee in ((an, nhung), (binh, son), (an, tam)):
        factory.pair(mentor, mentee)
    login(client, admin.email)

    def listed(**query) -> set[int]:
        page = text(client.get("/mentoring/pairs", query_string=query))
        return {int(r["mentee"]) for r in rows(page, "pairs")} if 'id="pairs"' in page else set()

    assert listed(unit_id=ministry["division"].id) == {son.id, tam.id}
    assert listed(unit_id=ministry["other"].id) == set()
    assert listed(mentor_id=an.id) == {nhung.id, tam.id}
    assert listed(q="nhung") == {nhung.id}                    # without the accents
    assert listed(q="Bình") == {son.id}                       # the mentor's name finds them too
    assert listed(q="cb03") == {tam.id}
    assert listed(q="binh", unit_id=ministry["dept"].id) == {son.id}
    division = text(client.get("/mentoring/pairs", query_string={"unit_id": ministry["division"].id}))
    assert set(option_values(division, "mentor_id")) == {str(binh.id)}
    assert stat(division, "stat-unpaired") == 1               # Bình, the division's mentor
    assert f'/mentoring/pairs/bulk?unit_id={ministry["division"].id}' in division


def test_the_list_runs_a_fixed_number_of_queries(client, factory, ministry, admin,
                                                 count_queries):
    unit = ministry["dept"]
    mentors = [ministry["an"], factory.mentor(unit)]
    login(client, admin.email)

    def pair_more(n: int) -> None:
        for i in range(n):
            factory.pair(mentors[i % 2], factory.person(unit=unit))

    pair_more(2)
    client.get("/mentoring/pairs")
    with count_queries() as two:
        page = text(client.get("/mentoring/pairs"))
    assert len(rows(page, "pairs")) == 2
    pair_more(4)
    with count_queries() as six:
        page = text(client.get("/mentoring/pairs"))
    assert len(rows(page, "pairs")) == 6
    assert len(six) == len(two)


def test_a_unit_head_sees_only_the_pairs_of_their_subtree(client, factory, ministry, head):
    an, consul = ministry["an"], ministry["consul"]
    nhung, son, _tam, yen = ministry["staff"]
    factory.pair(an, nhung)
    factory.pair(an, son)
    factory.pair(consul, yen)
    login(client, head.email)
    page = text(client.get("/mentoring/pairs"))
    assert {int(r["mentee"]) for r in rows(page, "pairs")} == {nhung.id, son.id}
    assert str(yen.id) not in re.findall(r'data-mentee="(\d+)"', page)
    assert set(option_values(page, "mentor_id")) == {str(an.id), str(ministry["binh"].id)}
    assert set(option_values(page, "filter-unit")) == {str(ministry["dept"].id),
                                                       str(ministry["division"].id)}
    assert client.get(f"/mentoring/pairs?unit_id={ministry['other'].id}").status_code == 403
    assert client.get("/mentoring/pairs?unit_id=999999").status_code == 404
    # Guessing a mentor from elsewhere shows nothing of theirs.
    guessed = text(client.get(f"/mentoring/pairs?mentor_id={consul.id}"))
    assert 'id="pairs"' not in guessed and yen.full_name not in guessed


# ---------------------------------------------------------------- one by one

def test_an_admin_pairs_a_colleague_by_employee_code_or_email(client, dbs, ministry, admin):
    an, binh = ministry["an"], ministry["binh"]
    nhung, son = ministry["staff"][:2]
    login(client, admin.email)
    response = client.form("/mentoring/pairs", {"mentee": "cb01", "mentor_id": an.id})
    assert response.status_code == 302 and response.location.endswith("/mentoring/pairs")
    response = client.form(f"/mentoring/pairs?unit_id={ministry['dept'].id}&q=son",
                           {"mentee": " CB02@MOFA.EXAMPLE ", "mentor_id": binh.id})
    assert response.status_code == 302
    assert response.location.endswith(f"/mentoring/pairs?unit_id={ministry['dept'].id}&q=son")
    assert (current(dbs, nhung), current(dbs, son)) == (an.id, binh.id)
    told = set(dbs.execute(select(Notification.user_id, Notification.kind)).all())
    assert {(nhung.id, "mentor_assigned"), (an.id, "mentees_assigned"),
            (son.id, "mentor_assigned"), (binh.id, "mentees_assigned")} <= told


def test_changing_the_mentor_keeps_the_earlier_pairing(client, dbs, factory, ministry, admin):
    an, binh = ministry["an"], ministry["binh"]
    son = ministry["staff"][1]
    factory.pair(an, son)
    login(client, admin.email)
    assert client.form("/mentoring/pairs", {"mentee": "CB02", "mentor_id": binh.id}
                       ).status_code == 302
    history = dbs.execute(select(Mentorship.mentor_id, Mentorship.ended_at.is_not(None))
                          .where(Mentorship.mentee_id == son.id).order_by(Mentorship.id)).all()
    assert [tuple(h) for h in history] == [(an.id, True), (binh.id, False)]


def test_a_wrong_pairing_is_explained_next_to_its_field(client, dbs, ministry, admin):
    an = ministry["an"]
    nhung, son = ministry["staff"][:2]
    login(client, admin.email)
    unknown = client.form("/mentoring/pairs", {"mentee": "CB999", "mentor_id": an.id})
    assert unknown.status_code == 200 and has_error(text(unknown), "mentee")
    assert "CB999" in text(unknown)
    empty = client.form("/mentoring/pairs", {"mentee": "", "mentor_id": ""})
    assert has_error(text(empty), "mentee") and has_error(text(empty), "mentor_id")
    not_a_mentor = client.form("/mentoring/pairs", {"mentee": "CB01", "mentor_id": son.id})
    assert not_a_mentor.status_code == 200 and has_error(text(not_a_mentor), "mentor_id")
    themselves = client.form("/mentoring/pairs", {"mentee": "MA01", "mentor_id": an.id})
    assert has_error(text(themselves), "mentor_id")
    missing = client.form("/mentoring/pairs", {"mentee": "CB01", "mentor_id": 999999})
    assert has_error(text(missing), "mentor_id")
    assert pairings(dbs) == 0 and current(dbs, nhung) is None


def test_a_unit_head_cannot_pair_or_unpair_outside_their_subtree(client, dbs, factory, ministry,
                                                                 head):
    an, consul = ministry["an"], ministry["consul"]
    nhung, _son, _tam, yen = ministry["staff"]
    factory.pair(consul, yen)
    login(client, head.email)
    outsider = client.form("/mentoring/pairs", {"mentee": "CB04", "mentor_id": an.id})
    assert outsider.status_code == 200 and has_error(text(outsider), "mentee")
    assert yen.full_name not in text(outsider)
    outside_mentor = client.form("/mentoring/pairs", {"mentee": "CB01", "mentor_id": consul.id})
    assert outside_mentor.status_code == 200 and has_error(text(outside_mentor), "mentor_id")
    assert client.form(f"/mentoring/pairs/{yen.id}/end").status_code == 403
    assert client.form("/mentoring/pairs/999999/end").status_code == 404
    assert current(dbs, yen) == consul.id and current(dbs, nhung) is None
    # Within their subtree they may.
    assert client.form("/mentoring/pairs", {"mentee": "CB01", "mentor_id": an.id}).status_code == 302
    assert current(dbs, nhung) == an.id


def test_ending_a_pairing_returns_to_the_same_page_and_keeps_the_history(client, dbs, factory,
                                                                         ministry, admin):
    an = ministry["an"]
    nhung, son = ministry["staff"][:2]
    factory.pair(an, nhung)
    factory.pair(an, son)
    login(client, admin.email)
    page = text(client.get(f"/mentoring/pairs?unit_id={ministry['dept'].id}"))
    table = re.search(r'<table[^>]*id="pairs".*?</table>', page, re.S).group(0)
    back = hidden(table, "next")
    assert back.startswith("/mentoring/pairs?") and f"unit_id={ministry['dept'].id}" in back
    response = client.form(f"/mentoring/pairs/{nhung.id}/end", {"next": back})
    assert response.status_code == 302 and response.location.endswith(back)
    assert current(dbs, nhung) is None
    assert dbs.scalar(select(Mentorship.ended_at).where(Mentorship.mentee_id == nhung.id))
    off_site = client.form(f"/mentoring/pairs/{son.id}/end", {"next": "https://evil.example/x"})
    assert off_site.location.endswith("/mentoring/pairs")
    for trick in ("//evil.example/x", "/\\evil.example"):
        again = client.form(f"/mentoring/pairs/{son.id}/end", {"next": trick})
        assert again.location.endswith("/mentoring/pairs")
    assert current(dbs, son) is None


# ---------------------------------------------------------------- bulk

@pytest.fixture()
def big_division(factory, ministry):
    """The division with three mentors of the department holding 0, 2 and 5 mentees, and ten
    colleagues without a mentor."""
    office = factory.unit("Văn phòng", code="VP")
    division = ministry["division"]
    mentors = [factory.person(name=name, unit=office, roles=((Role.MENTOR.value, division),))
               for name in ("Đinh Văn Khải", "Lý Thị Loan", "Mai Văn Minh")]
    for mentor, load in zip(mentors, (0, 2, 5), strict=True):
        for _ in range(load):
            factory.pair(mentor, factory.person(unit=office))
    newcomers = [factory.person(unit=division) for _ in range(10)]
    return division, mentors, newcomers


def test_bulk_pairing_previews_balanced_loads_then_applies(client, dbs, ministry, admin,
                                                          big_division):
    division, mentors, newcomers = big_division
    # Bình, the division's own mentor, shares the work with the three mentors of the office.
    login(client, admin.email)
    page = text(client.get("/mentoring/pairs/bulk",
                           query_string={"unit_id": division.id, "include_subunits": "y"}))
    preview = re.search(r'id="bulk-preview" data-pairs="(\d+)" data-already="(\d+)"', page)
    # Ten newcomers, the two division colleagues and Bình (mentors of the unit are staff too).
    staff = {p.id for p in newcomers} | {ministry["staff"][1].id, ministry["staff"][2].id,
                                         ministry["binh"].id}
    planned = rows(page, "bulk-pairs")
    assert {int(r["mentee"]) for r in planned} == staff
    assert all(r["mentee"] != r["mentor"] for r in planned)
    assert preview and int(preview.group(1)) == len(staff) and preview.group(2) == "0"
    loads = {int(r["mentor"]): (int(r["before"]), int(r["after"])) for r in rows(page, "bulk-loads")}
    binh = ministry["binh"].id
    assert loads[binh][0] == 0
    afters = [after for _before, after in loads.values()]
    gained = [after for before, after in loads.values() if after > before]
    assert max(gained) - min(gained) <= 1 and sum(afters) == 7 + len(staff)
    assert pairings(dbs) == 7                                   # a preview changes nothing

    response = client.form("/mentoring/pairs/bulk", {
        "unit_id": division.id, "include_subunits": "y", "plan": hidden(page, "plan")})
    assert response.status_code == 302
    assert response.location.endswith(f"/mentoring/pairs?unit_id={division.id}")
    assert all(current(dbs, person) is not None for person in newcomers)
    made = {int(r["mentee"]): int(r["mentor"]) for r in planned}
    now = dict(dbs.execute(select(Mentorship.mentee_id, Mentorship.mentor_id).where(
        Mentorship.mentee_id.in_(made), Mentorship.ended_at.is_(None))).all())
    assert now == made                                          # exactly what was previewed


def test_people_with_a_mentor_keep_them_unless_the_unit_is_shared_out_again(client, dbs, factory,
                                                                          ministry, admin):
    division, binh = ministry["division"], ministry["binh"]
    _nhung, son, tam, _yen = ministry["staff"]
    chien = factory.mentor(division, name="Cao Văn Chiến")
    factory.pair(binh, son)
    factory.pair(binh, tam)
    login(client, admin.email)
    query = {"unit_id": division.id, "include_subunits": "y"}
    keep = text(client.get("/mentoring/pairs/bulk", query_string=query))
    # Sơn and Tám keep Bình; the two mentors, without one, are paired with each other.
    assert re.search(r'data-pairs="2" data-already="2"', keep)
    assert {(int(r["mentee"]), int(r["mentor"])) for r in rows(keep, "bulk-pairs")} == {
        (binh.id, chien.id), (chien.id, binh.id)}

    again = text(client.get("/mentoring/pairs/bulk", query_string={**query,
                                                                   "replace_existing": "y"}))
    # Shared out afresh: Sơn stays with Bình (a fair share already), Tám moves to Chiến.
    assert re.search(r'data-pairs="3" data-already="0" data-unchanged="1"', again)
    assert {(int(r["mentee"]), int(r["mentor"])) for r in rows(again, "bulk-pairs")} == {
        (binh.id, chien.id), (chien.id, binh.id), (tam.id, chien.id)}
    loads = {int(r["mentor"]): (int(r["before"]), int(r["after"]))
             for r in rows(again, "bulk-loads")}
    assert loads == {binh.id: (2, 2), chien.id: (0, 2)}
    response = client.form("/mentoring/pairs/bulk", {**query, "replace_existing": "y",
                                                     "plan": hidden(again, "plan")})
    assert response.status_code == 302
    assert (current(dbs, son), current(dbs, tam)) == (binh.id, chien.id)
    ended = dbs.execute(select(Mentorship.mentee_id, Mentorship.mentor_id).where(
        Mentorship.ended_at.is_not(None))).all()
    assert [tuple(e) for e in ended] == [(tam.id, binh.id)]       # kept as history


def test_a_stale_bulk_preview_is_not_applied(client, dbs, factory, ministry, admin, big_division):
    division, mentors, newcomers = big_division
    login(client, admin.email)
    page = text(client.get("/mentoring/pairs/bulk",
                           query_string={"unit_id": division.id, "include_subunits": "y"}))
    key = hidden(page, "plan")
    factory.pair(mentors[0], newcomers[0])          # someone else pairs meanwhile
    dbs.commit()
    before = pairings(dbs)
    response = client.form("/mentoring/pairs/bulk", {
        "unit_id": division.id, "include_subunits": "y", "plan": key})
    assert response.status_code == 302 and "/mentoring/pairs/bulk?" in response.location
    assert pairings(dbs) == before
    assert current(dbs, newcomers[1]) is None


def test_a_unit_head_bulk_pairs_only_their_units(client, dbs, factory, ministry, head):
    login(client, head.email)
    page = text(client.get("/mentoring/pairs/bulk"))
    assert set(option_values(page, "unit_id")) == {str(ministry["dept"].id),
                                                   str(ministry["division"].id)}
    other = ministry["other"].id
    assert client.get(f"/mentoring/pairs/bulk?unit_id={other}").status_code == 403
    assert client.form("/mentoring/pairs/bulk", {"unit_id": other, "include_subunits": "y",
                                                 "plan": "x"}).status_code == 403
    assert current(dbs, ministry["staff"][3]) is None
    own = text(client.get(f"/mentoring/pairs/bulk?unit_id={ministry['dept'].id}&include_subunits=y"))
    assert 'id="bulk-apply"' in own


def test_a_heads_bulk_preview_with_mentors_above_their_units_cannot_be_applied(client, dbs,
                                                                               factory):
    dept = factory.unit("Vụ Châu Á", code="CA")
    division = factory.unit("Phòng Đông Nam Á", parent=dept, kind="division")
    mentor = factory.mentor(dept)                    # the nearest mentors are above the head
    colleague = factory.person(unit=division)
    head = factory.unit_head(division)
    login(client, head.email)
    page = text(client.get(f"/mentoring/pairs/bulk?unit_id={division.id}&include_subunits=y"))
    assert 'id="bulk-outside"' in page and 'id="bulk-apply"' not in page
    assert mentor.full_name in page
    # Even a post with the preview's own fingerprint is refused by the service.
    key = plan_key(services.plan_bulk_pairing(dbs, division))
    response = client.form("/mentoring/pairs/bulk", {
        "unit_id": division.id, "include_subunits": "y", "plan": key})
    assert response.status_code == 302 and "/mentoring/pairs/bulk?" in response.location
    assert current(dbs, colleague) is None and current(dbs, head) is None
    assert 'class="flash flash--error"' in text(client.get(response.location))


def test_bulk_pairing_a_unit_without_mentors_explains_it(client, factory, admin):
    empty = factory.unit("Đơn vị mới", code="MOI")
    factory.person(unit=empty)
    login(client, admin.email)
    page = text(client.get(f"/mentoring/pairs/bulk?unit_id={empty.id}&include_subunits=y"))
    assert 'id="bulk-problem"' in page and 'id="bulk-apply"' not in page


# ---------------------------------------------------------------- from a file

def test_a_file_is_previewed_then_applied(client, dbs, factory, ministry, admin):
    an, binh = ministry["an"], ministry["binh"]
    nhung, son, tam, _yen = ministry["staff"]
    factory.pair(an, tam)
    login(client, admin.email)
    content = "mentee,mentor\nCB01,MA01\ncb02@mofa.example,binh@mofa.example\nCB03,MA01\n" \
        .encode()
    page = text(upload(client, content))
    assert re.search(r'id="csv-summary" data-errors="0" data-new="2" data-change="0" '
                     r'data-unchanged="1"', page)
    assert [(r["line"], r["status"]) for r in rows(page, "csv-rows")] == [
        ("2", "new"), ("3", "new"), ("4", "unchanged")]
    assert 'id="csv-apply"' in page
    assert pairings(dbs) == 1                                   # a preview changes nothing

    response = client.form("/mentoring/pairs/csv", {"filename": hidden(page, "filename"),
                                                    "content": hidden(page, "content")})
    assert response.status_code == 302 and response.location.endswith("/mentoring/pairs")
    assert (current(dbs, nhung), current(dbs, son), current(dbs, tam)) == (an.id, binh.id, an.id)
    assert pairings(dbs) == 3


def test_a_file_with_one_bad_row_names_its_line_and_applies_nothing(client, dbs, ministry, admin):
    nhung = ministry["staff"][0]
    login(client, admin.email)
    content = b"mentee,mentor\nCB01,MA01\nCB02,CB03\n\nCB999,MA01\n"
    page = text(upload(client, content))
    assert 'id="csv-errors"' in page and 'id="csv-apply"' not in page
    listed = rows(page, "csv-rows")
    assert [(r["line"], r["status"]) for r in listed] == [
        ("3", "error"), ("5", "error"), ("2", "new")]
    assert "CB999" in page
    # Posting the content anyway (a forged form) is checked again: nothing is changed.
    forged = client.form("/mentoring/pairs/csv", {
        "filename": "x.csv", "content": base64.b64encode(zlib.compress(content)).decode()})
    assert forged.status_code == 200 and 'id="csv-errors"' in text(forged)
    assert pairings(dbs) == 0 and current(dbs, nhung) is None


def test_a_damaged_file_field_is_refused(client, dbs, ministry, admin):
    login(client, admin.email)
    for content in ("not base64!", base64.b64encode(b"not zlib").decode(),
                    base64.b64encode(zlib.compress(b"mentee,mentor\nCB01,MA01\n")[:-6]).decode()):
        response = client.form("/mentoring/pairs/csv", {"filename": "x.csv", "content": content})
        assert response.status_code == 302 and response.location.endswith("/mentoring/pairs/csv")
    assert pairings(dbs) == 0


def test_a_file_problem_is_shown_on_the_upload_form(client, dbs, admin, ministry):
    login(client, admin.email)
    for content, filename in ((b"", "empty.csv"), (b"code,name\nCB01,MA01\n", "pairs.csv"),
                              (b"old excel", "pairs.xls")):
        page = text(upload(client, content, filename))
        assert has_error(page, "file"), filename
    page = text(client.form("/mentoring/pairs/csv", {}, content_type="multipart/form-data"))
    assert has_error(page, "file")
    assert pairings(dbs) == 0


def test_a_unit_heads_file_cannot_reach_other_units(client, dbs, ministry, head):
    login(client, head.email)
    page = text(upload(client, b"mentee,mentor\nCB01,MA01\nCB04,MA01\n"))
    assert [(r["line"], r["status"]) for r in rows(page, "csv-rows")] == [
        ("3", "error"), ("2", "new")]
    assert 'id="csv-apply"' not in page
    assert current(dbs, ministry["staff"][3]) is None


def test_the_sample_file_is_utf8_with_a_bom_and_the_two_columns(client, admin):
    login(client, admin.email)
    response = client.get("/mentoring/pairs/csv/template")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith("\ufeff".encode() + b"mentee,mentor\r\n")
    page = text(client.get("/mentoring/pairs/csv"))
    assert 'href="/mentoring/pairs/csv/template"' in page


# ---------------------------------------------------------------- a person's page

def test_the_person_page_shows_the_mentor_since_when_and_the_history(client, dbs, factory,
                                                                      ministry, admin):
    an, binh = ministry["an"], ministry["binh"]
    son = ministry["staff"][1]
    factory.pair(an, son)
    factory.pair(binh, son)
    login(client, admin.email)
    page = text(client.get(f"/org/people/{son.id}"))
    assert re.search(rf'id="current-mentor" data-mentor="{binh.id}"', page)
    assert f'href="/org/people/{binh.id}"' in page
    history = re.search(r'<ul id="mentor-history"[^>]*>(.*?)</ul>', page, re.S).group(1)
    assert re.findall(r'data-mentor="(\d+)"', history) == [str(an.id)]
    assert 'id="set-mentor"' in page and 'id="end-mentor"' in page
    # The mentors offered are those of the person's division (with their loads).
    assert option_values(page, "mentor_id") == [str(binh.id)]
    assert re.search(rf'<option selected value="{binh.id}"|<option value="{binh.id}" selected', page)


def test_an_admin_sets_and_ends_the_mentor_on_the_person_page(client, dbs, factory, ministry,
                                                              admin):
    an = ministry["an"]
    nhung = ministry["staff"][0]
    login(client, admin.email)
    page = text(client.get(f"/org/people/{nhung.id}"))
    assert re.search(r'id="current-mentor" data-mentor=""', page)
    assert 'id="end-mentor"' not in page
    back = hidden(page, "next", form="set-mentor")
    assert back == f"/org/people/{nhung.id}#mentor"
    response = client.form("/mentoring/pairs", {"mentee": hidden(page, "mentee", form="set-mentor"),
                                                "mentor_id": an.id, "next": back})
    assert response.status_code == 302 and response.location.endswith(f"/org/people/{nhung.id}#mentor")
    assert current(dbs, nhung) == an.id
    # A refused change comes back to the person page as a message; nothing changes.
    refused = client.form("/mentoring/pairs", {"mentee": nhung.employee_code,
                                               "mentor_id": nhung.id, "next": back})
    assert refused.status_code == 302 and refused.location.endswith("#mentor")
    assert current(dbs, nhung) == an.id
    assert 'class="flash flash--error"' in text(client.get(f"/org/people/{nhung.id}"))
    ended = client.form(f"/mentoring/pairs/{nhung.id}/end", {"next": back})
    assert ended.location.endswith(f"/org/people/{nhung.id}#mentor")
    assert current(dbs, nhung) is None
    page = text(client.get(f"/org/people/{nhung.id}"))
    assert re.findall(r'<li data-mentor="(\d+)"', page) == [str(an.id)]


def test_a_mentors_page_counts_their_mentees_and_links_to_them(client, factory, ministry, admin):
    an = ministry["an"]
    for person in ministry["staff"][:2]:
        factory.pair(an, person)
    login(client, admin.email)
    page = text(client.get(f"/org/people/{an.id}"))
    assert re.search(r'id="own-mentees" data-count="2"', page)
    assert f'href="/mentoring/pairs?mentor_id={an.id}"' in page
    learner = text(client.get(f"/org/people/{ministry['staff'][3].id}"))
    assert 'id="own-mentees"' not in learner


def test_a_unit_head_is_offered_only_mentors_of_their_units(client, factory, ministry, head):
    consul = ministry["consul"]
    nhung = ministry["staff"][0]
    factory.pair(consul, nhung)                       # paired by an admin across departments
    login(client, head.email)
    page = text(client.get(f"/org/people/{nhung.id}"))
    assert re.search(rf'id="current-mentor" data-mentor="{consul.id}"', page)
    assert f'href="/org/people/{consul.id}"' not in page      # not a person the head may open
    assert option_values(page, "mentor_id") == [str(ministry["an"].id), str(ministry["binh"].id)]
    assert 'id="end-mentor"' not in page              # the mentor is outside the head's units
    assert client.get(f"/org/people/{ministry['staff'][3].id}").status_code == 403
