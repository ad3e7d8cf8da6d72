"""The audit trail as evidence: the database numbers and times every event and refuses an
INSERT that gives its own; the sealer never seals past a transaction still writing; verify
names every event out of order, every head rewritten without the application's key, and a
cut after a head an auditor kept; the newest signed head is served to auditors and logged."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from registry.auth.audit_keys import AuditKeys, AuditSigner, key_id_of
from registry.auth.tokens import TokenVerifier
from registry.db.engine import Database
from registry.db.migrate import upgrade
from registry.domain.audit.commands import record, seal
from registry.domain.audit.rules import (
    CLOCK_TOLERANCE,
    SEALED_COLUMNS,
    BlockHead,
    KeptHead,
    block_digest,
)
from registry.main import create_app
from registry.settings import Settings
from tests.integration.test_audit import (
    KEYS,
    SIGNER,
    _block_of,
    as_attacker,
    blocks,
    caller,
    seal_once,
    sealed_chain,
    use_audit_key_file,
    verify_db,
    write_committed,
)
from tests.support import (
    KYIV,
    PROBLEM_JSON,
    TokenFactory,
    bearer,
    create_database,
    drop_database,
)
from tests.support import run_cli as _run_cli

HEAD = "/api/v1/audit-head"
_WRITE = (
    "INSERT INTO audit_events ({columns}) VALUES ({values})",
    "actor, role, action, resource_type, resource_ids, outcome",
    "'forger', 'auditor', 'read', 'family', ARRAY['f'], 'success'",
)


@pytest.fixture
async def fresh_db(fresh_database_url: str) -> AsyncIterator[Database]:
    db = Database.connect(fresh_database_url, pool_size=3, max_overflow=3)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def audit_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_audit_key_file(tmp_path, monkeypatch)


async def run_cli(*argv: str) -> object:
    return await asyncio.to_thread(_run_cli, *argv)


def _insert(extra_columns: str = "", extra_values: str = "") -> str:
    sql, columns, values = _WRITE
    return sql.format(columns=extra_columns + columns, values=extra_values + values)


def _lag_of(problem: str) -> float:
    """The seconds a problem says an event's time lags behind an earlier id's."""
    found = re.search(r"occurred_at is ([0-9.]+) s before", problem)
    assert found, problem
    return float(found.group(1))


async def _rolled_back_id(db: Database) -> int:
    """An id handed out to a transaction that then rolled back: a gap in the numbering."""
    session = db.session()
    try:
        await record(session, caller("ghost"), "read", "family", ["g"])
        event_id: int = await session.scalar(text("SELECT max(id) FROM audit_events"))
        await session.rollback()
    finally:
        await session.close()
    return event_id


async def _forge(db: Database, event_id: int, days_ago: int) -> None:
    """As a superuser with triggers off: an event with ``event_id`` and a time of its
    choosing (the trigger would refuse both)."""
    await as_attacker(
        db,
        _insert("id, occurred_at, ", ":id, now() - make_interval(days => :days), "),
        {"id": event_id, "days": days_ago},
    )


# --- the database numbers and times events ----------------------------------------------


@pytest.mark.parametrize(
    ("columns", "values"),
    [
        ("id, ", "1000000, "),
        ("occurred_at, ", "now() - interval '1 day', "),
        ("occurred_at, ", "clock_timestamp(), "),
        ("id, occurred_at, ", "1000000, now(), "),
    ],
)
async def test_the_database_refuses_an_explicit_id_or_time(fresh_db, columns, values):
    (before,) = await write_committed(fresh_db, 1)
    sql = _insert(columns, values)
    with pytest.raises(DBAPIError) as refused:
        async with fresh_db.engine.begin() as conn:
            await conn.execute(text(sql))
    assert "the database assigns id and occurred_at" in str(refused.value)
    assert refused.value.orig.sqlstate == "42501"  # insufficient_privilege
    async with fresh_db.transaction() as session:
        rows = (await session.execute(text("SELECT id FROM audit_events"))).scalars().all()
    assert rows == [before]


async def test_an_event_cannot_be_written_into_a_block(fresh_db):
    first, _ = await sealed_chain(fresh_db)
    with pytest.raises(DBAPIError, match="written unsealed"):
        async with fresh_db.engine.begin() as conn:
            await conn.execute(
                text(_insert("block_id, ", ":b, ")), {"b": await _block_of(fresh_db, first[0])}
            )


async def test_id_and_time_are_taken_at_the_insert(fresh_db):
    """The time is the insert's (``clock_timestamp()``), not the transaction's start, so a
    long transaction's event is not dated before the events numbered ahead of it."""
    async with fresh_db.transaction() as session:
        started = await session.scalar(text("SELECT now()"))
        await session.execute(text("SELECT pg_sleep(0.2)"))
        await record(session, caller(), "read", "family", ["a"])
        await record(session, caller(), "read", "family", ["b"])
        events = (
            await session.execute(text("SELECT id, occurred_at FROM audit_events ORDER BY id"))
        ).all()
    assert [event.id for event in events] == [events[0].id, events[0].id + 1]
    assert events[0].occurred_at - started >= timedelta(seconds=0.2)
    assert events[0].occurred_at <= events[1].occurred_at


