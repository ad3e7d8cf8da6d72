"""``If-Match`` on updates (DESIGN §3): required where a change is based on what was read,
optional where sending it only adds a check; and the version an ETag names."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from registry.errors import PreconditionFailed

IfMatch = Annotated[
    str,
    Header(
        alias="If-Match",
        max_length=40,
        description="The `ETag` of the version your change is based on (428 without it, "
        "412 when the record has changed since).",
    ),
]
OptionalIfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=40,
        description="The `ETag` of the version you read; checked when sent.",
    ),
]


def version_from(if_match: str | None) -> int | None:
    """The version an ``If-Match`` names: ``"3"`` or ``W/"3"`` (the ETags this API sends)."""
    if if_match is None:
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    # A version is a PostgreSQL integer: a longer number names none (and must not reach
    # the database, which would refuse it as out of range).
    if not tag.isascii() or not tag.isdigit() or int(tag) > _LARGEST_VERSION:
        raise PreconditionFailed("If-Match does not name a version of this record.")
    return int(tag)


_LARGEST_VERSION = 2**31 - 1


def required_version(if_match: str) -> int:
    version = version_from(if_match)
    assert version is not None
    return version
