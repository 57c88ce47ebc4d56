"""Importing staff from the HR department's list (CSV or XLSX).

``read_table`` turns the file into rows, ``preview_import`` checks every row against
the database without writing, ``apply_import`` writes all rows or none. People are
matched by employee code, so importing the same file twice changes nothing.
"""
from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from typing import Any, Iterable

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms.audit.services import record
from lms.db import utcnow
from lms.errors import DomainError
from lms.org.models import StaffImport, Unit, User
from lms.org.services import PersonData, normalise_person, person_changes, placed, set_derived_names
from lms.text import clean, fold

COLUMNS = ("employee_code", "full_name", "email", "unit_code", "position")
REQUIRED = ("employee_code", "full_name", "email", "unit_code")
HEADER_ALIASES = {
    "employee_code": {"employee code", "employee no", "staff code", "code", "ma can bo",
                      "ma nhan vien", "ma cb", "ma so", "ma cong chuc", "ma vien chuc"},
    "full_name": {"full name", "name", "ho va ten", "ho ten", "ten"},
    "email": {"email", "e-mail", "e mail", "thu dien tu", "dia chi email"},
    "unit_code": {"unit code", "unit", "ma don vi", "don vi"},
    "position": {"position", "title", "job title", "chuc vu", "chuc danh"},
}
COLUMN_LABELS = {
    "employee_code": _l("employee code"),
    "full_name": _l("full name"),
    "email": _l("e-mail"),
    "unit_code": _l("unit code"),
    "position": _l("position"),
}
XLSX_MAGIC = b"PK\x03\x04"
MAX_LENGTHS = {"employee_code": 40, "full_name": 200, "email": 254, "position": 120}


class ImportFileError(DomainError):
    """The file as a whole cannot be read; nothing in it was looked at."""


@dataclass
class ImportRow:
    line: int
    values: dict[str, str]
    status: str = "new"  # new | update | unchanged | error
    problems: list[str] = field(default_factory=list)
    changes: dict[str, tuple[str, str]] = field(default_factory=dict)
    person_id: int | None = None
    # Columns the file has: an absent optional column leaves that field as it is.
    columns: frozenset[str] = frozenset(COLUMNS)
    # Rows sent through the API are named by a JSON Pointer (e.g. /people/3), not a line.
    pointer: str | None = None
    # The column each problem is about (None: the row as a whole), parallel to ``problems``.
    problem_fields: list[str | None] = field(default_factory=list)

    def problem(self, column: str | None, message: str) -> None:
        self.problems.append(message)
        self.problem_fields.append(column)


@dataclass
class ImportPreview:
    rows: list[ImportRow]
    notices: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def errors(self) -> list[ImportRow]:
        return [row for row in self.rows if row.status == "error"]

    @property
    def can_apply(self) -> bool:
        return bool(self.rows) and not self.errors


# ---------------------------------------------------------------- reading

def _header_key(text: str) -> str | None:
    folded = " ".join(fold(text).replace("_", " ").replace("*", " ").split())
    for key, aliases in HEADER_ALIASES.items():
        if folded == key.replace("_", " ") or folded in aliases:
            return key
    return None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return clean(str(value))


def _decode(content: bytes) -> tuple[str, bool]:
    """UTF-8 (with or without BOM); on failure, decode with replacements and say so."""
    try:
        return content.decode("utf-8-sig"), True
    except UnicodeDecodeError:
        return content.decode("utf-8-sig", errors="replace"), False


def _csv_rows(content: bytes) -> tuple[list[list[str]], bool]:
    text, utf8_ok = _decode(content)
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample.splitlines()[0] if sample else "", delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [row for row in csv.reader(io.StringIO(text, newline=""), dialect)], utf8_ok