# --- the sealer keeps id order --------------------------------------------------------------


async def test_the_sealer_never_seals_past_an_event_still_in_flight(fresh_db):
    """A transaction that began writing first (its xid is older) but audits last, and one
    that audits first and stays open: sealing the first by its xid would leave the open one's
    event, with a lower id, for a later block. The fence holds the sealer below it."""
    early_writer = fresh_db.session()
    open_writer = fresh_db.session()
    try:
        await early_writer.execute(text("SELECT pg_current_xact_id()"))  # its xid, first
        await record(open_writer, caller("open"), "read", "family", ["o"])
        await open_writer.flush()
        pending = await open_writer.scalar(text("SELECT max(id) FROM audit_events"))
        await record(early_writer, caller("early"), "read", "family", ["e"])
        await early_writer.commit()

        assert await seal_once(fresh_db) == 0  # the committed event is above the open one's
        await open_writer.commit()
    finally:
        await early_writer.close()
        await open_writer.close()
    assert await seal_once(fresh_db) == 2
    (block,) = await blocks(fresh_db)
    assert (block["first_event_id"], block["event_count"]) == (pending, 2)
    assert (await verify_db(fresh_db)).intact


# --- verify names events out of order -------------------------------------------------------


async def test_a_forged_backdated_event_below_the_sealed_end_is_named(fresh_db):
    """A superuser (triggers off) slips an event into a gap of the sealed numbering, dated
    a day back: verify names it before it is sealed, and after the sealer has put it in
    the next block (kept there as evidence, with a warning)."""
    first = await write_committed(fresh_db, 2)
    gap = await _rolled_back_id(fresh_db)
    first += await write_committed(fresh_db, 2)
    assert await seal_once(fresh_db) == 4
    (block1,) = await blocks(fresh_db)
    assert (await verify_db(fresh_db)).intact

    await _forge(fresh_db, gap, days_ago=1)
    report = await verify_db(fresh_db)
    assert report.problems[0] == (
        f"event {gap}: unsealed below the sealed end (event {first[-1]}), written out of order"
    )
    assert report.problems[1].startswith(f"event {gap}: occurred_at is ")
    assert 86_000 < _lag_of(report.problems[1]) <= 86_400
    assert report.problems[1].endswith(
        f"before that of event {first[1]}, an earlier id (written out of order or backdated)"
    )
    assert len(report.problems) == 2

    later = await write_committed(fresh_db, 1)
    with structlog.testing.capture_logs() as entries:
        assert await seal_once(fresh_db) == 2
    warnings = [e for e in entries if e["event"] == "audit_events_out_of_order"]
    assert [w["event_ids"] for w in warnings] == [[gap]]
    _, block2 = await blocks(fresh_db)
    assert (block2["first_event_id"], block2["last_event_id"]) == (gap, later[0])

    report = await verify_db(fresh_db)
    assert not report.intact
    assert report.problems[0] == (
        f"block {block2['id']}: events out of order (its first event {gap} is not after "
        f"event {first[-1]}, the last of block {block1['id']})"
    )
    assert any(p.startswith(f"event {gap}: occurred_at is ") for p in report.problems)
    assert report.signed_blocks == 2  # signed all the same: the sealer signed what it saw


