"""Cursor pagination for the API's feeds.

Rows come in a stable order of unique keys (e.g. ``(updated_at, id)``); the cursor is the
last row's key, encoded, so the next page is "rows after this key" — one indexed range
read whatever the page, and no row is skipped or repeated while pages are being read.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from flask import request
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, literal, tuple_
from sqlalchemy.orm import Session

from lms.api.problems import ApiProblem

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def encode_cursor(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: Sequence[type]) -> list[Any]:
    """The key values of a cursor, or a 400 problem if it was not made by us."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(kinds):
            raise ValueError
        values: list[Any] = []
        for kind, value in zip(kinds, raw, strict=True):
            if kind is datetime:
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is None:
                    raise ValueError
                values.append(moment)
            elif kind is int:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError
                values.append(value)
            else:
                values.append(kind(value))
        return values
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError, base64.binascii.Error):
        raise ApiProblem(400, _("The cursor is not valid. Use the next_cursor of the previous "
                                "page as it is, or start again without a cursor.")) from None


def after(columns: Sequence[ColumnElement[Any]], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows whose key comes after ``values`` in ascending order: a row-value comparison,
    which SQLite and PostgreSQL both answer with one range scan of the key's index."""
    return tuple_(*columns) > tuple_(*(literal(value, type_=column.type)
                                       for column, value in zip(columns, values, strict=True)))


def limit_arg() -> int:
    raw = request.args.get("limit", "")
    if not raw:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiProblem(400, _("limit must be a whole number from 1 to %(max)d.", max=MAX_LIMIT))
    return int(raw)


@dataclass
class CursorPage:
    rows: list[Any]
    next_cursor: str | None


def cursor_page(dbs: Session, statement: Select, key_columns: Sequence[ColumnElement[Any]],
                key_kinds: Sequence[type], key_of: Any, limit: int | None = None) -> CursorPage:
    """One page of ``statement`` (already filtered) ordered by its key, after the request's
    ``cursor``. ``key_of(row)`` gives a row's key values."""
    limit = limit or limit_arg()
    cursor = request.args.get("cursor")
    if cursor:
        statement = statement.where(after(key_columns, decode_cursor(cursor, key_kinds)))
    rows = list(dbs.execute(statement.order_by(*key_columns).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return CursorPage(rows=rows, next_cursor=encode_cursor(key_of(rows[-1])) if more else None)
