"""Reading the classifier of social services: a page of services, one service.

Services are reference data, not personal data: reads are not audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.like import contains
from registry.db.pagination import Page, PageRequest, keyset, page_of
from registry.domain.classifier.tables import service_table
from registry.errors import NotFound

SERVICE = "service"
SERVICE_COLUMNS = (
    service_table.c.code,
    service_table.c.name_uk,
    service_table.c.name_en,
    service_table.c.purpose,
    service_table.c.kind,
    service_table.c.is_basic,
    service_table.c.active,
    service_table.c.created_at,
    service_table.c.updated_at,
    service_table.c.version,
)


def not_found(code: str) -> NotFound:
    return NotFound(f"The classifier has no service {code}.")


@dataclass(frozen=True, slots=True)
class ServiceFilter:
    purpose: str | None = None
    kind: str | None = None
    basic: bool | None = None
    active: bool | None = None
    q: str | None = None


async def list_services(
    session: AsyncSession, page: PageRequest, where: ServiceFilter
) -> Page[RowMapping]:
    """Services matching ``where``, in code order."""
    statement = select(*SERVICE_COLUMNS)
    if where.purpose is not None:
        statement = statement.where(service_table.c.purpose == where.purpose)
    if where.kind is not None:
        statement = statement.where(service_table.c.kind == where.kind)
    if where.basic is not None:
        statement = statement.where(service_table.c.is_basic == where.basic)
    if where.active is not None:
        statement = statement.where(service_table.c.active == where.active)
    if where.q is not None:
        text = " ".join(where.q.split())
        statement = statement.where(
            or_(
                contains(service_table.c.name_uk, text, ignore_case=True),
                contains(service_table.c.name_en, text, ignore_case=True),
            )
        )
    rows = (await session.execute(keyset(statement, [service_table.c.code], page))).mappings().all()
    return page_of(rows, page, key=lambda row: (row["code"],))


async def get_service(session: AsyncSession, code: str) -> dict[str, Any]:
    row = (
        (await session.execute(select(*SERVICE_COLUMNS).where(service_table.c.code == code)))
        .mappings()
        .first()
    )
    if row is None:
        raise not_found(code)
    return dict(row)