async def test_a_backdated_event_above_the_sealed_end_is_named(fresh_db):
    await sealed_chain(fresh_db)
    gap = await _rolled_back_id(fresh_db)
    later = await write_committed(fresh_db, 1)
    await _forge(fresh_db, gap, days_ago=3)
    for _ in range(2):  # unsealed, then sealed: in id order, only its time betrays it
        report = await verify_db(fresh_db)
        assert len(report.problems) == 1, report.problems
        assert report.problems[0].startswith(f"event {gap}: occurred_at is ")
        assert 3 * 86_000 < _lag_of(report.problems[0]) <= 3 * 86_400
        assert await seal_once(fresh_db) in (2, 0)
    (block,) = (b for b in await blocks(fresh_db) if b["last_event_id"] == later[0])
    assert block["first_event_id"] == gap


async def test_times_within_the_tolerance_are_in_order(fresh_db):
    """Concurrent writers reorder their times by microseconds; a lag under the tolerance is
    not a problem, one over it is."""
    await write_committed(fresh_db, 1)
    gap = await _rolled_back_id(fresh_db)
    await write_committed(fresh_db, 1)
    await as_attacker(
        fresh_db,
        _insert(
            "id, occurred_at, ",
            ":id, (SELECT max(occurred_at) FROM audit_events) - CAST(:lag AS interval), ",
        ),
        {"id": gap, "lag": CLOCK_TOLERANCE / 2},
    )
    assert (await verify_db(fresh_db)).intact
    await as_attacker(
        fresh_db,
        "UPDATE audit_events SET occurred_at = occurred_at - CAST(:lag AS interval) WHERE id = :id",
        {"id": gap, "lag": CLOCK_TOLERANCE},
    )
    (problem,) = (await verify_db(fresh_db)).problems
    assert problem.startswith(f"event {gap}: occurred_at is 1.")


# --- signed heads ---------------------------------------------------------------------------


async def _events_of(db: Database, block_id: int) -> list[dict[str, object]]:
    async with db.transaction() as session:
        rows = await session.execute(
            text(f"SELECT {SEALED_COLUMNS} FROM audit_events WHERE block_id = :b ORDER BY id"),
            {"b": block_id},
        )
        return [dict(row) for row in rows.mappings()]


async def _rechain(db: Database, resign: AuditSigner | None) -> list[int]:
    """The attacker's recomputation of every block's digest after an edit (what an unkeyed
    chain allows), optionally signing each head with a key of their own."""
    async with db.transaction() as session:
        assigned_from = await session.scalar(
            text("SELECT seqstart FROM pg_sequence WHERE seqrelid = 'audit_event_ids'::regclass")
        )
    previous = None
    ids = []
    for block in await blocks(db):
        digest = block_digest(previous, await _events_of(db, int(block["id"])))
        values: dict[str, object] = {"b": block["id"], "p": previous, "d": digest}
        sql = "UPDATE audit_blocks SET previous_digest = :p, digest = :d"
        if resign is not None:
            head = BlockHead(
                block_id=block["id"],
                first_event_id=block["first_event_id"],
                last_event_id=block["last_event_id"],
                event_count=block["event_count"],
                previous_digest=previous,
                digest=digest,
                sealed_at=block["sealed_at"],
                assigned_from_event_id=assigned_from,
            )
            sql += ", signature = :s, key_id = :k"
            values |= {"s": resign.sign(head.message()), "k": resign.key_id}
        await as_attacker(db, sql + " WHERE id = :b", values)
        previous = digest
        ids.append(int(block["id"]))
    return ids


@pytest.mark.parametrize("resigned", [False, True])
async def test_a_chain_recomputed_without_the_key_fails_its_signatures(fresh_db, resigned):
    first, _ = await sealed_chain(fresh_db)
    await as_attacker(
        fresh_db, "UPDATE audit_events SET actor = 'someone-else' WHERE id = :id", {"id": first[0]}
    )
    block1, block2 = await _rechain(
        fresh_db, AuditSigner(Ed25519PrivateKey.generate()) if resigned else None
    )
    report = await verify_db(fresh_db)
    if resigned:
        stranger = (await blocks(fresh_db))[0]["key_id"]
        assert report.problems == [
            f"block {block}: signed with a key not trusted here ({stranger})"
            for block in (block1, block2)
        ]
    else:
        assert report.problems == [
            f"block {block}: signature does not verify (its head was rewritten without the key)"
            for block in (block1, block2)
        ]


async def test_moving_where_time_order_starts_breaks_every_signature(fresh_db):
    await sealed_chain(fresh_db)
    await as_attacker(fresh_db, "ALTER SEQUENCE audit_event_ids START WITH 1000000")
    report = await verify_db(fresh_db)
    assert len(report.problems) == 2
    assert all("signature does not verify" in p for p in report.problems)


