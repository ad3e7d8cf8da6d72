"""How every answer leaves a handler: one JSON response, with the record's version as its
``ETag`` and the created record's ``Location`` set here and nowhere else.

Two kinds of content reach a client:

- what the domain returns (dicts, rows): validated against the operation's response model
  and written by Pydantic, exactly as the spec documents it;
- rows read on the driver connection by a compiled statement (the hot reads): already in
  the response model's shape (a test holds each such read equal to its model), written
  straight to JSON by orjson without a Pydantic pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request, Response
from pydantic import BaseModel

from registry.api.dependencies import encode_cursor
from registry.db.pagination import Page

JSON = "application/json"


def etag(version: int) -> str:
    """The ``ETag`` of a record's version; ``If-Match`` sends it back."""
    return f'"{version}"'


def answer_headers(
    *, version: int | None = None, location: str | None = None, link: str | None = None
) -> dict[str, str]:
    """The headers an answer carries: ``ETag`` (the record's version), ``Location`` (where a
    created record lives), ``Link`` (the next page)."""
    headers: dict[str, str] = {}
    if location is not None:
        headers["Location"] = location
    if version is not None:
        headers["ETag"] = etag(version)
    if link is not None:
        headers["Link"] = link
    return headers


@dataclass(frozen=True, slots=True)
class Written:
    """Content already written as JSON, in the response model's shape: a batch's answer,
    written item by item so that its ten thousand items are never all values at once."""

    body: bytes


def json_body(content: Any, model: type[BaseModel] | None = None) -> bytes:
    """``content`` as JSON: through ``model`` when given, else (driver rows, already in the
    model's shape) straight by orjson (asyncpg's UUIDs are written through ``str()``); the
    body of ``Written`` content as it is."""
    if isinstance(content, Written):
        return content.body
    if model is not None:
        return model.model_validate(content).model_dump_json().encode()
    return orjson.dumps(content, default=str, option=orjson.OPT_UTC_Z)


def respond(
    content: Any,
    model: type[BaseModel] | None = None,
    *,
    status_code: int = 200,
    version: int | None = None,
    location: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The JSON response of ``content`` (see ``json_body``) with its ``ETag``/``Location``."""
    return Response(
        json_body(content, model),
        status_code=status_code,
        headers={**answer_headers(version=version, location=location), **(headers or {})},
        media_type=JSON,
    )


def respond_page(
    request: Request,
    page: Page[Any],
    model: type[BaseModel] | None = None,
    *,
    items: Sequence[Any] | None = None,
) -> Response:
    """``{items, next_cursor}`` (``items`` default to the page's), with a
    ``Link: rel="next"`` header when there is more."""
    next_cursor = encode_cursor(page.next_after) if page.next_after is not None else None
    link = None
    if next_cursor is not None:
        next_url = request.url.include_query_params(cursor=next_cursor)
        link = f'<{next_url.path}?{next_url.query}>; rel="next"'
    body = {"items": page.items if items is None else items, "next_cursor": next_cursor}
    return respond(body, model, headers=answer_headers(link=link))


def respond_all(items: Sequence[Any], model: type[BaseModel] | None = None) -> Response:
    """A list that is always one page (a family's members, its links…)."""
    return respond({"items": items, "next_cursor": None}, model)
