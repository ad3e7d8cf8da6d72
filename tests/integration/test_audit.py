"""The audit log: append-only in the database, sealed into a hash chain, verified, read by
auditors over HTTP (and that read, or a refusal of it, is itself recorded)."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, insert, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.auth.audit_keys import AuditKeyRing, AuditSigner
from registry.auth.principal import Principal
from registry.auth.roles import Role
from registry.db.engine import Database
from registry.domain.audit.commands import event_values, record, seal
from registry.domain.audit.queries import VerificationReport, verify
from registry.domain.audit.rules import SEALED_COLUMNS as _EVENT_COLUMNS
from registry.domain.audit.rules import KeptHead, block_digest
from registry.domain.audit.tables import AuditEvent
from registry.domain.shared.caller import Caller
from registry.settings import get_settings
from tests.support import IDENTIFIER_KEYS, PROBLEM_JSON, bearer, run_cli

EVENTS = "/api/v1/audit-events"


# --- helpers -------------------------------------------------------------------------------


def caller(sub: str = "writer", role: Role = Role.SOCIAL_WORKER) -> Caller:
    return Caller(
        Principal(sub=sub, role=role),
        request_id=f"req-{uuid.uuid4().hex[:8]}",
        purpose="testing",
        keys=IDENTIFIER_KEYS,
    )


@pytest.fixture
async def fresh_db(fresh_database_url: str) -> AsyncIterator[Database]:
    db = Database.connect(fresh_database_url, pool_size=3, max_overflow=3)
    try:
        yield db
    finally:
        await db.dispose()


async def write_committed(db: Database, count: int, sub: str = "writer") -> list[int]:
    """``count`` events, each in a transaction of its own, committed; their ids."""
    ids = []
    for _ in range(count):
        async with db.transaction() as session:
            await record(session, caller(sub), "read", "family", [uuid.uuid4()])
            ids.append(await session.scalar(text("SELECT max(id) FROM audit_events")))
    return ids


SETTLE_SECONDS = 20.0


async def wait_settled(db: Database, ids: list[int]) -> None:
    """Wait until the sealer's horizon has passed ``ids``: no transaction still running in
    this database can commit an event below them (the fence of migration 0008)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        async with db.transaction() as session:
            horizon = await session.scalar(text("SELECT audit_seal_horizon()"))
        if horizon >= max(ids):
            return
        assert time.monotonic() < deadline, f"events {ids} never settled"
        await asyncio.sleep(0.1)


#: The application's audit signing key in these tests, and the keys verify trusts.
SIGNER = AuditSigner(Ed25519PrivateKey.generate())
KEYS = AuditKeyRing.of(SIGNER.public_key)


