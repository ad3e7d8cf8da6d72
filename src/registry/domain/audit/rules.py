"""The audit log's rules: an event's outcome, the hash chain its blocks form, the signed head
of a block, and the order events must keep.

A block's digest covers, in id order, each of its events serialised below, together with the
previous block's digest. Sealed blocks exist in every deployment and ``verify`` recomputes
them: the serialisation and the digest must never change, byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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


#: How far an event's time may lag behind an event with a lower id. The database takes the id
#: and then ``clock_timestamp()`` in one trigger call, so two writers reorder only by the
#: moment between the two (microseconds; a descheduled backend, a few milliseconds). One second
#: absorbs that many times over, and a clock stepped back by less (NTP slews, and steps only
#: large offsets); backdating an event by under a second proves nothing.
CLOCK_TOLERANCE = timedelta(seconds=1)

#: Names what a head's signature covers, so it can never be read as another statement.
HEAD_KIND = "registry-audit-block-head/1"


@dataclass(frozen=True, slots=True)
class BlockHead:
    """What the application signs of a block: enough to name it, place it in the chain and
    check it against the events (the digest covers them, and the previous block)."""

    block_id: int
    first_event_id: int
    last_event_id: int
    event_count: int
    previous_digest: bytes | None
    digest: bytes
    sealed_at: datetime
    #: The first event whose id and time the database assigned (``audit_event_ids``' start):
    #: time order is checked from there on, so it is signed with every head.
    assigned_from_event_id: int

    def message(self) -> bytes:
        """The signed bytes: canonical JSON (sorted keys, no spaces), digests in hex."""
        return orjson.dumps(
            {
                "assigned_from_event_id": self.assigned_from_event_id,
                "block_id": self.block_id,
                "digest": self.digest.hex(),
                "event_count": self.event_count,
                "first_event_id": self.first_event_id,
                "kind": HEAD_KIND,
                "last_event_id": self.last_event_id,
                "previous_digest": self.previous_digest.hex() if self.previous_digest else None,
                "sealed_at": self.sealed_at.isoformat(),
            },
            option=orjson.OPT_SORT_KEYS,
        )


class EventClock:
    """Walks events in id order from ``assigned_from`` on and names each whose time lags
    behind an earlier event's by more than ``CLOCK_TOLERANCE``: it was written later than
    its id claims, or backdated."""

    def __init__(self, assigned_from: int) -> None:
        self._assigned_from = assigned_from
        self._latest: tuple[int, datetime] | None = None

    def lag(self, event_id: int, occurred_at: datetime) -> str | None:
        if event_id < self._assigned_from:
            return None
        latest = self._latest
        if latest is None or occurred_at > latest[1]:
            self._latest = (event_id, occurred_at)
        if latest is not None and latest[1] - occurred_at > CLOCK_TOLERANCE:
            behind = (latest[1] - occurred_at).total_seconds()
            return (
                f"event {event_id}: occurred_at is {behind:.3f} s before that of event "
                f"{latest[0]}, an earlier id (written out of order or backdated)"
            )
        return None


_HEX_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True, slots=True)
class KeptHead:
    """A head an auditor kept: the digest at least; from a saved ``GET /audit-head`` answer
    also the block id and the signature to check it with."""

    digest: bytes
    block_id: int | None = None
    signed: bytes | None = None
    signature: bytes | None = None
    key_id: str | None = None


def is_hex_digest(text: str) -> bool:
    return bool(_HEX_DIGEST.match(text.strip()))


def kept_head(text: str) -> KeptHead:
    """A head from a hex digest or from the JSON ``GET /audit-head`` answered; ValueError
    names what is wrong with it."""
    if is_hex_digest(text):
        return KeptHead(bytes.fromhex(text.strip()))
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"neither a hex SHA-256 digest nor JSON: {error}") from None
    if not isinstance(document, dict):
        raise ValueError("the head is not a JSON object")
    digest = document.get("digest")
    if not isinstance(digest, str) or not is_hex_digest(digest):
        raise ValueError("the head has no hex SHA-256 'digest'")
    block_id = document.get("block_id")
    if not isinstance(block_id, int) or isinstance(block_id, bool):
        block_id = None
    signed, signature, key_id = (document.get(k) for k in ("signed", "signature", "key_id"))
    if not (isinstance(signed, str) and isinstance(signature, str) and isinstance(key_id, str)):
        return KeptHead(bytes.fromhex(digest), block_id)
    try:
        raw_signature = base64.b64decode(signature, validate=True)
        statement = orjson.loads(signed)
    except (binascii.Error, orjson.JSONDecodeError):
        raise ValueError("the head's 'signature' is not base64 or 'signed' not JSON") from None
    if (
        not isinstance(statement, dict)
        or statement.get("digest") != digest.lower()
        or statement.get("block_id") != block_id
    ):
        raise ValueError("the head's digest and block_id are not the ones it signs")
    return KeptHead(bytes.fromhex(digest), block_id, signed.encode(), raw_signature, key_id)
