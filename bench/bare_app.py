"""The baseline the registry is compared with: plain FastAPI and an asyncpg pool, no auth, no
audit, no ORM, no transaction, no response model. It reads the same rows the registry reads for
the same request and sends them as orjson bytes (FastAPI's default ``jsonable_encoder`` path
costs about 40 µs a row, which would make the baseline the slow part of a 50-family page).

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/registry_bench \\
        uvicorn bare_app:create_app --factory --app-dir bench --workers 2
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, HTTPException, Request, Response

FAMILY_COLUMNS = """id, oblast_code, raion_code, hromada_code, settlement_code, address_line,
    phone, categories, factors, consent_given_at, consent_given_by, consent_scope, status,
    archive_reason, archived_at, created_at, updated_at, version"""
#: The identifiers as stored (sealed): the baseline sends them as they are, unopened.
PERSON_COLUMNS = """id, family_id, last_name, first_name, patronymic, birth_date, sex, relation,
    rnokpp_sealed, rnokpp_refused, unzr_sealed, disability_group, idp_certificate_sealed,
    is_servicemember, status, removal_reason, removed_at, created_at, updated_at, version"""
MEMBERS = f"""SELECT {PERSON_COLUMNS} FROM persons WHERE family_id = ANY($1::uuid[])
    ORDER BY family_id, status, birth_date, id"""


def create_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # As many connections as the registry's pool may open (pool_size 10 + max_overflow 5).
        size = int(os.environ.get("BENCH_POOL_SIZE", "15"))
        app.state.pool = await asyncpg.create_pool(
            os.environ["BENCH_DATABASE_URL"], min_size=size, max_size=size
        )
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/families/{family_id}")
    async def get_family(request: Request, family_id: uuid.UUID) -> Response:
        async with request.app.state.pool.acquire() as connection:
            family = await connection.fetchrow(
                f"SELECT {FAMILY_COLUMNS} FROM families WHERE id = $1", family_id
            )
            if family is None:
                raise HTTPException(404)
            members = await connection.fetch(MEMBERS, [family_id])
        return _json({**family, "members": [dict(m) for m in members]})

    @app.get("/families")
    async def list_families(request: Request, hromada: str, limit: int = 50) -> Response:
        """A first page of a hromada's families with their members, as the registry pages."""
        async with request.app.state.pool.acquire() as connection:
            families = await connection.fetch(
                f"SELECT {FAMILY_COLUMNS} FROM families WHERE hromada_code = $1 "
                "ORDER BY id LIMIT $2",
                hromada,
                limit,
            )
            members = await connection.fetch(MEMBERS, [f["id"] for f in families])
        by_family: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for member in members:
            by_family.setdefault(member["family_id"], []).append(dict(member))
        return _json(
            {
                "items": [{**f, "members": by_family.get(f["id"], [])} for f in families],
                "next_cursor": None,
            }
        )

    return app


def _json(content: Any) -> Response:
    # asyncpg's own UUID type is not the uuid.UUID orjson knows; a sealed value goes as hex.
    return Response(orjson.dumps(content, default=_plain), media_type="application/json")


def _plain(value: Any) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)
