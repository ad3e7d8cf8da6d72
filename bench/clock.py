"""Times and ids of generated events, for ``bench/generate``.

The registry gives providers, service records, cases and what hangs off them time-ordered ids
(UUIDv7, ``registry.db.ids.new_id``): the id carries the moment the row was made. Generated
rows get the same kind of id for the moment they say they were made, so the id order of a
table and its ``created_at`` order agree as they would in production (and bulk reads and
index builds see the same locality).
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta

from asyncpg.pgproto.pgproto import UUID

_VERSION_7 = 0x7000
_VARIANT_RFC = 0x8000_0000_0000_0000
#: Office hours, in seconds after midnight (Kyiv time is UTC+2/3; good enough for load data).
_WORKDAY_START, _WORKDAY_LENGTH = 6 * 3600, 10 * 3600


def uuid7(at: datetime, rng: random.Random) -> uuid.UUID:
    """The UUIDv7 ``new_id`` would have made at ``at`` (48 bits of Unix milliseconds, then
    74 random bits), with the randomness drawn from ``rng`` so a seed repeats the data."""
    milliseconds = int(at.timestamp() * 1000)
    bits = rng.getrandbits(74)
    value = (
        (milliseconds << 80)
        | ((_VERSION_7 | (bits >> 62)) << 64)
        | _VARIANT_RFC
        | (bits & 0x3FFF_FFFF_FFFF_FFFF)
    )
    return fast_uuid(value)


def fast_uuid(value: int) -> uuid.UUID:
    """The UUID of a 128-bit integer as asyncpg's own UUID type (a ``uuid.UUID``), made from
    bytes in a fifth of the time ``uuid.UUID(int=…)`` takes with its checks: it is made for
    millions of rows."""
    return UUID(value.to_bytes(16, "big"))


def during_work(day: date, rng: random.Random) -> datetime:
    """A moment in office hours of ``day`` (UTC)."""
    midnight = _MIDNIGHTS.get(day)
    if midnight is None:  # a few thousand days in all: each made once
        midnight = _MIDNIGHTS[day] = datetime.combine(day, time(), tzinfo=UTC)
    return midnight + timedelta(seconds=_WORKDAY_START + int(rng.random() * _WORKDAY_LENGTH))


_MIDNIGHTS: dict[date, datetime] = {}


def not_after(moment: datetime, now: datetime) -> datetime:
    return moment if moment < now else now
