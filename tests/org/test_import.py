"""Importing the HR department's staff list (CSV or XLSX): preview, then all or nothing.

The files are built inside the tests (CSV bytes, XLSX through openpyxl) the way HR's
Excel produces them: with or without BOM, CRLF, semicolons, Vietnamese headers.
"""
from __future__ import annotations

import codecs
import io
import re
import unicodedata
from typing import Any, Sequence

import pytest
from flask_babel import force_locale
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from lms.audit.models import AuditEvent
from lms.auth.passwords import hash_password, verify_password
from lms.errors import DomainError
from lms.org import importer
from lms.org.models import StaffImport, Unit, User
from tests.conftest import login

MB = 1024 * 1024
MAX_BYTES = 5 * MB  # the default LMS_MAX_IMPORT_MB
HEADER_EN = ("employee_code", "full_name", "email", "unit_code", "position")
HEADER_VI = ("Mã cán bộ", "Họ và tên", "Email", "Mã đơn vị", "Chức vụ")
TEMPORARY_PASSWORD = "Tamthoi-2025"

# Three people of the HR list, in three units (one of them a mission abroad).
STAFF = (
    ("CB001", "Nguyễn Văn An", "an.nv@mofa.example", "VP", "Chuyên viên"),
    ("CB002", "Trần Thị Bích Ngọc", "ngoc.ttb@mofa.example", "CLS", "Phó Cục trưởng"),
    ("CB003", "Đặng Quốc Việt", "viet.dq@mofa.example", "DSQ-PHAP", "Bí thư thứ nhất"),
)


# ---------------------------------------------------------------- building files

def csv_file(rows: Sequence[Sequence[Any]], header: Sequence[str] = HEADER_EN, sep: str = ",",
             newline: str = "\n", bom: bool = False, encode=None) -> bytes:
    """A CSV as Excel or a text editor would save it."""
    lines = [sep.join(header)] + [sep.join(str(v) for v in row) for row in rows]
    text = newline.join(lines) + newline
    content = encode(text) if encode else text.encode("utf-8")
    return codecs.BOM_UTF8 + content if bom else content


def xlsx_file(rows: Sequence[Sequence[Any]], header: Sequence[str] = HEADER_EN) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Danh sách cán bộ"
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def cp1258(text: str) -> bytes:
    """Vietnamese in Windows-1258, the legacy code page Excel uses for "CSV" on Vietnamese
    Windows: base letters precomposed, tone marks as separate combining characters."""
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = bytearray()
    for ch in text:
        decomposed = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in tones))
        out += (base + "".join(c for c in decomposed if c in tones)).encode("cp1258")
    return bytes(out)


def big_csv(size: int) -> bytes:
    """A well-formed staff list of at least ``size`` bytes."""
    head = csv_file([])
    line = "CB{:07d},Nguyễn Văn Thử {:07d},thu{:07d}@mofa.example,VP,Chuyên viên\n"
    count = size // len(line.format(0, 0, 0).encode()) + 1
    return head + "".join(line.format(n, n, n) for n in range(count)).encode()


# ---------------------------------------------------------------- helpers

@pytest.fixture(autouse=True)
def english(dbs):
    """Service messages in English whatever the default language (pages: see ``admin``)."""
    with force_locale("en"):
        yield


@pytest.fixture()
def units(factory) -> dict[str, Unit]:
    return {
        "VP": factory.unit(code="VP", name="Văn phòng Bộ"),
        "CLS": factory.unit(code="CLS", name="Cục Lãnh sự"),
        "DSQ-PHAP": factory.unit(code="DSQ-PHAP", name="Đại sứ quán tại Pháp", kind="mission",
                                 timezone="Europe/Paris"),
    }


@pytest.fixture()
def admin(factory, dbs) -> User:
    person = factory.admin(email="admin@mofa.example", name="Quản Trị Viên", code="AD0001")
    person.locale = "en"  # the pages this admin sees are in English
    dbs.flush()
    return person


@pytest.fixture()
def admin_client(client, admin, units):
    assert login(client, admin.email).status_code == 302
    return client


def count_people(dbs: Session) -> int:
    return dbs.scalar(select(func.count()).select_from(User))


def person(dbs: Session, code: str) -> User | None:
    dbs.expire_all()
    return dbs.scalar(select(User).where(User.employee_code == code))


def preview_of(dbs: Session, content: bytes, filename: str = "nhan-su.csv") -> importer.ImportPreview:
    return importer.preview_import(dbs, filename, content, MAX_BYTES)