def use_audit_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``registry audit`` signs and verifies with ``SIGNER``."""
    path = tmp_path / "audit-signing-key.pem"
    path.write_bytes(
        SIGNER.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv("REGISTRY_AUDIT_SIGNING_KEY_FILE", str(path))
    get_settings.cache_clear()
    return path


@pytest.fixture
def audit_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_audit_key_file(tmp_path, monkeypatch)


async def seal_once(db: Database, block_size: int = 1000) -> int:
    async with db.transaction() as session:
        return await seal(session, block_size, SIGNER)


async def verify_db(db: Database, head: KeptHead | None = None) -> VerificationReport:
    async with db.transaction() as session:
        return await verify(session, KEYS, head)


async def block_ids_of(db: Database, ids: list[int]) -> dict[int, int | None]:
    async with db.transaction() as session:
        rows = await session.execute(
            text("SELECT id, block_id FROM audit_events WHERE id = ANY(:ids)"), {"ids": ids}
        )
        return {row.id: row.block_id for row in rows}


async def blocks(db: Database) -> list[dict[str, object]]:
    async with db.transaction() as session:
        rows = await session.execute(text("SELECT * FROM audit_blocks ORDER BY id"))
        return [dict(row) for row in rows.mappings()]


async def as_attacker(db: Database, sql: str, params: dict[str, object] | None = None) -> None:
    """A superuser with triggers switched off (``session_replication_role = replica``)."""
    async with db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text(sql), params or {})


async def sealed_chain(db: Database) -> tuple[list[int], list[int]]:
    """Two sealed blocks of three and two events; the event ids of each."""
    first = await write_committed(db, 3)
    await wait_settled(db, first)
    assert await seal_once(db) == 3
    second = await write_committed(db, 2)
    await wait_settled(db, second)
    assert await seal_once(db) == 2
    return first, second


# --- append-only, enforced by the database -------------------------------------------------


async def _sealed_and_unsealed(db: Database) -> dict[str, int]:
    """Two events sealed into a block (by seal(): the one change the trigger allows is its
    stamping of unsealed events with their block), and one event not yet sealed."""
    sealed = await write_committed(db, 2)
    await wait_settled(db, sealed)
    assert await seal_once(db) == 2
    (block,) = await blocks(db)
    assert set((await block_ids_of(db, sealed)).values()) == {block["id"]}
    (unsealed,) = await write_committed(db, 1)
    return {"sealed": sealed[0], "unsealed": unsealed, "block": block["id"]}


async def _assert_refused(
    db: Database, table: str, attempts: list[str], ids: dict[str, int]
) -> None:
    before_events = await _all_rows(db, "audit_events")
    before_blocks = await _all_rows(db, "audit_blocks")
    for sql in attempts:
        with pytest.raises(DBAPIError) as refused:
            async with db.engine.begin() as conn:
                await conn.execute(text(sql), ids)
        message = str(refused.value)
        assert f"{table} is append-only" in message, (sql, message)
        assert refused.value.orig.sqlstate == "42501", sql  # insufficient_privilege
    assert await _all_rows(db, "audit_events") == before_events
    assert await _all_rows(db, "audit_blocks") == before_blocks
    assert (await verify_db(db)).intact


async def test_database_refuses_changes_to_audit_events(fresh_db):
    ids = await _sealed_and_unsealed(fresh_db)
    await _assert_refused(
        fresh_db,
        "audit_events",
        [
            "UPDATE audit_events SET actor = 'mallory' WHERE id = :sealed",
            "UPDATE audit_events SET actor = 'mallory' WHERE id = :unsealed",
            "UPDATE audit_events SET occurred_at = now() - interval '1 day' WHERE id = :unsealed",
            "UPDATE audit_events SET block_id = NULL WHERE id = :sealed",
            "UPDATE audit_events SET block_id = block_id WHERE id = :sealed",
            # stamping is allowed only with every other column unchanged
            "UPDATE audit_events SET block_id = :block, outcome = 'denied' WHERE id = :unsealed",
            "DELETE FROM audit_events WHERE id = :sealed",
            "DELETE FROM audit_events WHERE id = :unsealed",
            "TRUNCATE audit_events",
        ],
        ids,
    )


async def test_database_refuses_changes_to_audit_blocks(fresh_db):
    ids = await _sealed_and_unsealed(fresh_db)
    await _assert_refused(
        fresh_db,
        "audit_blocks",
        [
            "UPDATE audit_blocks SET digest = '\\x00'::bytea WHERE id = :block",
            "UPDATE audit_blocks SET event_count = 1 WHERE id = :block",
            "DELETE FROM audit_blocks WHERE id = :block",
            "TRUNCATE audit_blocks CASCADE",
        ],
        ids,
    )


async def _all_rows(db: Database, table: str) -> list[tuple[object, ...]]:
    async with db.transaction() as session:
        return [
            tuple(row) for row in await session.execute(text(f"SELECT * FROM {table} ORDER BY id"))
        ]


async def test_refusal_inside_a_transaction_rolls_it_back(connection):
    """The refusal is an error, not a silently skipped row: nothing of the statement lands."""
    session = Database.bound_to(connection).session()
    await record(session, caller("refused-writer"), "read", "family", ["x"])
    await session.flush()
    with pytest.raises(DBAPIError, match="append-only"):
        async with connection.begin_nested():
            await connection.execute(
                text("UPDATE audit_events SET actor = 'mallory' WHERE actor = 'refused-writer'")
            )
    actors = (
        (
            await connection.execute(
                text("SELECT actor FROM audit_events WHERE actor IN ('refused-writer', 'mallory')")
            )
        )
        .scalars()
        .all()
    )
    assert actors == ["refused-writer"]
    await session.close()


# --- sealing -------------------------------------------------------------------------------


async def test_seal_blocks_chain_and_nothing_new_seals_nothing(fresh_db):
    assert await seal_once(fresh_db) == 0  # an empty log
    assert await blocks(fresh_db) == []

    first = await write_committed(fresh_db, 3)
    await wait_settled(fresh_db, first)
    assert await seal_once(fresh_db) == 3
    assert await seal_once(fresh_db) == 0  # nothing new
    (block1,) = await blocks(fresh_db)
    assert block1["previous_digest"] is None
    assert (block1["first_event_id"], block1["last_event_id"], block1["event_count"]) == (
        first[0],
        first[-1],
        3,
    )
    assert len(block1["digest"]) == 32
    assert set((await block_ids_of(fresh_db, first)).values()) == {block1["id"]}

    second = await write_committed(fresh_db, 2)
    await wait_settled(fresh_db, second)
    assert await seal_once(fresh_db) == 2
    assert await seal_once(fresh_db) == 0
    block1_again, block2 = await blocks(fresh_db)
    assert block1_again == block1  # the first block is untouched
    assert block2["previous_digest"] == block1["digest"]
    assert block2["digest"] != block1["digest"]
    assert (block2["first_event_id"], block2["last_event_id"], block2["event_count"]) == (
        second[0],
        second[-1],
        2,
    )
    assert set((await block_ids_of(fresh_db, second)).values()) == {block2["id"]}

    report = await verify_db(fresh_db)
    assert report.intact
    assert (report.blocks, report.events) == (2, 5)
    assert report.head_digest == block2["digest"].hex()


async def test_seal_respects_block_size(fresh_db):
    ids = await write_committed(fresh_db, 5)
    await wait_settled(fresh_db, ids)
    assert await seal_once(fresh_db, block_size=2) == 2
    assert await seal_once(fresh_db, block_size=2) == 2
    assert await seal_once(fresh_db, block_size=2) == 1
    assert await seal_once(fresh_db, block_size=2) == 0
    sealed = await blocks(fresh_db)
    assert [(b["first_event_id"], b["last_event_id"]) for b in sealed] == [
        (ids[0], ids[1]),
        (ids[2], ids[3]),
        (ids[4], ids[4]),
    ]
    report = await verify_db(fresh_db)
    assert report.intact
    assert (report.blocks, report.events) == (3, 5)


async def test_event_of_an_open_transaction_waits_until_it_commits(fresh_db):
    (early,) = await write_committed(fresh_db, 1)

    open_session = fresh_db.session()  # a second connection, its transaction left open
    try:
        await record(open_session, caller("slow-writer"), "update", "case", ["c-1"])
        pending = await open_session.scalar(
            text("SELECT id FROM audit_events WHERE actor = 'slow-writer'")
        )
        # committed after the open transaction began writing: it could still precede it
        (late,) = await write_committed(fresh_db, 1)

        await wait_settled(fresh_db, [early])
        assert await seal_once(fresh_db) == 1
        state = await block_ids_of(fresh_db, [early, late])
        assert state[early] is not None
        assert state[late] is None
        assert await seal_once(fresh_db) == 0  # still open: still nothing to seal

        await open_session.commit()
    finally:
        await open_session.close()

    await wait_settled(fresh_db, [pending, late])
    assert await seal_once(fresh_db) == 2
    state = await block_ids_of(fresh_db, [early, pending, late])
    assert None not in state.values()
    assert state[pending] == state[late] != state[early]
    report = await verify_db(fresh_db)
    assert report.intact
    assert (report.blocks, report.events) == (2, 3)


async def test_rolled_back_event_is_never_sealed(fresh_db):
    session = fresh_db.session()
    await record(session, caller("ghost"), "read", "family", ["g"])
    await session.rollback()
    await session.close()
    ids = await write_committed(fresh_db, 1)
    await wait_settled(fresh_db, ids)
    assert await seal_once(fresh_db) == 1
    report = await verify_db(fresh_db)
    assert report.intact
    assert report.events == 1


# --- verification against a superuser attacker ---------------------------------------------


async def _edit_actor(db: Database, first: list[int], second: list[int]) -> None:
    await as_attacker(
        db, "UPDATE audit_events SET actor = 'someone-else' WHERE id = :id", {"id": first[1]}
    )


async def _delete_event(db: Database, first: list[int], second: list[int]) -> None:
    await as_attacker(db, "DELETE FROM audit_events WHERE id = :id", {"id": first[1]})


async def _insert_into_block(db: Database, first: list[int], second: list[int]) -> None:
    block_id = await _block_of(db, first[0])
    values = event_values(caller("forger"), "read", "family", ["f"])
    async with db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        # with the triggers off, nothing numbers or times the event: the forger does
        await conn.execute(
            insert(AuditEvent).values(
                **values,
                id=func.nextval("audit_event_ids"),
                occurred_at=func.clock_timestamp(),
                block_id=block_id,
            )
        )


async def _stamp_into_old_block(db: Database, first: list[int], second: list[int]) -> None:
    """No superuser needed: the trigger lets anyone stamp an unsealed event with a block."""
    (unsealed,) = await write_committed(db, 1, sub="forger")
    async with db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE audit_events SET block_id = :b WHERE id = :id"),
            {"b": await _block_of(db, first[0]), "id": unsealed},
        )


async def _block_of(db: Database, event_id: int) -> int:
    block_id = (await block_ids_of(db, [event_id]))[event_id]
    assert block_id is not None
    return block_id


Tampering = Callable[[Database, list[int], list[int]], Awaitable[None]]
TAMPERING: dict[str, Tampering] = {
    "edit-actor": _edit_actor,
    "delete-event": _delete_event,
    "insert-into-block": _insert_into_block,
    "stamp-into-old-block": _stamp_into_old_block,
}


@pytest.mark.parametrize("tampering", list(TAMPERING))
async def test_verify_names_the_tampered_block(fresh_db, tampering):
    first, second = await sealed_chain(fresh_db)
    report = await verify_db(fresh_db)
    assert report.intact, report.problems
    assert (report.blocks, report.events) == (2, 5)
    head = report.head_digest
    block1 = await _block_of(fresh_db, first[0])
    block2 = await _block_of(fresh_db, second[0])

    await TAMPERING[tampering](fresh_db, first, second)

    report = await verify_db(fresh_db)
    assert not report.intact
    assert report.as_dict()["intact"] is False
    assert report.problems
    # every problem is about the first block; the second still chains to its stored digest
    assert all(p.startswith(f"block {block1}:") for p in report.problems), report.problems
    assert not any(p.startswith(f"block {block2}:") for p in report.problems)
    assert report.head_digest == head
    if tampering == "edit-actor":
        assert report.problems == [f"block {block1}: digest differs (events edited)"]
    else:
        found = 2 if tampering == "delete-event" else 4
        assert f"block {block1}: events added or removed ({found} found, 3 sealed)" in (
            report.problems
        )


async def test_verify_names_events_stamped_with_a_block_that_is_not_there(fresh_db):
    """A block's events are read by its id range; the one pass over every event counts what
    names each block, so an event stamped with no real block (foreign keys off) is named."""
    await sealed_chain(fresh_db)
    (unsealed,) = await write_committed(fresh_db, 1, sub="forger")
    async with fresh_db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(
            text("UPDATE audit_events SET block_id = 999 WHERE id = :id"), {"id": unsealed}
        )
    report = await verify_db(fresh_db)
    assert report.problems == ["1 event(s) stamped with block 999, which is not there"]
    assert (report.blocks, report.events) == (2, 5)


async def test_verify_detects_a_rewritten_block_digest(fresh_db):
    first, second = await sealed_chain(fresh_db)
    block1 = await _block_of(fresh_db, first[0])
    block2 = await _block_of(fresh_db, second[0])
    # The attacker edits an event and re-digests its block to match: the next block's link
    # to it breaks.
    await as_attacker(
        fresh_db, "UPDATE audit_events SET actor = 'someone-else' WHERE id = :id", {"id": first[0]}
    )
    async with fresh_db.transaction() as session:
        events = list(
            (
                await session.execute(
                    text(
                        f"SELECT {_EVENT_COLUMNS} FROM audit_events WHERE block_id = :b ORDER BY id"
                    ),
                    {"b": block1},
                )
            ).mappings()
        )
    await as_attacker(
        fresh_db,
        "UPDATE audit_blocks SET digest = :d WHERE id = :b",
        {"d": block_digest(None, events), "b": block1},
    )
    report = await verify_db(fresh_db)
    # and without the application's key, the rewritten head's signature no longer verifies
    assert report.problems == [
        f"block {block1}: signature does not verify (its head was rewritten without the key)",
        f"block {block2}: chain broken (previous digest differs)",
    ]


# --- writers never wait ----------------------------------------------------------------------


#: Every read of personal data writes an event into each index of ``audit_events``, and the
#: sealer's stamp writes it again: each index is one a query uses (migration 0022).
AUDIT_EVENT_INDEXES = {
    # keyset pages; the sealer's and verify's id ranges (a block's events)
    "pk_audit_events": "USING btree (id)",
    # the auditor's filter by actor, in id order
    "ix_audit_events_actor_id": "USING btree (actor, id)",
    # the auditor's since/until: times follow ids, so the table's order
    "ix_audit_events_occurred_at": "USING brin (occurred_at) WITH (autosummarize='on')",
    # the auditor's filter by a record's id
    "ix_audit_events_resource_ids": "USING gin (resource_ids)",
    # the sealer's next block: only the unsealed tail
    "ix_audit_events_unsealed": "USING btree (id) WHERE (block_id IS NULL)",
}


async def test_each_index_of_audit_events_serves_a_query(connection):
    rows = await connection.execute(
        text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_events'")
    )
    found = {name: definition.split(" ON public.audit_events ", 1)[1] for name, definition in rows}
    assert found == AUDIT_EVENT_INDEXES


async def test_concurrent_writers_and_the_sealer_never_wait(fresh_db):
    first = fresh_db.session()
    second = fresh_db.session()
    try:
        await record(first, caller("writer-a"), "update", "family", ["a"])
        await first.flush()
        # the first transaction holds its insert uncommitted; the second is not held up
        await asyncio.wait_for(
            record(second, caller("writer-b"), "update", "family", ["b"]), timeout=3
        )
        await asyncio.wait_for(
            record(first, caller("writer-a"), "update", "family", ["a2"]), timeout=3
        )
        # neither is the sealer: it skips what is still in flight
        assert await asyncio.wait_for(seal_once(fresh_db), timeout=3) == 0
        await asyncio.wait_for(second.commit(), timeout=3)
        await asyncio.wait_for(first.commit(), timeout=3)
    finally:
        await first.close()
        await second.close()
    async with fresh_db.transaction() as session:
        actors = (
            (await session.execute(text("SELECT actor FROM audit_events ORDER BY id")))
            .scalars()
            .all()
        )
    assert sorted(actors) == ["writer-a", "writer-a", "writer-b"]


# --- the CLI ---------------------------------------------------------------------------------


async def test_cli_verify_exit_code(fresh_db, cli_database, audit_key_file, capsys):
    first, _ = await sealed_chain(fresh_db)
    assert await asyncio.to_thread(run_cli, "audit", "verify") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["intact"] is True
    assert (report["blocks"], report["events"]) == (2, 5)

    await as_attacker(
        fresh_db, "UPDATE audit_events SET purpose = 'other' WHERE id = :id", {"id": first[2]}
    )
    assert await asyncio.to_thread(run_cli, "audit", "verify") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["intact"] is False
    block1 = await _block_of(fresh_db, first[0])
    assert report["problems"] == [f"block {block1}: digest differs (events edited)"]


async def test_cli_seal_then_verify(fresh_db, cli_database, audit_key_file, monkeypatch, capsys):
    ids = await write_committed(fresh_db, 3)
    await wait_settled(fresh_db, ids)
    monkeypatch.setenv("REGISTRY_AUDIT_SEAL_BLOCK_SIZE", "2")
    get_settings.cache_clear()
    assert await asyncio.to_thread(run_cli, "audit", "seal") == 0
    assert json.loads(capsys.readouterr().out) == {"sealed": 3}
    assert await asyncio.to_thread(run_cli, "audit", "verify") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["intact"], report["blocks"], report["events"]) == (True, 2, 3)


# --- HTTP: reading the log -------------------------------------------------------------------


async def _write(
    connection: AsyncConnection,
    sub: str,
    resource_ids: list[str],
    occurred_at: datetime | None = None,
) -> int:
    async with Database.bound_to(connection).transaction() as session:
        if occurred_at is None:
            await record(session, caller(sub), "read", "family", resource_ids)
        else:
            # The database times every event; only a superuser with triggers off writes one
            # from another time (in this rolled-back transaction).
            await session.execute(text("SET LOCAL session_replication_role = replica"))
            await session.execute(
                insert(AuditEvent).values(
                    **event_values(caller(sub), "read", "family", resource_ids),
                    id=func.nextval("audit_event_ids"),
                    occurred_at=occurred_at,
                )
            )
            await session.execute(text("SET LOCAL session_replication_role = origin"))
        return await session.scalar(text("SELECT max(id) FROM audit_events"))


def _auditor(make_token, sub: str = "auditor-1") -> dict[str, str]:
    return bearer(make_token("auditor", sub=sub))


async def test_auditor_lists_events_and_the_read_is_recorded(client, connection, make_token):
    writer = f"writer-{uuid.uuid4().hex[:8]}"
    auditor = f"auditor-{uuid.uuid4().hex[:8]}"
    ids = [
        await _write(connection, writer, ["fam-1", "fam-2"]),
        await _write(connection, writer, ["fam-3"]),
    ]

    response = await client.get(
        EVENTS,
        params={"actor": writer},
        headers={**_auditor(make_token, auditor), "X-Purpose": "review"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["id"] for item in body["items"]] == ids
    assert body["next_cursor"] is None
    assert "Link" not in response.headers
    item = body["items"][0]
    assert item["actor"] == writer
    assert item["role"] == "social_worker"
    assert item["action"] == "read"
    assert item["resource_type"] == "family"
    assert item["resource_ids"] == ["fam-1", "fam-2"]
    assert item["purpose"] == "testing"
    assert item["outcome"] == "success"
    assert item["block_id"] is None
    assert item["request_id"].startswith("req-")
    assert datetime.fromisoformat(item["occurred_at"]).tzinfo is not None

    recorded = (
        (
            await connection.execute(
                text(
                    "SELECT role, action, resource_type, resource_ids, outcome, purpose, "
                    "request_id "
                    "FROM audit_events WHERE actor = :a"
                ),
                {"a": auditor},
            )
        )
        .mappings()
        .all()
    )
    assert len(recorded) == 1
    read = recorded[0]
    assert (read["role"], read["action"], read["resource_type"], read["outcome"]) == (
        "auditor",
        "list",
        "audit_event",
        "success",
    )
    assert read["resource_ids"] == [str(i) for i in ids]
    assert read["purpose"] == "review"
    assert read["request_id"] == response.headers["x-request-id"]

    # and that recorded read is itself listed to the next reader
    again = await client.get(
        EVENTS, params={"actor": auditor}, headers=_auditor(make_token, "auditor-2")
    )
    assert [i["action"] for i in again.json()["items"]] == ["list"]


async def test_filters(client, connection, make_token):
    writer = f"writer-{uuid.uuid4().hex[:8]}"
    other = f"other-{uuid.uuid4().hex[:8]}"
    t1 = datetime(2021, 1, 1, tzinfo=UTC)
    t2 = datetime(2021, 6, 1, tzinfo=UTC)
    t3 = datetime(2022, 1, 1, tzinfo=UTC)
    e1 = await _write(connection, writer, ["r-a", "r-shared"], t1)
    e2 = await _write(connection, writer, ["r-b"], t2)
    e3 = await _write(connection, writer, ["r-c", "r-shared"], t3)
    e4 = await _write(connection, other, ["r-shared"], t2)
    headers = _auditor(make_token)

    async def ids(**params: str) -> list[int]:
        response = await client.get(EVENTS, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids(actor=writer) == [e1, e2, e3]
    assert await ids(actor=other) == [e4]
    assert await ids(actor="nobody-at-all") == []
    assert await ids(resource_id="r-b") == [e2]
    assert await ids(resource_id="r-shared") == [e1, e3, e4]
    assert await ids(resource_id="r-shared", actor=writer) == [e1, e3]
    assert await ids(resource_id="r-") == []  # an exact id, not a prefix
    # since is inclusive, until exclusive; offsets are honoured
    assert await ids(actor=writer, since=t2.isoformat()) == [e2, e3]
    assert await ids(actor=writer, since="2021-06-01T03:00:00+03:00") == [e2, e3]
    assert await ids(actor=writer, since="2021-06-01T00:00:00.000001Z") == [e3]
    assert await ids(actor=writer, until=t2.isoformat()) == [e1]
    assert await ids(actor=writer, until="2021-06-01T00:00:00.000001Z") == [e1, e2]
    assert await ids(actor=writer, since=t1.isoformat(), until=t3.isoformat()) == [e1, e2]
    assert await ids(since=t2.isoformat(), until=t3.isoformat(), resource_id="r-shared") == [e4]


async def test_pagination(client, connection, make_token):
    writer = f"writer-{uuid.uuid4().hex[:8]}"
    ids = [await _write(connection, writer, [f"r-{n}"]) for n in range(3)]
    headers = _auditor(make_token)

    first = await client.get(EVENTS, params={"actor": writer, "limit": 1}, headers=headers)
    assert first.status_code == 200
    page1 = first.json()
    assert [i["id"] for i in page1["items"]] == [ids[0]]
    cursor = page1["next_cursor"]
    assert cursor
    link = first.headers["Link"]
    assert link.endswith('; rel="next"')
    assert f"cursor={cursor}" in link
    assert f"actor={writer}" in link
    next_url = re.fullmatch(r"<([^>]+)>; rel=\"next\"", link).group(1)  # type: ignore[union-attr]
    assert next_url.startswith(EVENTS + "?")

    second = await client.get(next_url, headers=headers)
    assert second.status_code == 200
    page2 = second.json()
    assert [i["id"] for i in page2["items"]] == [ids[1]]
    assert page2["items"] != page1["items"]
    same = await client.get(
        EVENTS, params={"actor": writer, "limit": 1, "cursor": cursor}, headers=headers
    )
    assert same.json()["items"] == page2["items"]

    last = await client.get(
        EVENTS,
        params={"actor": writer, "limit": 1, "cursor": page2["next_cursor"]},
        headers=headers,
    )
    page3 = last.json()
    assert [i["id"] for i in page3["items"]] == [ids[2]]
    assert page3["next_cursor"] is None
    assert "Link" not in last.headers

    # each page read recorded exactly the ids it returned
    reads = (
        (
            await connection.execute(
                text(
                    "SELECT resource_ids FROM audit_events WHERE actor = 'auditor-1' "
                    "AND action = 'list' ORDER BY id"
                )
            )
        )
        .scalars()
        .all()
    )
    assert reads[-4:] == [[str(ids[0])], [str(ids[1])], [str(ids[1])], [str(ids[2])]]


async def test_non_auditor_is_refused_and_the_refusal_recorded(client, connection, make_token):
    sub = f"admin-{uuid.uuid4().hex[:8]}"
    response = await client.get(
        EVENTS, headers={**bearer(make_token("ministry_admin", sub=sub)), "X-Purpose": "curiosity"}
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == 403
    assert problem["type"].endswith(":forbidden")

    denied = (
        (
            await connection.execute(
                text(
                    "SELECT role, action, resource_type, outcome, purpose, request_id "
                    "FROM audit_events WHERE actor = :s"
                ),
                {"s": sub},
            )
        )
        .mappings()
        .all()
    )
    assert len(denied) == 1
    event = denied[0]
    assert (event["role"], event["outcome"], event["purpose"]) == (
        "ministry_admin",
        "denied",
        "curiosity",
    )
    assert event["action"] == "list_audit_events"
    assert event["resource_type"] == "audit_event"  # as the auditor's own reads are named
    assert event["request_id"] == response.headers["x-request-id"]
    # and nothing was listed on its behalf
    listed = await connection.scalar(
        text("SELECT count(*) FROM audit_events WHERE actor = :s AND outcome = 'success'"),
        {"s": sub},
    )
    assert listed == 0


@pytest.mark.parametrize("role", ["ministry_analyst", "ministry_admin"])
async def test_other_roles_are_refused(client, make_token, role):
    response = await client.get(EVENTS, headers=bearer(make_token(role)))
    assert response.status_code == 403


async def test_unauthenticated_is_401(client):
    response = await client.get(EVENTS)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_JSON


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64-json",  # decodes to bytes that are not JSON
        "W10",  # []
        "eyJhIjoxfQ",  # {"a": 1}
        "WyJhYmMiXQ",  # ["abc"]: not an event id
        "WzEsMl0",  # [1, 2]: too many keys
        "WzEuNV0",  # [1.5]
        "a+b",  # outside the cursor alphabet
    ],
)
async def test_bad_cursor_is_422(client, make_token, cursor):
    response = await client.get(EVENTS, params={"cursor": cursor}, headers=_auditor(make_token))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == 422
    assert any(e["field"] == "query.cursor" for e in problem["errors"]), problem


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("since", "2024-01-01T00:00:00"),
        ("until", "2024-01-01T00:00:00"),
        ("since", "yesterday"),
        ("limit", "0"),
        ("limit", "201"),
    ],
)
async def test_invalid_query_is_422(client, make_token, name, value):
    response = await client.get(EVENTS, params={name: value}, headers=_auditor(make_token))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert any(e["field"] == f"query.{name}" for e in problem["errors"]), problem


async def test_a_cursor_past_the_bigint_range_is_invalid_input(client, make_token):
    # base64url of ["99999999999999999999999"]: an int the database cannot hold
    response = await client.get(
        "/api/v1/audit-events",
        params={"cursor": "WyI5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OSJd"},
        headers=bearer(make_token("auditor")),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.cursor"
