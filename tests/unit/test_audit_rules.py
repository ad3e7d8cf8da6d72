"""The audit log's pure rules: the bytes a block head's signature covers (fixed, like the
digest: every signed block in every deployment is checked against them), the order of event
times, and the heads an auditor hands to ``registry audit verify --head``."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from registry.domain.audit.rules import (
    CLOCK_TOLERANCE,
    BlockHead,
    EventClock,
    KeptHead,
    kept_head,
)

HEAD = BlockHead(
    block_id=7,
    first_event_id=101,
    last_event_id=150,
    event_count=50,
    previous_digest=bytes.fromhex("ab" * 32),
    digest=bytes.fromhex("cd" * 32),
    sealed_at=datetime(2026, 12, 5, 10, 30, 0, 123456, tzinfo=UTC),
    assigned_from_event_id=42,
)


def test_the_signed_head_is_canonical_json_byte_for_byte() -> None:
    assert HEAD.message() == (
        b'{"assigned_from_event_id":42,"block_id":7,"digest":"' + b"cd" * 32 + b'",'
        b'"event_count":50,"first_event_id":101,"kind":"registry-audit-block-head/1",'
        b'"last_event_id":150,"previous_digest":"' + b"ab" * 32 + b'",'
        b'"sealed_at":"2026-12-05T10:30:00.123456+00:00"}'
    )


def test_a_first_block_signs_a_null_previous_digest() -> None:
    first = BlockHead(
        block_id=1,
        first_event_id=1,
        last_event_id=1,
        event_count=1,
        previous_digest=None,
        digest=HEAD.digest,
        sealed_at=HEAD.sealed_at,
        assigned_from_event_id=1,
    )
    assert json.loads(first.message())["previous_digest"] is None


def test_event_times_may_lag_by_the_tolerance_and_no_more() -> None:
    start = datetime(2026, 12, 5, tzinfo=UTC)
    clock = EventClock(assigned_from=10)
    assert clock.lag(5, start + timedelta(days=1)) is None  # before the database's numbering
    assert clock.lag(10, start) is None
    assert clock.lag(11, start + timedelta(seconds=5)) is None
    assert clock.lag(12, start + timedelta(seconds=5) - CLOCK_TOLERANCE) is None
    assert clock.lag(13, start + timedelta(seconds=6)) is None
    # measured against the latest time of any earlier id, not only the previous one
    assert clock.lag(14, start + timedelta(seconds=5, microseconds=-1)) == (
        "event 14: occurred_at is 1.000 s before that of event 13, an earlier id "
        "(written out of order or backdated)"
    )
    assert clock.lag(15, start) is not None
    assert clock.lag(16, start + timedelta(seconds=6)) is None


def _served(**changes: object) -> str:
    head = {
        "block_id": HEAD.block_id,
        "digest": HEAD.digest.hex(),
        "signed": HEAD.message().decode(),
        "signature": base64.b64encode(b"s" * 64).decode(),
        "key_id": "k" * 64,
        **changes,
    }
    return json.dumps(head)


def test_a_kept_head_from_a_digest_or_a_saved_answer() -> None:
    assert kept_head(" " + "CD" * 32 + "\n") == KeptHead(HEAD.digest)
    assert kept_head(_served()) == KeptHead(
        HEAD.digest, HEAD.block_id, HEAD.message(), b"s" * 64, "k" * 64
    )
    # without a signature it is a digest (and a block id) to look for
    assert kept_head(json.dumps({"digest": HEAD.digest.hex(), "block_id": 7})) == KeptHead(
        HEAD.digest, 7
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cd" * 31, "neither a hex SHA-256 digest nor JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"digest": "xyz"}', "no hex SHA-256 'digest'"),
        (_served(signature="not base64!"), "'signature' is not base64"),
        (_served(digest="00" * 32), "not the ones it signs"),
        (_served(block_id=8), "not the ones it signs"),
    ],
)
def test_a_malformed_kept_head_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        kept_head(text)