def import_file(dbs: Session, actor: Any, content: bytes, filename: str = "nhan-su.csv",
                password_hash: str | None = None) -> importer.ImportResult:
    upload = importer.store_upload(dbs, actor, filename, content)
    return importer.apply_import(dbs, actor, upload, MAX_BYTES, password_hash)


def upload(client, content: bytes, filename: str = "nhan-su.csv", csrf: bool = True):
    """Send the file as a browser does (multipart, with the form's CSRF token)."""
    if client.csrf_token is None:
        client.refresh_csrf()
    fields: dict[str, Any] = {"file": FileStorage(io.BytesIO(content), filename)}
    if csrf:
        fields["csrf_token"] = client.csrf_token
    # Encoded in memory: the test client would spool a large body to a temporary file
    # that it never closes (a ResourceWarning, an error under this suite's settings).
    boundary, body = encode_multipart(fields)
    return client.post("/org/import", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def nothing_imported(n: int) -> re.Pattern[str]:
    return re.compile(rf"\b{n} rows? ha(?:s|ve) problems, so nothing was imported")


def upload_and_preview(client, content: bytes, filename: str = "nhan-su.csv") -> tuple[str, str]:
    """Upload a file as the admin; returns the preview's URL and page."""
    response = upload(client, content, filename)
    assert response.status_code == 302, text(response)
    url = response.location
    assert re.fullmatch(r"/org/import/\d+", url)
    page = client.get(url)
    assert page.status_code == 200
    return url, text(page)


def text(response) -> str:
    return response.get_data(as_text=True)


def stat(page: str, label: str) -> int:
    """The number shown in one box of the preview's summary."""
    match = re.search(r'stat__value">(\d+)</span><span class="stat__label">' + re.escape(label),
                      page)
    assert match, f"no {label!r} box on the page"
    return int(match.group(1))


def statuses(preview: importer.ImportPreview) -> list[str]:
    return [row.status for row in preview.rows]


# ---------------------------------------------------------------- formats and encodings

@pytest.mark.parametrize("bom", [True, False], ids=["with-bom", "without-bom"])
def test_a_utf8_csv_imports_with_or_without_bom(dbs, units, admin, bom):
    content = csv_file(STAFF, bom=bom)

    preview = preview_of(dbs, content)
    assert statuses(preview) == ["new", "new", "new"]
    assert preview.notices == []
    assert preview.rows[0].values["employee_code"] == "CB001"  # no BOM glued to the header

    result = import_file(dbs, admin, content)
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    for code, name, email, unit_code, position in STAFF:
        imported = person(dbs, code)
        assert (imported.full_name, imported.email, imported.unit.code, imported.position) == (
            name, email, unit_code, position)
        assert unicodedata.is_normalized("NFC", imported.full_name)


def test_names_typed_with_decomposed_accents_arrive_composed(dbs, units, admin):
    # Some keyboards (and macOS) produce "e" + combining marks instead of "ễ".
    decomposed = [[unicodedata.normalize("NFD", str(v)) for v in row] for row in STAFF]
    assert decomposed[0][1] != STAFF[0][1]

    import_file(dbs, admin, csv_file(decomposed))

    assert person(dbs, "CB001").full_name == "Nguyễn Văn An"
    assert person(dbs, "CB002").position == "Phó Cục trưởng"
    assert dbs.scalar(select(User).where(User.full_name == "Đặng Quốc Việt")) is not None


@pytest.mark.parametrize("header", [HEADER_VI, HEADER_EN,
                                    ("Mã CB", "Họ tên", "E-mail", "Đơn vị", "Chức danh"),
                                    ("Employee code", "Full name", "Email", "Unit code", "Position")],
                         ids=["vietnamese", "english", "vietnamese-short", "english-spaced"])
def test_vietnamese_and_english_headers_both_work(dbs, units, admin, header):
    content = csv_file(STAFF, header=header, bom=True)

    preview = preview_of(dbs, content)

    assert statuses(preview) == ["new", "new", "new"]
    assert preview.rows[1].values == dict(zip(HEADER_EN, STAFF[1], strict=True))
    import_file(dbs, admin, content)
    assert person(dbs, "CB003").unit.code == "DSQ-PHAP"


@pytest.mark.parametrize("sep,newline", [(",", "\r\n"), (";", "\r\n"), (";", "\n"), ("\t", "\r\n")],
                         ids=["comma-crlf", "semicolon-crlf", "semicolon-lf", "tab-crlf"])
def test_excel_csv_with_windows_line_endings_or_semicolons_imports(dbs, units, admin, sep,
                                                                   newline):
    rows = [*STAFF, ("CB004", "Lê Thị Hồng, Nhung", "nhung.lth@mofa.example", "CLS", "Chuyên viên")]
    if sep == ",":
        rows[-1] = ("CB004", '"Lê Thị Hồng, Nhung"', "nhung.lth@mofa.example", "CLS",
                    "Chuyên viên")
    content = csv_file(rows, header=HEADER_VI, sep=sep, newline=newline, bom=True)

    preview = preview_of(dbs, content)

    assert statuses(preview) == ["new"] * 4
    assert all("\r" not in value for row in preview.rows for value in row.values.values())
    assert preview.rows[-1].values["full_name"] == "Lê Thị Hồng, Nhung"
    assert preview.rows[-1].values["position"] == "Chuyên viên"
    result = import_file(dbs, admin, content)
    assert result.created == 4
    assert person(dbs, "CB004").full_name == "Lê Thị Hồng, Nhung"


def test_an_xlsx_workbook_imports_and_numeric_codes_become_text(dbs, units, admin):
    rows = [
        (12345, "Nguyễn Văn An", "an.nv@mofa.example", "VP", "Chuyên viên"),
        (67890.0, "Trần Thị Bích Ngọc", "ngoc.ttb@mofa.example", "cls", None),  # Excel floats
        ("CB003", "  Đặng  Quốc Việt ", "Viet.DQ@mofa.example", "DSQ-PHAP", "Bí thư thứ nhất"),
    ]
    content = xlsx_file(rows, header=HEADER_VI)

    preview = preview_of(dbs, content, "danh-sach.xlsx")

    assert statuses(preview) == ["new", "new", "new"]
    assert [row.values["employee_code"] for row in preview.rows] == ["12345", "67890", "CB003"]
    result = import_file(dbs, admin, content, "danh-sach.xlsx")
    assert result.created == 3
    assert person(dbs, "12345").full_name == "Nguyễn Văn An"
    second = person(dbs, "67890")
    assert (second.unit.code, second.position) == ("CLS", "")
    third = person(dbs, "CB003")
    assert (third.full_name, third.email) == ("Đặng Quốc Việt", "viet.dq@mofa.example")
    assert third.timezone == "Europe/Paris"  # new people live in their unit's timezone


def test_an_xlsx_workbook_imports_through_the_upload_page(admin_client, dbs):
    rows = [(12345, "Nguyễn Văn An", "an.nv@mofa.example", "VP", "Chuyên viên")]
    url, page = upload_and_preview(admin_client, xlsx_file(rows), "danh-sach.xlsx")

    assert "Preview of danh-sach.xlsx" in page
    assert stat(page, "new people") == 1
    assert "12345" in page and "Nguyễn Văn An" in page
    response = admin_client.form(url, {}, follow_redirects=True)
    assert "Import finished: 1 added, 0 updated, 0 unchanged." in text(response)
    assert person(dbs, "12345").full_name == "Nguyễn Văn An"


# ---------------------------------------------------------------- problems in rows

def problem_file(factory) -> bytes:
    factory.person(name="Tôn Thất Bảo", email="bao.ttb@mofa.example", code="CB900")
    return csv_file([
        ("CB001", "Nguyễn Văn An", "an.nv@mofa.example", "VP", ""),              # 2 fine
        ("CB010", "Phạm Thị Lan", "lan.pt@mofa.example", "KHONGCO", ""),        # 3 unit
        ("CB011", "Võ Văn Bình", "AN.NV@mofa.example", "VP", ""),               # 4 e-mail twice
        ("CB012", "Lý Thị Mai", "bao.ttb@mofa.example", "CLS", ""),             # 5 e-mail taken
        ("CB013", "", "trong@mofa.example", "CLS", ""),                          # 6 no name
        ("", "Hồ Văn Nam", "nam.hv@mofa.example", "CLS", ""),                    # 7 no code
        ("CB014", "Ngô Thị Yến", "ngo-thi-yen.mofa.example", "CLS", ""),         # 8 e-mail
        ("cb001", "Dương Văn Long", "long.dv@mofa.example", "VP", ""),           # 9 code twice
    ], header=HEADER_VI, bom=True)


EXPECTED_PROBLEMS = {
    3: "Unknown unit code KHONGCO.",
    4: "The e-mail an.nv@mofa.example is also on line 2.",
    5: "The e-mail bao.ttb@mofa.example already belongs to Tôn Thất Bảo (CB900).",
    6: "The full name is missing.",
    7: "The employee code is missing.",
    8: "“ngo-thi-yen.mofa.example” is not a valid e-mail address.",
    9: "The employee code CB001 is also on line 2.",
}


def test_the_preview_lists_every_problem_with_its_line(dbs, factory, units):
    preview = preview_of(dbs, problem_file(factory))

    assert [row.line for row in preview.rows] == [2, 3, 4, 5, 6, 7, 8, 9]
    assert preview.rows[0].status == "new" and preview.rows[0].problems == []
    problems = {row.line: row.problems for row in preview.errors}
    assert problems == {line: [message] for line, message in EXPECTED_PROBLEMS.items()}
    assert not preview.can_apply


def test_the_preview_page_shows_every_problem_and_no_apply_button(admin_client, dbs, factory):
    before = count_people(dbs)

    url, page = upload_and_preview(admin_client, problem_file(factory))

    assert stat(page, "rows with problems") == 7
    assert stat(page, "new people") == 1
    assert "7 rows have problems. Nothing will be imported" in page
    assert "Apply the import" not in page
    for line, message in EXPECTED_PROBLEMS.items():
        row = re.search(rf'<td class="num">{line}</td>.*?</tr>', page, re.S)
        assert row, f"line {line} is not in the preview"
        assert message in row.group(0), f"line {line}: {message}"
    assert count_people(dbs) == before + 1  # only the factory's own person


def test_a_file_with_a_row_that_is_too_long_for_the_database_is_refused_in_the_preview(
        dbs, units, admin):
    content = csv_file([("CB001", "Nguyễn " * 40 + "An", "an.nv@mofa.example", "VP", "")])

    preview = preview_of(dbs, content)

    # users.full_name is VARCHAR(200): PostgreSQL would refuse the INSERT with an error page.
    assert preview.rows[0].status == "error"
    with pytest.raises(DomainError):
        import_file(dbs, admin, content)


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_problem_lines_match_the_file_when_it_has_blank_rows(dbs, units, kind):
    rows = [STAFF[0], ("",) * 5, STAFF[1], ("",) * 5, ("",) * 5,
            ("CB004", "Lê Văn Tám", "tam.lv@mofa.example", "KHONGCO", "")]
    content = csv_file(rows) if kind == "csv" else xlsx_file(rows)

    preview = preview_of(dbs, content, f"nhan-su.{kind}")

    assert [row.line for row in preview.rows] == [2, 4, 7]
    assert preview.errors[0].line == 7  # where HR finds it in Excel


# ---------------------------------------------------------------- problems with the file

def test_a_csv_not_in_utf8_gets_a_notice_and_its_rows_are_problems(dbs, units, admin):
    content = csv_file(STAFF, encode=cp1258)
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    before = count_people(dbs)

    preview = preview_of(dbs, content)

    assert len(preview.notices) == 1
    assert "not in UTF-8" in preview.notices[0] and "CSV UTF-8" in preview.notices[0]
    assert statuses(preview) == ["error"] * 3
    assert all("not valid UTF-8" in row.problems[0] for row in preview.rows)
    with pytest.raises(DomainError, match=nothing_imported(3)):
        import_file(dbs, admin, content)
    assert count_people(dbs) == before


def test_the_preview_page_tells_to_save_as_csv_utf8(admin_client, dbs):
    before = count_people(dbs)

    url, page = upload_and_preview(admin_client, csv_file(STAFF, encode=cp1258))

    assert "The file is not in UTF-8, so Vietnamese letters were damaged." in page
    assert stat(page, "rows with problems") == 3
    response = admin_client.form(url, {})
    assert nothing_imported(3).search(text(response))
    assert count_people(dbs) == before


def test_a_cp1258_csv_with_vietnamese_headers_is_told_to_use_utf8(dbs, units):
    content = csv_file(STAFF, header=HEADER_VI, encode=cp1258)

    with pytest.raises(importer.ImportFileError, match="UTF-8"):
        preview_of(dbs, content)


def test_a_file_over_the_size_limit_is_refused(dbs, admin_client, app):
    assert app.config["MAX_IMPORT_BYTES"] == MAX_BYTES
    content = big_csv(10 * MB)
    assert len(content) > 10 * MB

    with pytest.raises(importer.ImportFileError, match="larger than 5 MB"):
        importer.read_table("nhan-su.csv", content, MAX_BYTES)

    response = upload(admin_client, content)
    assert response.status_code == 200
    assert "The file is larger than 5 MB. Split it into smaller files." in text(response)
    assert dbs.scalar(select(func.count()).select_from(StaffImport)) == 0


def test_a_file_of_exactly_the_size_limit_is_read(dbs, units):
    content = big_csv(MAX_BYTES)[:MAX_BYTES]
    content = content[:content.rindex(b"\n") + 1]
    content += b"\n" * (MAX_BYTES - len(content))  # trailing blank lines are ignored
    assert len(content) == MAX_BYTES

    rows, notices = importer.read_table("nhan-su.csv", content, MAX_BYTES)

    assert len(rows) > 50_000 and notices == []


def _corrupt_xlsx() -> bytes:
    good = xlsx_file(STAFF)
    return good[:len(good) // 2]


BAD_FILES = [
    ("empty.csv", b"", "The file is empty."),
    ("blank.csv", b"\r\n  \r\n,,,\r\n", "The file has no rows."),
    ("header-only.csv", csv_file([], header=HEADER_VI, bom=True),
     "The file has a header row but no people."),
    ("columns.csv", csv_file([("Nguyễn Văn An", "an.nv@mofa.example")],
                             header=("Họ và tên", "Email")),
     "The first row must name the columns. Missing: employee code, unit code."),
    ("no-header.csv", csv_file(STAFF[1:], header=STAFF[0]),
     "The first row must name the columns. Missing: employee code, full name, e-mail, unit code."),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500,
     "Old Excel files (.xls) cannot be read. Save the list as .xlsx or as CSV UTF-8."),
    ("broken.xlsx", _corrupt_xlsx(), "The file is not a readable Excel (.xlsx) workbook."),
    ("text.xlsx", b"employee_code,full_name\n", "The file is not a readable Excel (.xlsx) workbook."),
]


@pytest.mark.parametrize("filename,content,message", BAD_FILES,
                         ids=[name for name, _c, _m in BAD_FILES])
def test_an_unreadable_file_gets_a_clear_message(dbs, units, filename, content, message):
    with pytest.raises(importer.ImportFileError) as caught:
        importer.read_table(filename, content, MAX_BYTES)
    assert caught.value.message == message


@pytest.mark.parametrize("filename,content,message", BAD_FILES,
                         ids=[name for name, _c, _m in BAD_FILES])
def test_the_upload_page_explains_an_unreadable_file(admin_client, dbs, filename, content,
                                                     message):
    response = upload(admin_client, content, filename)

    assert response.status_code == 200
    page = text(response)
    assert message in page
    assert dbs.scalar(select(func.count()).select_from(StaffImport)) == 0


def test_the_upload_page_asks_for_a_file(admin_client, dbs):
    response = admin_client.form("/org/import", {})
    assert response.status_code == 200
    assert "Choose a file to upload." in text(response)


# ---------------------------------------------------------------- all or nothing

def test_one_bad_row_among_good_ones_imports_nobody(dbs, units, admin):
    rows = [*STAFF, ("CB004", "Lê Văn Tám", "tam.lv@mofa.example", "KHONGCO", "")]
    before = count_people(dbs)

    upload_row = importer.store_upload(dbs, admin, "nhan-su.csv", csv_file(rows))
    with pytest.raises(DomainError) as caught:
        importer.apply_import(dbs, admin, upload_row, MAX_BYTES)

    assert nothing_imported(1).search(caught.value.message)
    assert count_people(dbs) == before
    assert upload_row.applied_at is None
    assert dbs.scalar(select(AuditEvent).where(AuditEvent.action == "staff.imported")) is None


def test_the_apply_button_refuses_a_file_with_a_bad_row(admin_client, dbs):
    rows = [*STAFF, ("CB004", "Lê Văn Tám", "tam.lv@mofa.example", "KHONGCO", "")]
    before = count_people(dbs)
    url, page = upload_and_preview(admin_client, csv_file(rows))
    assert stat(page, "new people") == 3 and stat(page, "rows with problems") == 1

    response = admin_client.form(url, {"temporary_password": TEMPORARY_PASSWORD})

    assert response.status_code == 200
    assert nothing_imported(1).search(text(response))
    assert count_people(dbs) == before
    assert person(dbs, "CB001") is None
    dbs.expire_all()
    assert dbs.scalar(select(StaffImport)).applied_at is None


# ---------------------------------------------------------------- idempotence and updates

def test_importing_the_same_file_twice_changes_nothing(dbs, units, admin):
    content = csv_file(STAFF, header=HEADER_VI, bom=True)
    import_file(dbs, admin, content)
    dbs.expire_all()
    stamps = {p.employee_code: p.updated_at for p in dbs.scalars(select(User))}
    before = count_people(dbs)

    preview = preview_of(dbs, content)
    assert statuses(preview) == ["unchanged"] * 3
    assert all(row.changes == {} and row.person_id for row in preview.rows)
    result = import_file(dbs, admin, content)

    assert (result.created, result.updated, result.unchanged) == (0, 0, 3)
    assert count_people(dbs) == before
    dbs.expire_all()
    assert {p.employee_code: p.updated_at for p in dbs.scalars(select(User))} == stamps


def test_importing_the_same_file_twice_through_the_pages_changes_nothing(admin_client, dbs):
    content = csv_file(STAFF, header=HEADER_VI, bom=True)
    url, page = upload_and_preview(admin_client, content)
    first = admin_client.form(url, {}, follow_redirects=True)
    assert "Import finished: 3 added, 0 updated, 0 unchanged." in text(first)
    dbs.expire_all()
    stamps = {p.employee_code: p.updated_at for p in dbs.scalars(select(User))}
    before = count_people(dbs)

    url2, page2 = upload_and_preview(admin_client, content)

    assert url2 != url
    assert (stat(page2, "new people"), stat(page2, "to update"), stat(page2, "unchanged"),
            stat(page2, "rows with problems")) == (0, 0, 3, 0)
    second = admin_client.form(url2, {}, follow_redirects=True)
    assert "Import finished: 0 added, 0 updated, 3 unchanged." in text(second)
    assert count_people(dbs) == before
    dbs.expire_all()
    assert {p.employee_code: p.updated_at for p in dbs.scalars(select(User))} == stamps


def changed_staff() -> list[tuple[str, ...]]:
    rows = [list(row) for row in STAFF]
    rows[0][1] = "Nguyễn Văn Ân"          # name corrected
    rows[0][3] = "CLS"                     # moved to the Consular Department
    rows[0][4] = "Chuyên viên chính"       # promoted
    return [tuple(row) for row in rows]


def test_a_changed_row_updates_that_person_only(dbs, units, admin):
    import_file(dbs, admin, csv_file(STAFF))
    dbs.expire_all()
    stamps = {p.employee_code: p.updated_at for p in dbs.scalars(select(User))}
    content = csv_file(changed_staff())

    preview = preview_of(dbs, content)

    assert statuses(preview) == ["update", "unchanged", "unchanged"]
    assert preview.rows[0].changes == {
        "full_name": ("Nguyễn Văn An", "Nguyễn Văn Ân"),
        "unit_code": ("VP", "CLS"),
        "position": ("Chuyên viên", "Chuyên viên chính"),
    }
    result = import_file(dbs, admin, content)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 2)
    moved = person(dbs, "CB001")
    assert (moved.full_name, moved.unit.code, moved.position) == (
        "Nguyễn Văn Ân", "CLS", "Chuyên viên chính")
    assert moved.updated_at > stamps["CB001"]
    assert "nguyen van an" in moved.search_text  # still found by the folded name
    for code in ("CB002", "CB003"):
        assert person(dbs, code).updated_at == stamps[code]


