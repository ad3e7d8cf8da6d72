"""The change feed: what changed, in an order a consumer follows without skipping."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from registry.api.dependencies import ChangesRead, Session, decode_cursor
from registry.api.openapi_responses import problem_responses
from registry.api.responses import respond
from registry.api.schemas.changes import ChangeFeed
from registry.api.schemas.words import worded
from registry.domain.changes import queries
from registry.domain.changes.rules import feed_item
from registry.errors import FieldError, InvalidInput

router = APIRouter(tags=["changes"])

_ONE_TYPE = "(" + "|".join(queries.RESOURCE_TYPES) + ")"
TYPES_PATTERN = worded(
    f"^{_ONE_TYPE}(,{_ONE_TYPE}){{0,31}}$",
    "must be resource types of the feed, separated by commas",
)


def feed_position(cursor: str | None, field: str = "query.after") -> int | None:
    """The sequence number a feed cursor continues after (None: from the start)."""
    if cursor is None:
        return None
    after = decode_cursor(cursor, field)
    if len(after) != 1 or not all(
        isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63
        for value in after
    ):
        raise InvalidInput(
            "The cursor is not one this API issued.",
            errors=[FieldError(field, "not a cursor of the change feed")],
        )
    return int(after[0])


def _types(types: str | None) -> list[str]:
    if types is None:
        return []
    named = types.split(",")
    unknown = sorted(set(named) - set(queries.RESOURCE_TYPES))
    if unknown:
        raise InvalidInput(
            f"Unknown resource types: {', '.join(unknown)}.",
            errors=[
                FieldError(
                    "query.types",
                    "must be among " + ", ".join(queries.RESOURCE_TYPES),
                )
            ],
        )
    return named


@router.get(
    "/changes",
    response_model=ChangeFeed,
    name="list_changes",
    responses=problem_responses(403, 422),
)
async def list_changes(
    caller: ChangesRead,
    session: Session,
    after: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=worded(r"^[A-Za-z0-9_-]+$", "must be a cursor of this feed, unchanged"),
            description="Continue after this cursor (`next_cursor` of the last read, or an "
            "event's `cursor`); from the beginning when absent.",
        ),
    ] = None,
    types: Annotated[
        str | None,
        Query(
            max_length=1100,
            pattern=TYPES_PATTERN,
            description="Only these resource types, separated by commas (e.g. "
            "`family,case`); all when absent.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Events per read.")] = 100,
) -> Response:
    """Every committed write of a resource within your reach, oldest first: its type, id,
    version and place, never its data (read it at `href`). The feed shows only what can no
    longer be preceded by a later commit, so polling with `next_cursor` never skips an
    event and never repeats one; an event may show a moment after its commit."""
    position = feed_position(after)
    rows = await queries.read_feed(session, caller, position, _types(types), limit)
    items = [feed_item(row) for row in rows]
    next_cursor = items[-1]["cursor"] if items else after
    return respond({"items": items, "next_cursor": next_cursor}, ChangeFeed)
