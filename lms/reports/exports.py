"""CSV and XLSX files of report views.

Rows arrive as an iterator (the query streams them with ``yield_per``) and are written to a
temporary file on disk, which is then sent: a 50,000-row export never sits in memory as a
list of rows and again as a file. Cells that a spreadsheet would run as a formula (starting
with = + - @, or a tab/carriage return) are neutralised with a leading apostrophe; CSV starts
with a UTF-8 byte order mark so Excel shows Vietnamese correctly.
"""
from __future__ import annotations

import csv
import io
import tempfile
from datetime import date, datetime
from typing import IO, Any, Iterable, Sequence

from flask import Response, send_file
from openpyxl import Workbook

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SPOOL_BYTES = 4 * 1024 * 1024


def neutralise(value: Any) -> Any:
    """A text cell that starts like a formula gets a leading apostrophe; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # spreadsheets have no time zones: local values
    return neutralise(value)


def write_csv(target: IO[bytes], header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    text = io.TextIOWrapper(target, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow([_cell(h) for h in header])
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
    text.flush()
    text.detach()


def _csv_value(value: Any) -> Any:
    value = _cell(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value


def write_xlsx(target: IO[bytes], sheet_title: str, header: Sequence[str],
               rows: Iterable[Sequence[Any]]) -> None:
    """A write-only workbook: openpyxl streams the rows to disk as they come."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=_sheet_title(sheet_title))
    sheet.append([_cell(h) for h in header])
    for row in rows:
        sheet.append([_cell(v) for v in row])
    book.save(target)


def _sheet_title(title: str) -> str:
    cleaned = "".join("-" if c in '[]:*?/\\' else c for c in title).strip() or "Report"
    return cleaned[:31]


def export_response(kind: str, filename: str, sheet_title: str, header: Sequence[str],
                    rows: Iterable[Sequence[Any]]) -> Response:
    """The file as a download; ``kind`` is "csv" or "xlsx" (anything else: ValueError)."""
    if kind not in ("csv", "xlsx"):
        raise ValueError(kind)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (send_file closes it)
    if kind == "csv":
        write_csv(spool, header, rows)
        mimetype = CSV_MIMETYPE
    elif kind == "xlsx":
        write_xlsx(spool, sheet_title, header, rows)
        mimetype = XLSX_MIMETYPE
    spool.seek(0)
    return send_file(spool, mimetype=mimetype, as_attachment=True,
                     download_name=f"{filename}.{kind}", max_age=0)
