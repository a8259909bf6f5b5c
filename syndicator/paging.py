"""Keyset paging for every list: one cursor format, one query helper.

A page starts right after the last row of the previous one, by the list's
sort key (a post's (published_at, id), an endpoint's id…), so rows added or
removed while a client pages never shift an item from one page to the next.
The cursor is that key, opaque to clients: base64url of a JSON array.
A cursor this service did not give out is a MalformedRequest (HTTP 400).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from syndicator.errors import MalformedRequest
from syndicator.models import is_valid_id

Key = tuple[datetime | int, ...]


@dataclass(frozen=True)
class Window:
    """What a caller asks for: how many rows, and the cursor of the page before (if any)."""

    limit: int
    cursor: str | None = None


@dataclass(frozen=True)
class Keyset:
    """A list's sort key: its columns, and whether it runs newest (largest) first."""

    columns: tuple[InstrumentedAttribute[Any], ...]
    descending: bool = False

    def page(
        self, session: Session, query: Select[Any], window: Window
    ) -> tuple[list[Any], str | None]:
        """One page of `query` and the cursor of the next (None on the last page)."""
        if window.cursor is not None:
            query = query.where(self.after(self.decode(window.cursor)))
        order = [column.desc() if self.descending else column.asc() for column in self.columns]
        rows = list(session.scalars(query.order_by(*order).limit(window.limit + 1)))
        items = rows[: window.limit]
        more = len(rows) > window.limit
        return items, self.cursor_of(items[-1]) if more else None

    def after(self, key: Key) -> ColumnElement[bool]:
        """Rows that sort after `key`: (a, b) > (x, y) spelled out, as both databases agree."""
        column, *rest = self.columns
        value, *rest_values = key
        beyond = column < value if self.descending else column > value
        if not rest:
            return beyond
        tail = Keyset(tuple(rest), self.descending).after(tuple(rest_values))
        return or_(beyond, and_(column == value, tail))

    def cursor_of(self, row: Any) -> str:
        return encode(tuple(getattr(row, column.key) for column in self.columns))

    def decode(self, cursor: str) -> Key:
        values = _values(cursor)
        kinds = [column.type.python_type for column in self.columns]
        if len(values) != len(kinds):
            raise _bad_cursor()
        return tuple(_value(kind, value) for kind, value in zip(kinds, values, strict=True))


def encode(key: Key) -> str:
    plain = [
        value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value for value in key
    ]
    text = json.dumps(plain, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _values(cursor: str) -> Sequence[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"==")
        values = json.loads(raw.decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        raise _bad_cursor() from None
    if not isinstance(values, list):
        raise _bad_cursor()
    return values


def _value(kind: type, value: Any) -> datetime | int:
    if kind is int and type(value) is int and is_valid_id(value):
        return value
    if kind is datetime and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _bad_cursor() from None
        if moment.tzinfo is not None and moment.utcoffset() == UTC.utcoffset(None):
            return moment
    raise _bad_cursor()


def _bad_cursor() -> MalformedRequest:
    return MalformedRequest(
        {"cursor": "is not a cursor this API gave out"}, "the cursor is not one this API gave out"
    )
