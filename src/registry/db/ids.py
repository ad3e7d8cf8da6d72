"""Record ids: UUID version 7 (RFC 9562), ordered by creation time.

Random (version 4) ids scatter every insert across the whole primary-key index; time-ordered
ids append to its right edge, which keeps bulk inserts (service records arrive by the ten
thousand) cheap and the index compact. The creation time they reveal is already public on
each record as ``created_at``.
"""

from __future__ import annotations

import os
import time
import uuid

_VERSION_7 = 0x7000
_VARIANT_RFC = 0x8000_0000_0000_0000


def new_id() -> uuid.UUID:
    """48 bits of Unix time in milliseconds, then 74 random bits (version and variant set)."""
    milliseconds = time.time_ns() // 1_000_000
    random = int.from_bytes(os.urandom(10), "big")
    rand_a = (random >> 64) & 0x0FFF  # 12 bits
    rand_b = random & 0x3FFF_FFFF_FFFF_FFFF  # 62 bits
    value = (milliseconds << 80) | ((_VERSION_7 | rand_a) << 64) | _VARIANT_RFC | rand_b
    return uuid.UUID(int=value)