def test_the_preview_page_shows_what_a_changed_row_changes(admin_client, dbs, admin):
    import_file(dbs, admin, csv_file(STAFF))

    url, page = upload_and_preview(admin_client, csv_file(changed_staff()))

    assert (stat(page, "new people"), stat(page, "to update"), stat(page, "unchanged")) == (0, 1, 2)
    assert "<del>VP</del> → <ins>CLS</ins>" in page
    assert "<del>Nguyễn Văn An</del> → <ins>Nguyễn Văn Ân</ins>" in page
    assert "<del>Chuyên viên</del> → <ins>Chuyên viên chính</ins>" in page
    response = admin_client.form(url, {}, follow_redirects=True)
    assert "Import finished: 0 added, 1 updated, 2 unchanged." in text(response)
    assert person(dbs, "CB001").unit.code == "CLS"


def test_a_list_without_the_optional_position_column_keeps_positions(dbs, units, admin):
    import_file(dbs, admin, csv_file(STAFF))
    content = csv_file([row[:4] for row in STAFF], header=HEADER_EN[:4])

    preview = preview_of(dbs, content)

    assert statuses(preview) == ["unchanged"] * 3


def test_applying_the_same_stored_upload_twice_is_refused(dbs, units, admin):
    stored = importer.store_upload(dbs, admin, "nhan-su.csv", csv_file(STAFF))
    importer.apply_import(dbs, admin, stored, MAX_BYTES)
    before = count_people(dbs)

    with pytest.raises(DomainError, match="already imported"):
        importer.apply_import(dbs, admin, stored, MAX_BYTES)
    assert count_people(dbs) == before


