"""The audit log's rules: an event's outcome, and the hash chain its blocks form.

A block's digest covers, in id order, each of its events serialised below, together with the
previous block's digest. Sealed blocks exist in every deployment and ``verify`` recomputes
them: the serialisation and the digest must never change, byte for byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

import orjson


class Outcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"


#: What the writer of an event gives (the database sets its id and time).
WRITTEN_FIELDS = (
    "actor",
    "role",
    "action",
    "resource_type",
    "resource_ids",
    "request_id",
    "purpose",
    "outcome",
)
#: What a block's digest covers of each of its events, in the order serialised.
SEALED_FIELDS = ("id", "occurred_at", *WRITTEN_FIELDS)
#: The same as a select list, to read a block's events by hand (``SELECT … FROM audit_events``).
SEALED_COLUMNS = ", ".join(SEALED_FIELDS)


def _event_bytes(event: Mapping[Any, Any]) -> bytes:
    return orjson.dumps(
        [
            event["id"],
            event["occurred_at"].isoformat(),
            event["actor"],
            event["role"],
            event["action"],
            event["resource_type"],
            list(event["resource_ids"]),
            event["request_id"],
            event["purpose"],
            event["outcome"],
        ]
    )


def block_digest(previous: bytes | None, events: Sequence[Mapping[Any, Any]]) -> bytes:
    digest = hashlib.sha256(previous or b"")
    for event in events:
        line = _event_bytes(event)
        digest.update(len(line).to_bytes(4, "big"))
        digest.update(line)
    return digest.digest()
