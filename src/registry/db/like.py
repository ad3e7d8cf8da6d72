"""Searching text for what a user typed with LIKE: the one way every query does it.

In a LIKE pattern ``%`` and ``_`` are wildcards and ``\\`` escapes; typed by a user they are
only characters, so they are escaped (``q=%`` finds names containing a percent sign, not
every name).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

#: The escape character of every pattern built here (``LIKE … ESCAPE '\\'``).
ESCAPE = "\\"


def escape_like(text: str) -> str:
    """``text`` with the LIKE metacharacters ``\\``, ``%`` and ``_`` escaped."""
    return text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


def contains(
    column: ColumnElement[Any], text: str, *, ignore_case: bool = False
) -> ColumnElement[bool]:
    """``column`` contains ``text`` literally (``ILIKE`` with ``ignore_case``)."""
    pattern = "%" + escape_like(text) + "%"
    if ignore_case:
        return column.ilike(pattern, escape=ESCAPE)
    return column.like(pattern, escape=ESCAPE)
