"""Stored first answers to creating requests, keyed by (caller, Idempotency-Key): the
caller is its whole identity (``Principal.identity``: subject, role, reach and scopes).

The key is claimed by inserting its row before the work is done, in the request's own
transaction: a concurrent duplicate waits on that row and, once the first commits, finds
the stored answer; if the first fails, its claim rolls back with it.

A stored answer's body is the record it created, national identifiers and all, so it is
kept sealed with the identifier keys (``sealing``), bound to its caller and key.

A stored answer holds what the first answer disclosed (a family's members, say), so it is
kept only for the retention period (``REGISTRY_IDEMPOTENCY_RETENTION_HOURS``): after it the
key is free again (a reuse is a new request) and ``prune`` deletes the row.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Interval,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    bindparam,
    cast,
    delete,
    func,
    literal,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from registry.db.base import table_of
from registry.db.engine import transaction_connection
from registry.db.statements import compile_statement
from registry.domain.shared.sealing import IdentifierKeys, SealedField, SealedTable


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_keys"

    actor: str = Field(sa_column=Column(Text, primary_key=True))
    key: str = Field(sa_column=Column(String(255), primary_key=True))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    status_code: int | None = Field(default=None, sa_column=Column(SmallInteger))
    headers: dict[str, str] | None = Field(default=None, sa_column=Column(JSONB))
    body: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    resource_type: str | None = Field(default=None, sa_column=Column(String(32)))
    resource_ids: list[str] | None = Field(default=None, sa_column=Column(ARRAY(Text)))
    created_at: datetime = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
idempotency_key_table = table_of(IdempotencyKey)

# Made by the migrations; declared here so `alembic check` compares it. Pruning finds the
# expired rows through it.
Index("ix_idempotency_keys_created_at", idempotency_key_table.c.created_at)

#: The stored answer's body, sealed (its associated data names the caller and the key).
ANSWER_BODY = SealedField("body", "idempotency_keys.body", "body")
SEALED_ANSWERS = SealedTable(idempotency_key_table, ("actor", "key"), (ANSWER_BODY,))


def _claim_statement() -> Any:
    claim = insert(IdempotencyKey).values(
        actor=bindparam("actor", type_=Text),
        key=bindparam("key", type_=String),
        fingerprint=bindparam("fingerprint", type_=String),
    )
    return claim.on_conflict_do_update(
        index_elements=[idempotency_key_table.c.actor, idempotency_key_table.c.key],
        set_={
            "fingerprint": claim.excluded.fingerprint,
            "status_code": null(),
            "headers": null(),
            "body": null(),
            "resource_type": null(),
            "resource_ids": null(),
            "created_at": func.now(),
        },
        where=idempotency_key_table.c.created_at
        < func.now() - bindparam("retention", type_=Interval),
    ).returning(idempotency_key_table.c.key)


#: Claiming a key (its row, or taking over an expired one), compiled once.
_CLAIM = compile_statement(_claim_statement())

#: Storing the answer under a claimed key, compiled once. The headers are bound as JSON text.
_STORE = compile_statement(
    idempotency_key_table.update()
    .where(
        idempotency_key_table.c.actor == bindparam("actor", type_=Text),
        idempotency_key_table.c.key == bindparam("key", type_=String),
    )
    .values(
        status_code=bindparam("status_code", type_=SmallInteger),
        headers=cast(bindparam("headers", type_=Text), JSONB),
        body=bindparam("body", type_=LargeBinary),
        resource_type=bindparam("resource_type", type_=String),
        resource_ids=bindparam("resource_ids", type_=ARRAY(Text)),
    )
)


#: A stored answer at least this long is kept compressed (a batch's answer names ten thousand
#: records: 1.5 MB of JSON, 0.24 MB compressed, mostly their random ids); a short one (a
#: record) as it is, not to spend a compression on every single write.
COMPRESS_FROM = 16 * 1024
#: What a compressed body starts with, before sealing: a JSON answer never starts with NUL.
_COMPRESSED = b"\x00zlib\x00"


def packed(body: bytes) -> bytes:
    """The answer's body as stored (before sealing): compressed when long."""
    if len(body) < COMPRESS_FROM:
        return body
    return _COMPRESSED + zlib.compress(body, 1)


def unpacked(stored: bytes) -> bytes:
    """The answer's body, byte for byte, from what ``packed`` stored (or an answer stored
    before answers were compressed)."""
    if stored.startswith(_COMPRESSED):
        return zlib.decompress(stored[len(_COMPRESSED) :])
    return stored


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    fingerprint: str
    status_code: int | None
    headers: dict[str, str]
    body: bytes
    resource_type: str | None
    resource_ids: list[str]


async def claim(
    session: AsyncSession,
    keys: IdentifierKeys,
    actor: str,
    key: str,
    fingerprint: str,
    retention: timedelta,
) -> StoredAnswer | None:
    """Claim ``key`` for this request (``None``), or return what an earlier request stored
    within ``retention``; a claim older than that is taken over as a new one. The claim and
    the storing of the answer run on the session's driver connection as statements compiled
    once (every idempotent write pays them)."""
    connection = await transaction_connection(session)
    claimed = await connection.fetchval(
        _CLAIM.sql,
        *_CLAIM.arguments(actor=actor, key=key, fingerprint=fingerprint, retention=retention),
    )
    if claimed is not None:
        return None
    row = (
        await session.execute(
            select(
                idempotency_key_table.c.fingerprint,
                idempotency_key_table.c.status_code,
                idempotency_key_table.c.headers,
                idempotency_key_table.c.body,
                idempotency_key_table.c.resource_type,
                idempotency_key_table.c.resource_ids,
            ).where(idempotency_key_table.c.actor == actor, idempotency_key_table.c.key == key)
        )
    ).one()
    return StoredAnswer(
        row.fingerprint,
        row.status_code,
        row.headers or {},
        b"" if row.body is None else unpacked(keys.open(row.body, ANSWER_BODY.place, actor, key)),
        row.resource_type,
        list(row.resource_ids or []),
    )


async def store(
    session: AsyncSession,
    keys: IdentifierKeys,
    actor: str,
    key: str,
    *,
    status_code: int,
    headers: dict[str, str],
    body: bytes,
    resource_type: str,
    resource_ids: Sequence[Any],
) -> None:
    connection = await transaction_connection(session)
    await connection.execute(
        _STORE.sql,
        *_STORE.arguments(
            actor=actor,
            key=key,
            status_code=status_code,
            headers=orjson.dumps(headers).decode(),
            body=keys.seal(packed(body), ANSWER_BODY.place, actor, key),
            resource_type=resource_type,
            resource_ids=[str(i) for i in resource_ids],
        ),
    )


async def prune(session: AsyncSession, retention: timedelta, batch_size: int = 5000) -> int:
    """Delete up to ``batch_size`` stored answers older than ``retention``; how many."""
    expired = (
        select(idempotency_key_table.c.actor, idempotency_key_table.c.key)
        .where(idempotency_key_table.c.created_at < func.now() - literal(retention))
        .limit(batch_size)
        .with_for_update(skip_locked=True)
        .cte("expired")
    )
    deleted = await session.execute(
        delete(idempotency_key_table)
        .where(
            idempotency_key_table.c.actor == expired.c.actor,
            idempotency_key_table.c.key == expired.c.key,
        )
        .returning(idempotency_key_table.c.key)
    )
    return len(deleted.all())