def test_submitting_the_apply_form_twice_imports_once(admin_client, dbs):
    url, _page = upload_and_preview(admin_client, csv_file(STAFF))
    assert admin_client.form(url, {}).status_code == 302
    before = count_people(dbs)

    again = admin_client.form(url, {"temporary_password": TEMPORARY_PASSWORD})

    assert again.status_code == 200
    assert "This file was imported on" in text(again)
    assert "Apply the import" not in text(again)
    assert count_people(dbs) == before
    assert person(dbs, "CB001").password_hash is None  # the second submit set nothing
    assert len(dbs.scalars(select(AuditEvent).where(
        AuditEvent.action == "staff.imported")).all()) == 1


# ---------------------------------------------------------------- new accounts

def test_new_accounts_get_the_temporary_password_and_must_change_it(dbs, units, admin):
    import_file(dbs, admin, csv_file(STAFF), password_hash=hash_password(TEMPORARY_PASSWORD))

    for code, *_rest in STAFF:
        new = person(dbs, code)
        assert new.must_change_password is True
        assert verify_password(new.password_hash, TEMPORARY_PASSWORD)
        assert not verify_password(new.password_hash, "matkhau-khac-2025")


def test_imported_people_sign_in_with_the_temporary_password_and_must_change_it(
        admin_client, dbs, make_client):
    url, page = upload_and_preview(admin_client, csv_file(STAFF))
    assert 'name="temporary_password"' in page
    response = admin_client.form(url, {"temporary_password": TEMPORARY_PASSWORD})
    assert response.status_code == 302
    assert person(dbs, "CB002").must_change_password is True

    newcomer = make_client()
    signed_in = login(newcomer, "ngoc.ttb@mofa.example", TEMPORARY_PASSWORD)

    assert signed_in.status_code == 302
    assert signed_in.location == "/account/password"
    assert newcomer.get("/").location == "/account/password"
    by_code = login(make_client(), "cb003", TEMPORARY_PASSWORD)
    assert by_code.location == "/account/password"