async def test_unsigned_blocks_are_legacy_only_before_the_first_signed_one(fresh_db):
    await sealed_chain(fresh_db)
    block1, block2 = (int(b["id"]) for b in await blocks(fresh_db))
    strip = "UPDATE audit_blocks SET signature = NULL, key_id = NULL WHERE id = :b"

    await as_attacker(fresh_db, strip, {"b": block2})
    report = await verify_db(fresh_db)
    assert report.problems == [f"block {block2}: not signed (blocks are since {block1})"]

    await as_attacker(fresh_db, strip, {"b": block1})
    report = await verify_db(fresh_db)
    # as two blocks sealed before heads were signed: only a kept head of a signed block
    # tells a stripped log from a legacy one (see the readme)
    assert report.intact
    assert (report.signed_blocks, report.unsigned_blocks) == (0, 2)


async def test_blocks_sealed_before_the_migration_still_verify(database_url):
    """A deployment at migration 0007 with a sealed block (times from ``now()``, so out of
    id order for a long transaction) and an unsealed event: after the upgrade its block
    verifies as an unsigned legacy block, the unsealed event is sealed into the first signed
    block, and new events are numbered after the old ones."""
    name = f"{make_url(database_url).database}_legacy_{uuid.uuid4().hex[:8]}"
    url = await create_database(database_url, name, template="template0")
    db = Database.connect(url, pool_size=2, max_overflow=0)
    try:
        await upgrade(db.engine, Settings().migrations_dir, "0007")
        async with db.transaction() as session:
            for minutes_ago in (1, 5, 2, 0):  # a long transaction's event, numbered later
                await session.execute(
                    text(_insert("occurred_at, ", "now() - make_interval(mins => :m), ")),
                    {"m": minutes_ago},
                )
            legacy = [
                dict(row)
                for row in (
                    await session.execute(
                        text(f"SELECT {SEALED_COLUMNS} FROM audit_events ORDER BY id LIMIT 3")
                    )
                ).mappings()
            ]
            block_id = await session.scalar(
                text(
                    "INSERT INTO audit_blocks (first_event_id, last_event_id, event_count, "
                    "digest) VALUES (:f, :l, 3, :d) RETURNING id"
                ),
                {"f": legacy[0]["id"], "l": legacy[-1]["id"], "d": block_digest(None, legacy)},
            )
            await session.execute(
                text("UPDATE audit_events SET block_id = :b WHERE id <= :l"),
                {"b": block_id, "l": legacy[-1]["id"]},
            )
        await upgrade(db.engine, Settings().migrations_dir)

        report = await verify_db(db)
        assert report.intact, report.problems
        assert (report.blocks, report.unsigned_blocks, report.signed_blocks) == (1, 1, 0)
        (new,) = await write_committed(db, 1)
        assert new == 5
        assert await seal_once(db) == 2
        report = await verify_db(db)
        assert report.intact, report.problems
        assert (report.blocks, report.unsigned_blocks, report.signed_blocks) == (2, 1, 1)
    finally:
        await db.dispose()
        await drop_database(url)


# --- the sealer needs no UPDATE on the audit tables --------------------------------------------


@pytest.fixture
async def runtime_role(fresh_database_url: str) -> AsyncIterator[Database]:
    """A role that may read and append to the audit tables, and stamp through
    ``audit_stamp_block``, but may not UPDATE or DELETE anything there."""
    role = f"wa_runtime_{uuid.uuid4().hex[:8]}"
    owner = Database.connect(fresh_database_url, pool_size=1, max_overflow=0)
    grants = [
        f"CREATE ROLE {role} LOGIN",
        f"GRANT SELECT, INSERT ON audit_events, audit_blocks TO {role}",
        f"GRANT USAGE, SELECT ON SEQUENCE audit_event_ids, audit_blocks_id_seq TO {role}",
        f"GRANT EXECUTE ON FUNCTION audit_stamp_block(bigint, bigint[]) TO {role}",
    ]
    async with owner.engine.begin() as conn:
        for grant in grants:
            await conn.execute(text(grant))
    url = make_url(fresh_database_url).set(username=role).render_as_string(hide_password=False)
    runtime = Database.connect(url, pool_size=1, max_overflow=0)
    try:
        yield runtime
    finally:
        await runtime.dispose()
        async with owner.engine.begin() as conn:
            await conn.execute(text(f"DROP OWNED BY {role}"))
            await conn.execute(text(f"DROP ROLE {role}"))
        await owner.dispose()