def _xlsx_rows(content: bytes) -> list[list[Any]]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ImportFileError(_("The file is not a readable Excel (.xlsx) workbook.")) from exc
    try:
        sheet = workbook.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def read_rows(filename: str, content: bytes,
              max_bytes: int) -> tuple[list[tuple[int, list[str]]], list[str], bool]:
    """The non-blank rows of a CSV or .xlsx file as (line number, cleaned cells), notices
    about the file, and whether it was proper UTF-8."""
    if not content:
        raise ImportFileError(_("The file is empty."))
    if len(content) > max_bytes:
        raise ImportFileError(_("The file is larger than %(mb)d MB. Split it into smaller files.",
                                mb=max_bytes // (1024 * 1024)))
    notices: list[str] = []
    utf8_ok = True
    name = filename.lower()
    if content.startswith(XLSX_MAGIC) or name.endswith(".xlsx"):
        raw_rows: list[list[Any]] = _xlsx_rows(content)
    elif name.endswith(".xls"):
        raise ImportFileError(_("Old Excel files (.xls) cannot be read. Save the list as .xlsx or "
                                "as CSV UTF-8."))
    else:
        raw_rows, utf8_ok = _csv_rows(content)
        if not utf8_ok:
            notices.append(_("The file is not in UTF-8, so Vietnamese letters were damaged. In "
                             "Excel choose “Save as → CSV UTF-8”, then upload it again."))
    # Line numbers are counted before blank rows are dropped, so problems point at the file.
    numbered = [(line, [_cell(v) for v in row]) for line, row in enumerate(raw_rows, start=1)
                if any(_cell(v) for v in row)]
    if not numbered:
        raise ImportFileError(_("The file has no rows."))
    return numbered, notices, utf8_ok


def read_table(filename: str, content: bytes, max_bytes: int) -> tuple[list[ImportRow], list[str]]:
    """Rows of the file (header mapped to our columns) and notices about the file."""
    numbered, notices, utf8_ok = read_rows(filename, content, max_bytes)
    header = [_header_key(v) for v in numbered[0][1]]
    missing = [str(COLUMN_LABELS[c]) for c in REQUIRED if c not in header]
    if missing and not utf8_ok:
        raise ImportFileError(notices[0])  # the header itself is damaged by the encoding
    if missing:
        raise ImportFileError(_("The first row must name the columns. Missing: %(columns)s.",
                                columns=", ".join(missing)))
    present = frozenset(key for key in header if key)
    rows = []
    for line, raw in numbered[1:]:
        values = {key: "" for key in COLUMNS}
        for key, value in zip(header, raw, strict=False):  # short rows leave blanks
            if key:
                values[key] = value
        rows.append(ImportRow(line=line, values=values, columns=present))
    if not rows:
        raise ImportFileError(_("The file has a header row but no people."))
    return rows, notices


def row_from_mapping(line: int, values: dict[str, str | None], pointer: str | None = None) -> ImportRow:
    """A row built from a mapping of our columns (e.g. an item of the API's staff sync);
    a column absent or None is treated like a column the file does not have."""
    present = frozenset(key for key in COLUMNS if values.get(key) is not None)
    return ImportRow(line=line, values={key: clean(values.get(key) or "") for key in COLUMNS},
                     columns=present | frozenset(REQUIRED), pointer=pointer)


# ---------------------------------------------------------------- checking

def _chunks(values: list[str], size: int = 900) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _existing(dbs: Session, column: Any, values: set[str]) -> dict[str, User]:
    found: dict[str, User] = {}
    for chunk in _chunks(sorted(v for v in values if v)):
        for person in dbs.scalars(select(User).where(column.in_(chunk))):
            found[getattr(person, column.key)] = person
    return found


def check_rows(dbs: Session, rows: list[ImportRow]) -> None:
    """Fill in each row's status, problems and changes; a handful of queries in all."""
    units = {u.code: u for u in dbs.scalars(select(Unit))}
    codes = {clean(r.values["employee_code"]).upper() for r in rows}
    emails = {clean(r.values["email"]).lower() for r in rows}
    by_code = _existing(dbs, User.employee_code, codes)
    by_email = _existing(dbs, User.email, emails)
    seen_codes: dict[str, ImportRow] = {}
    seen_emails: dict[str, ImportRow] = {}
    for row in rows:
        _check_row(row, units, by_code, by_email, seen_codes, seen_emails)


def _check_row(row: ImportRow, units: dict[str, Unit], by_code: dict[str, User],
               by_email: dict[str, User], seen_codes: dict[str, ImportRow],
               seen_emails: dict[str, ImportRow]) -> None:
    v = row.values
    code, email = v["employee_code"].upper(), v["email"].lower()
    if any("\ufffd" in value for value in v.values()):
        row.problem(None, _("Characters that are not valid UTF-8 (bad encoding)."))
    if not code:
        row.problem("employee_code", _("The employee code is missing."))
    elif code in seen_codes:
        first = seen_codes[code]
        row.problem("employee_code", _(
            "The employee code %(code)s is also in %(pointer)s.", code=code, pointer=first.pointer)
            if first.pointer else _("The employee code %(code)s is also on line %(line)d.",
                                    code=code, line=first.line))
    if not v["full_name"]:
        row.problem("full_name", _("The full name is missing."))
    if not email:
        row.problem("email", _("The e-mail is missing."))
    elif "@" not in email or " " in email or email.startswith("@") or email.endswith("@"):
        row.problem("email", _("“%(email)s” is not a valid e-mail address.", email=v["email"]))
    elif email in seen_emails:
        first = seen_emails[email]
        row.problem("email", _(
            "The e-mail %(email)s is also in %(pointer)s.", email=email, pointer=first.pointer)
            if first.pointer else _("The e-mail %(email)s is also on line %(line)d.",
                                    email=email, line=first.line))
    for column, limit in MAX_LENGTHS.items():
        if len(v[column]) > limit:
            row.problem(column, _("The %(column)s is longer than %(n)d characters.",
                                  column=COLUMN_LABELS[column], n=limit))
    unit = units.get(v["unit_code"].upper())
    if not v["unit_code"]:
        row.problem("unit_code", _("The unit code is missing."))
    elif unit is None:
        row.problem("unit_code", _("Unknown unit code %(code)s.", code=v["unit_code"]))
    elif not unit.is_active:
        row.problem("unit_code", _("The unit %(code)s is deactivated.", code=unit.code))
    person = by_code.get(code)
    owner = by_email.get(email)
    if owner is not None and (person is None or owner.id != person.id):
        row.problem("email", _("The e-mail %(email)s already belongs to %(name)s (%(code)s).",
                               email=email, name=owner.full_name, code=owner.employee_code))
    if code:
        seen_codes.setdefault(code, row)
    if email:
        seen_emails.setdefault(email, row)
    if row.problems:
        row.status = "error"
        return
    data = _person_data(row, unit, person)
    if person is None:
        row.status = "new"
        return
    row.person_id = person.id
    changes = person_changes(person, data)
    changes.pop("locale", None)
    changes.pop("timezone", None)
    if "unit_id" in changes:
        changes.pop("unit_id")
        changes["unit_code"] = unit.code
        row.changes["unit_code"] = (person.unit.code, unit.code)
    for key, value in changes.items():
        if key != "unit_code":
            row.changes[key] = (str(getattr(person, key)), str(value))
    row.status = "update" if row.changes else "unchanged"


def _person_data(row: ImportRow, unit: Unit, person: User | None) -> PersonData:
    v = row.values
    position = v["position"] if "position" in row.columns else (person.position if person else "")
    return normalise_person(PersonData(
        employee_code=v["employee_code"], full_name=v["full_name"], email=v["email"],
        unit_id=unit.id, position=position,
        locale=person.locale if person else "vi",
        timezone=person.timezone if person else unit.timezone,
    ))


# ---------------------------------------------------------------- the two steps

def store_upload(dbs: Session, actor: Any, filename: str, content: bytes) -> StaffImport:
    """Keep an uploaded file until its preview is applied (works across web workers)."""
    upload = StaffImport(filename=clean(filename)[:255] or "import", content=content,
                         sha256=hashlib.sha256(content).hexdigest(),
                         uploaded_by_id=getattr(actor, "id", None))
    dbs.add(upload)
    dbs.flush()
    return upload


def preview_import(dbs: Session, filename: str, content: bytes, max_bytes: int) -> ImportPreview:
    """Check every row; writes nothing."""
    rows, notices = read_table(filename, content, max_bytes)
    check_rows(dbs, rows)
    return ImportPreview(rows=rows, notices=notices)


@dataclass
class ImportResult:
    created: int
    updated: int
    unchanged: int


def apply_import(dbs: Session, actor: Any, upload: StaffImport, max_bytes: int,
                 password_hash: str | None = None) -> ImportResult:
    """Create and update everyone in the file, or nobody if any row has a problem.

    ``password_hash`` is the temporary password of the new accounts (changed at first sign-in).
    """
    if upload.applied_at is not None:
        raise DomainError(_("This file was already imported. Upload it again to check for changes."))
    preview = preview_import(dbs, upload.filename, upload.content, max_bytes)
    if not preview.can_apply:
        raise DomainError(ngettext(
            "%(num)d row has problems, so nothing was imported. Correct the file and upload it again.",
            "%(num)d rows have problems, so nothing was imported. Correct the file and upload it again.",
            len(preview.errors)))
    result = write_rows(dbs, preview.rows, password_hash)
    upload.applied_at = utcnow()
    upload.summary = f"created={result.created} updated={result.updated} unchanged={result.unchanged}"
    record(dbs, actor, "staff.imported", upload, created=result.created, updated=result.updated,
           unchanged=result.unchanged, sha256=upload.sha256)
    dbs.flush()
    return result


def write_rows(dbs: Session, rows: list[ImportRow], password_hash: str | None = None) -> ImportResult:
    """Create and update the people of rows checked by ``check_rows`` (none with a problem).

    New accounts get ``password_hash`` (None: no password until one is set for them) and
    must change it at their first sign-in.
    """
    if any(row.status == "error" for row in rows):
        raise ValueError("rows with problems cannot be written")
    units = {u.code: u for u in dbs.scalars(select(Unit))}
    existing = {p.id: p for p in dbs.scalars(select(User).where(
        User.id.in_([r.person_id for r in rows if r.status == "update"])))}
    new_people = []
    moved: list[int] = []
    for row in rows:
        unit = units[row.values["unit_code"].upper()]
        if row.status == "new":
            data = _person_data(row, unit, None)
            new_people.append(User(
                employee_code=data.employee_code, full_name=data.full_name, email=data.email,
                unit_id=unit.id, position=data.position, locale=data.locale,
                timezone=data.timezone, password_hash=password_hash, must_change_password=True))
            set_derived_names(new_people[-1])
        elif row.status == "update":
            person = existing[row.person_id]
            data = _person_data(row, unit, person)
            if person.unit_id != data.unit_id:
                moved.append(person.id)
            for key in ("employee_code", "full_name", "email", "unit_id", "position"):
                setattr(person, key, getattr(data, key))
            set_derived_names(person)
    dbs.add_all(new_people)
    dbs.flush()
    placed(dbs, [p.id for p in new_people] + moved)
    return ImportResult(created=len(new_people), updated=sum(r.status == "update" for r in rows),
                        unchanged=sum(r.status == "unchanged" for r in rows))
