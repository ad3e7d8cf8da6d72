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
#: A page of a unit's support cases as the registry lists them: the case, its flags as of
#: today (contact overdue; an open case whose provider left the unit or fails the gate) and
#: the servicemember with their name.
SUPPORT_CASES = """
    SELECT c.id, c.unit_id, c.family_id, c.status, c.opened_on, c.provider_id, c.worker_sub,
        c.last_contact_on, c.contact_due_on,
        c.status IN ('open', 'active') AND c.contact_due_on < current_date AS contact_overdue,
        c.status IN ('open', 'active', 'suspended') AND c.provider_id IS NOT NULL AND NOT (
            EXISTS (SELECT FROM military_unit_providers a WHERE a.unit_id = c.unit_id
                    AND a.provider_id = c.provider_id AND a.ended_on IS NULL)
            AND EXISTS (SELECT FROM providers p WHERE p.id = c.provider_id
                        AND p.status = 'active' AND p.sector = 'non_state'
                        AND p.support_verified_at IS NOT NULL
                        AND p.support_verified_by IS NOT NULL
                        AND p.support_criteria_met @> ARRAY(
                            SELECT code::text FROM support_criteria WHERE active))
        ) AS provider_ineligible,
        c.version, s.id AS servicemember_id, s.person_id, s.status AS servicemember_status,
        s.status_effective_on, m.last_name, m.first_name, m.patronymic
    FROM support_cases c
    JOIN servicemembers s ON s.id = c.servicemember_id
    JOIN persons m ON m.id = s.person_id
    WHERE c.unit_id = $1 ORDER BY c.id LIMIT $2"""
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

    @app.get("/support-cases")
    async def list_support_cases(request: Request, unit_id: uuid.UUID, limit: int = 50) -> Response:
        """A first page of a unit's support cases, as its liaison lists them."""
        async with request.app.state.pool.acquire() as connection:
            rows = await connection.fetch(SUPPORT_CASES, unit_id, limit)
        servicemember = (
            "servicemember_id",
            "person_id",
            "servicemember_status",
            "status_effective_on",
            "last_name",
            "first_name",
            "patronymic",
        )
        return _json(
            {
                "items": [
                    {
                        **{k: v for k, v in row.items() if k not in servicemember},
                        "servicemember": {k: row[k] for k in servicemember},
                    }
                    for row in rows
                ],
                "next_cursor": None,
            }
        )

    return app


def _json(content: Any) -> Response:
    # asyncpg's own UUID type is not the uuid.UUID orjson knows; a sealed value goes as hex.
    return Response(orjson.dumps(content, default=_plain), media_type="application/json")


def _plain(value: Any) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)