def test_without_a_temporary_password_new_accounts_cannot_sign_in_yet(admin_client, dbs,
                                                                      make_client):
    url, _page = upload_and_preview(admin_client, csv_file(STAFF))
    assert admin_client.form(url, {}).status_code == 302
    assert person(dbs, "CB001").password_hash is None

    response = login(make_client(), "an.nv@mofa.example", TEMPORARY_PASSWORD)
    assert response.status_code == 401


def test_a_weak_temporary_password_is_refused_and_nothing_is_imported(admin_client, dbs):
    url, _page = upload_and_preview(admin_client, csv_file(STAFF))
    before = count_people(dbs)

    response = admin_client.form(url, {"temporary_password": "ngan1"})

    assert response.status_code == 200
    assert "The password must be at least 10 characters long." in text(response)
    assert count_people(dbs) == before


# ---------------------------------------------------------------- after the import

def test_imported_people_are_found_without_typing_accents(admin_client, dbs, admin):
    import_file(dbs, admin, csv_file(STAFF))

    page = text(admin_client.get("/org/people?q=nguyen"))
    assert "Nguyễn Văn An" in page
    assert "Trần Thị Bích Ngọc" not in page and "Đặng Quốc Việt" not in page
    assert "Đặng Quốc Việt" in text(admin_client.get("/org/people?q=dang+quoc"))
    assert "Trần Thị Bích Ngọc" in text(admin_client.get("/org/people?q=B%C3%8DCH+ng%E1%BB%8Dc"))
    assert "Nguyễn Văn An" in text(admin_client.get("/org/people?q=cb001"))