async def test_the_sealer_stamps_through_its_function_without_update_rights(runtime_role):
    ids = await write_committed(runtime_role, 3)
    with pytest.raises(DBAPIError, match="permission denied"):
        async with runtime_role.engine.begin() as conn:
            await conn.execute(text("UPDATE audit_events SET block_id = NULL WHERE false"))
    assert await seal_once(runtime_role) == 3
    (block,) = await blocks(runtime_role)
    assert (block["first_event_id"], block["last_event_id"]) == (ids[0], ids[-1])
    assert (await verify_db(runtime_role)).intact

    # the function stamps the newest block's events, all at once, and nothing else
    (extra,) = await write_committed(runtime_role, 1)
    for stamping in (
        {"b": block["id"], "ids": [extra]},  # into a block already stamped
        {"b": 999, "ids": [extra]},  # into a block that is not the newest
    ):
        with pytest.raises(DBAPIError, match="only the newest block is stamped, once"):
            async with runtime_role.engine.begin() as conn:
                await conn.execute(text("SELECT audit_stamp_block(:b, :ids)"), stamping)
    assert (await verify_db(runtime_role)).intact


# --- the head an auditor keeps ------------------------------------------------------------------


@pytest.fixture
async def auditors(
    fresh_database_url: str, settings: Settings, verifier: TokenVerifier
) -> AsyncIterator[httpx.AsyncClient]:
    """The application, signing with ``SIGNER``, on the test's fresh database."""
    database = Database.connect(fresh_database_url, pool_size=2, max_overflow=2)
    app = create_app(
        settings,
        database=database,
        verifier=verifier,
        audit_keys=AuditKeys(SIGNER, KEYS),
        seal_audit=False,
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as c:
            yield c
    finally:
        await database.dispose()


async def test_there_is_no_head_before_a_block_is_signed(fresh_db, auditors, make_token):
    missing = await auditors.get(HEAD, headers=bearer(make_token("auditor")))
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM_JSON


async def test_the_head_served_to_auditors_verifies_with_its_public_key(
    fresh_db, auditors, make_token: TokenFactory
):
    headers = bearer(make_token("auditor", sub="auditor-head"))
    _, second = await sealed_chain(fresh_db)
    response = await auditors.get(HEAD, headers={**headers, "X-Purpose": "quarterly review"})
    assert response.status_code == 200, response.text
    head = response.json()
    block2 = await _block_of(fresh_db, second[0])
    (stored,) = (b for b in await blocks(fresh_db) if b["id"] == block2)
    assert head["block_id"] == block2
    assert (head["first_event_id"], head["last_event_id"], head["event_count"]) == (
        second[0],
        second[-1],
        2,
    )
    assert head["digest"] == stored["digest"].hex()
    assert head["key_id"] == SIGNER.key_id

    public_key = serialization.load_pem_public_key(head["public_key"].encode())
    assert key_id_of(public_key) == head["key_id"]
    public_key.verify(base64.b64decode(head["signature"]), head["signed"].encode())
    signed = json.loads(head["signed"])
    assert signed["digest"] == head["digest"]
    assert signed["block_id"] == head["block_id"]

    async with fresh_db.transaction() as session:
        reads = (
            await session.execute(
                text(
                    "SELECT action, resource_type, resource_ids, purpose, outcome "
                    "FROM audit_events WHERE actor = 'auditor-head' ORDER BY id"
                )
            )
        ).all()
    assert [tuple(read) for read in reads] == [
        ("read", "audit_block", [str(block2)], "quarterly review", "success")
    ]


@pytest.mark.parametrize("role", ["ministry_admin", "community_officer", "ministry_analyst"])
async def test_the_head_is_for_auditors_only(fresh_db, auditors, make_token, role):
    await sealed_chain(fresh_db)
    sub = f"not-an-auditor-{role}"
    confinement = {"territory": KYIV} if role == "community_officer" else {}
    response = await auditors.get(HEAD, headers=bearer(make_token(role, sub=sub, **confinement)))
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "signature" not in response.text
    async with fresh_db.transaction() as session:
        denied = (
            await session.execute(
                text("SELECT action, outcome FROM audit_events WHERE actor = :s"), {"s": sub}
            )
        ).all()
    assert [tuple(event) for event in denied] == [("get_audit_head", "denied")]


async def test_verify_with_a_kept_head_finds_a_cut_tail(
    fresh_db, auditors, make_token, cli_database, audit_key_file, tmp_path: Path, capsys
):
    _, second = await sealed_chain(fresh_db)
    response = await auditors.get(HEAD, headers=bearer(make_token("auditor")))
    kept = tmp_path / "head.json"
    kept.write_text(response.text)
    digest = response.json()["digest"]

    for head in (str(kept), digest):
        assert await run_cli("audit", "verify", "--head", head) == 0
        report = json.loads(capsys.readouterr().out)
        assert (report["intact"], report["signed_blocks"]) == (True, 2)

    # the superuser removes the last block and its events
    block2 = await _block_of(fresh_db, second[0])
    await as_attacker(fresh_db, "DELETE FROM audit_events WHERE block_id = :b", {"b": block2})
    await as_attacker(fresh_db, "DELETE FROM audit_blocks WHERE id = :b", {"b": block2})

    # without the head the shorter log is consistent: that is what the head is for
    assert await run_cli("audit", "verify") == 0
    capsys.readouterr()
    for head in (str(kept), digest):
        assert await run_cli("audit", "verify", "--head", head) == 1
        captured = capsys.readouterr()
        report = json.loads(captured.out)
        problem = (
            f"head {digest}: no block has this digest any more "
            "(the log was cut or rewritten after it)"
        )
        assert report["problems"] == [problem]
        assert f"audit problem: {problem}" in captured.err


async def test_a_kept_head_must_be_genuine(
    fresh_db, auditors, make_token, cli_database, audit_key_file, tmp_path: Path, capsys
):
    await sealed_chain(fresh_db)
    head = (await auditors.get(HEAD, headers=bearer(make_token("auditor")))).json()
    forged = AuditSigner(Ed25519PrivateKey.generate())
    head["signature"] = base64.b64encode(forged.sign(head["signed"].encode())).decode()
    kept = tmp_path / "head.json"
    kept.write_text(json.dumps(head))
    assert await run_cli("audit", "verify", "--head", str(kept)) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["problems"] == [
        f"head {head['digest']}: its signature does not verify with the keys trusted here"
    ]

    # an unreadable head is refused before anything is verified (SystemExit's message)
    for bad in ("not-a-file-nor-a-digest", "ab" * 31):
        refusal = await run_cli("audit", "verify", "--head", bad)
        assert isinstance(refusal, str)
        assert refusal.startswith(f"--head {bad}: neither a hex SHA-256 digest nor")
    kept.write_text(json.dumps({**head, "digest": "00" * 32}))
    refusal = await run_cli("audit", "verify", "--head", str(kept))
    assert isinstance(refusal, str)
    assert refusal.endswith("the head's digest and block_id are not the ones it signs")


# --- the seal's log line --------------------------------------------------------------------


async def test_each_seal_logs_its_signed_head_without_personal_data(fresh_db):
    actor = f"worker-{uuid.uuid4().hex[:8]}"
    resource = str(uuid.uuid4())
    async with fresh_db.transaction() as session:
        await record(session, caller(actor), "read", "family", [resource])
    # a seal rolled back logs nothing: a logged head always names a block that exists
    with structlog.testing.capture_logs() as entries:
        session = fresh_db.session()
        try:
            assert await seal(session, 1000, SIGNER) == 1
            await session.rollback()
        finally:
            await session.close()
    assert [e for e in entries if e["event"] == "audit_block_sealed"] == []
    assert await blocks(fresh_db) == []

    with structlog.testing.capture_logs() as entries:
        assert await seal_once(fresh_db) == 1
    (sealed,) = [e for e in entries if e["event"] == "audit_block_sealed"]
    (block,) = await blocks(fresh_db)
    assert sealed == {
        "event": "audit_block_sealed",
        "log_level": "info",
        "block_id": block["id"],
        "first_event_id": block["first_event_id"],
        "last_event_id": block["last_event_id"],
        "event_count": 1,
        "digest": block["digest"].hex(),
        "key_id": SIGNER.key_id,
        "signature": base64.b64encode(block["signature"]).decode(),
    }
    assert actor not in repr(entries)
    assert resource not in repr(entries)
    assert (await verify_db(fresh_db, KeptHead(block["digest"]))).intact
