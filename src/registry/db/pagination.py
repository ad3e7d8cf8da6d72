"""Keyset pagination: no OFFSET, a page continues after the sort key of the last row seen.

A list query is ordered by a unique tuple of columns (the last one a unique key).
The API turns the last row's key into an opaque cursor; this module applies it.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import ColumnElement, Select, tuple_

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

T = TypeVar("T")


def encode_cursor(after: tuple[Any, ...]) -> str:
    """The opaque cursor of a sort key (the API's lists and feeds, and what the worker
    delivers: a webhook's event carries the feed's cursor)."""
    return base64.urlsafe_b64encode(orjson.dumps(after, default=str)).rstrip(b"=").decode()


class InvalidCursor(ValueError):
    """The cursor does not belong to this list."""


def id_after(after: tuple[Any, ...]) -> uuid.UUID:
    """The id a list ordered by id alone resumes after (``InvalidCursor`` for any other)."""
    if len(after) != 1 or not isinstance(after[0], str):
        raise InvalidCursor("cursor does not match this list")
    try:
        return uuid.UUID(after[0])
    except ValueError as error:
        raise InvalidCursor("cursor does not match this list") from error


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    after: tuple[Any, ...] | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_after: tuple[Any, ...] | None


def _bigint(value: Any) -> int:
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError("out of range")
    return number


_COERCE: dict[type, Callable[[Any], Any]] = {
    datetime: datetime.fromisoformat,
    date: date.fromisoformat,
    uuid.UUID: uuid.UUID,
    int: _bigint,  # every integer key column is at most a bigint
    str: str,
}


def _coerce(values: Sequence[Any], columns: Sequence[ColumnElement[Any]]) -> list[Any]:
    if len(values) != len(columns):
        raise InvalidCursor("cursor does not match this list")
    coerced = []
    for value, column in zip(values, columns, strict=True):
        python_type = column.type.python_type
        if value is None or not isinstance(value, (str, int)):
            raise InvalidCursor("cursor does not match this list")
        try:
            coerced.append(_COERCE.get(python_type, python_type)(value))
        except (TypeError, ValueError) as error:
            raise InvalidCursor("cursor does not match this list") from error
    return coerced


def keyset(
    statement: Select[Any], order_by: Sequence[ColumnElement[Any]], page: PageRequest
) -> Select[Any]:
    """Order ``statement`` by ``order_by`` (ascending), start after ``page.after`` and fetch
    one row more than the limit, so the caller knows whether a next page exists."""
    if page.after is not None:
        statement = statement.where(tuple_(*order_by) > tuple_(*_coerce(page.after, order_by)))
    return statement.order_by(*order_by).limit(page.limit + 1)


def page_of(rows: Sequence[T], page: PageRequest, key: Callable[[T], tuple[Any, ...]]) -> Page[T]:
    """Cut the extra row ``keyset`` fetched and note where the next page starts."""
    if len(rows) > page.limit:
        items = list(rows[: page.limit])
        return Page(items, key(items[-1]))
    return Page(list(rows), None)