def test_an_import_is_recorded_in_the_audit_log_with_its_counts(dbs, units, admin):
    import_file(dbs, admin, csv_file(STAFF))
    stored = importer.store_upload(dbs, admin, "lan-2.csv", csv_file(
        [*changed_staff(), ("CB004", "Lê Văn Tám", "tam.lv@mofa.example", "VP", "")]))
    importer.apply_import(dbs, admin, stored, MAX_BYTES)

    events = dbs.scalars(select(AuditEvent).where(AuditEvent.action == "staff.imported")
                         .order_by(AuditEvent.id)).all()
    assert len(events) == 2
    last = events[-1]
    assert last.actor_id == admin.id
    assert (last.target_type, last.target_id, last.target_label) == ("staffimport", stored.id,
                                                                     "lan-2.csv")
    assert last.details["created"] == 1
    assert last.details["updated"] == 1
    assert last.details["unchanged"] == 2
    assert last.details["sha256"] == stored.sha256
    assert events[0].details["created"] == 3
    dbs.expire_all()
    assert dbs.get(StaffImport, stored.id).summary == "created=1 updated=1 unchanged=2"


def test_an_import_through_the_pages_is_audited_under_the_admin(admin_client, dbs, admin):
    url, _page = upload_and_preview(admin_client, csv_file(STAFF))
    admin_client.form(url, {})

    event = dbs.scalar(select(AuditEvent).where(AuditEvent.action == "staff.imported"))
    assert event.actor_id == admin.id
    assert (event.details["created"], event.details["updated"], event.details["unchanged"]) == (
        3, 0, 0)


# ---------------------------------------------------------------- who may import

@pytest.mark.parametrize("who", ["learner", "unit head"])
def test_only_admins_may_import(client, dbs, factory, units, admin, who):
    if who == "learner":
        somebody = factory.person(email="hocvien@mofa.example", unit=units["VP"])
    else:
        somebody = factory.unit_head(units["CLS"], email="truong@mofa.example")
    stored = importer.store_upload(dbs, admin, "nhan-su.csv", csv_file(STAFF))
    before = count_people(dbs)
    assert login(client, somebody.email).status_code == 302

    assert client.get("/org/import").status_code == 403
    assert upload(client, csv_file(STAFF)).status_code == 403
    assert client.get(f"/org/import/{stored.id}").status_code == 403
    assert client.form(f"/org/import/{stored.id}",
                       {"temporary_password": TEMPORARY_PASSWORD}).status_code == 403
    assert count_people(dbs) == before
    assert dbs.scalar(select(func.count()).select_from(StaffImport)) == 1


def test_signed_out_visitors_are_sent_to_sign_in(client, dbs, admin, units):
    stored = importer.store_upload(dbs, admin, "nhan-su.csv", csv_file(STAFF))
    for url in ("/org/import", f"/org/import/{stored.id}"):
        response = client.get(url)
        assert response.status_code == 302 and response.location.startswith("/login")


def test_an_upload_without_the_csrf_token_is_rejected(admin_client, dbs):
    response = upload(admin_client, csv_file(STAFF), csrf=False)

    assert response.status_code == 400
    assert dbs.scalar(select(func.count()).select_from(StaffImport)) == 0


def test_applying_without_the_csrf_token_is_rejected(admin_client, dbs):
    url, _page = upload_and_preview(admin_client, csv_file(STAFF))
    before = count_people(dbs)

    assert admin_client.post(url, data={}).status_code == 400
    assert count_people(dbs) == before


# ---------------------------------------------------------------- performance

def big_list(factory, units: dict[str, Unit], size: int, tag: str) -> bytes:
    """``size`` rows; every third is somebody already here, moved and promoted."""
    codes = list(units)
    for n in range(0, size, 3):
        factory.person(name=f"Phạm Văn Cũ {n}", code=f"{tag}{n:05d}", unit=units[codes[n % 3]],
                       email=f"cu.{tag.lower()}{n}@mofa.example", position="Chuyên viên")
    rows = [(f"{tag}{n:05d}", f"Phạm Văn Mới {n}",
             f"{'cu' if n % 3 == 0 else 'moi'}.{tag.lower()}{n}@mofa.example",
             codes[(n + 1) % 3], "Chuyên viên chính") for n in range(size)]
    return csv_file(rows, header=HEADER_VI, bom=True)


def test_the_preview_page_runs_the_same_queries_for_30_or_300_rows(admin_client, dbs, factory,
                                                                    units, count_queries):
    small = importer.store_upload(dbs, None, "small.csv", big_list(factory, units, 30, "S"))
    large = importer.store_upload(dbs, None, "large.csv", big_list(factory, units, 300, "L"))
    admin_client.get(f"/org/import/{small.id}")  # warm up (session touch, caches)

    with count_queries() as for_30:
        small_page = admin_client.get(f"/org/import/{small.id}")
    with count_queries() as for_300:
        large_page = admin_client.get(f"/org/import/{large.id}")

    assert stat(text(small_page), "to update") == 10 and stat(text(small_page), "new people") == 20
    assert stat(text(large_page), "to update") == 100
    assert stat(text(large_page), "new people") == 200
    assert len(for_300) == len(for_30), "\n".join(for_300)
    assert len(for_300) <= 10, "\n".join(for_300)  # session, user, upload, units, people


def test_checking_a_long_list_reads_the_timezone_list_once(dbs, units, monkeypatch):
    """A 5 MB list has some 70,000 rows: nothing costly may run once per row."""
    import lms.i18n

    calls = []
    real = lms.i18n.available_timezones
    monkeypatch.setattr(lms.i18n, "available_timezones", lambda: calls.append(1) or real())
    lms.i18n.known_timezones.cache_clear()
    rows = [(f"CB{n:05d}", f"Nguyễn Văn Thử {n}", f"thu{n}@mofa.example", "VP", "Chuyên viên")
            for n in range(250)]
    preview = preview_of(dbs, csv_file(rows))
    assert preview.count("new") == 250
    assert len(calls) <= 1
