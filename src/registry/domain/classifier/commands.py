"""Keeping the classifier of social services (order No. 429 of 2020): by hand (ministry
administrators) and by importing the official list from a CSV file.

Changes are audited, and every change bumps the service's version and notes the fields it
changed. ``record_changes`` keys records by UUID, so a service's changes are kept under the
UUID its code maps to (:func:`change_key`). A service is never deleted: it is deactivated.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from registry.domain.audit.commands import record
from registry.domain.classifier.queries import SERVICE, SERVICE_COLUMNS, get_service, not_found
from registry.domain.classifier.rules import CSV_COLUMNS, FIELDS, parse_csv
from registry.domain.classifier.tables import service_table
from registry.domain.shared.caller import Caller
from registry.domain.versioning import Versioned, VersionedWrite, note_change
from registry.errors import Conflict, FieldError

#: Services are keyed by their code; ``record_changes`` knows each by a uuid5 of it.
SERVICES = Versioned(
    service_table,
    SERVICE,
    key="code",
    change_namespace=uuid.UUID("5a0c1f7e-6b39-4d2a-9c54-3e8f2b7d1a60"),
)


def change_key(code: str) -> uuid.UUID:
    """The id a service's versions are noted under in ``record_changes``."""
    return SERVICES.change_key(code)


# --- keeping it by hand ------------------------------------------------------------------------


async def create_service(
    session: AsyncSession, caller: Caller, values: dict[str, Any]
) -> dict[str, Any]:
    """Add a service to the classifier; 409 when the code is taken."""
    stored = {name: values[name] for name in CSV_COLUMNS}
    created = await session.scalar(
        pg_insert(service_table)
        .values(**stored)
        .on_conflict_do_nothing(index_elements=["code"])
        .returning(service_table.c.code)
    )
    if created is None:
        raise Conflict(
            "The classifier already has a service with this code; change it with PATCH.",
            errors=[FieldError("body.code", "already in the classifier")],
        )
    await note_change(session, SERVICE, change_key(created), 1, FIELDS, caller.principal.sub)
    await record(session, caller, "create_service", SERVICE, [created])
    return await get_service(session, created)


async def update_service(
    session: AsyncSession,
    caller: Caller,
    code: str,
    patch: dict[str, Any],
    expected_version: int,
) -> dict[str, Any]:
    """Apply a JSON merge patch to a service (deactivate it with ``active: false``)."""
    write = await VersionedWrite.lock(session, caller, SERVICES, code)
    if write is None:
        raise not_found(code)
    await write.check_version(expected_version)
    changed = {
        name: value
        for name, value in patch.items()
        if name in FIELDS and value != write.current[name]
    }
    await write.save(changed, action="update_service")
    return await get_service(session, code)


# --- importing the official list ---------------------------------------------------------------


@dataclass(slots=True)
class ImportReport:
    """Codes the import added, changed (a new version) and found as they were."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "added_codes": self.added,
            "updated_codes": self.updated,
        }


async def import_services(
    session: AsyncSession, services: Iterable[dict[str, Any]], actor: str
) -> ImportReport:
    """Add the services the classifier lacks and update those that differ (each a new
    version); services the list does not name stay as they are. The import is an operator's
    (the command line), not an API caller's: its changes are noted under ``actor``."""
    wanted = {service["code"]: service for service in services}
    current = (
        {
            row["code"]: row
            for row in (
                await session.execute(
                    select(*SERVICE_COLUMNS)
                    .where(service_table.c.code.in_(list(wanted)))
                    .with_for_update()
                )
            ).mappings()
        }
        if wanted
        else {}
    )
    report = ImportReport()
    new = [service for code, service in wanted.items() if code not in current]
    if new:
        await session.execute(
            insert(service_table), [{name: s[name] for name in CSV_COLUMNS} for s in new]
        )
    for service in new:
        await note_change(session, SERVICE, change_key(service["code"]), 1, FIELDS, actor)
        report.added.append(service["code"])
    for code, service in sorted(wanted.items()):
        if code not in current:
            continue
        changed = {name: service[name] for name in FIELDS if service[name] != current[code][name]}
        if not changed:
            report.unchanged.append(code)
            continue
        version = current[code]["version"] + 1
        await session.execute(
            update(service_table)
            .where(service_table.c.code == code)
            .values(**changed, version=version, updated_at=func.now())
        )
        await note_change(session, SERVICE, change_key(code), version, changed, actor)
        report.updated.append(code)
    report.added.sort()
    return report


async def import_services_csv(session: AsyncSession, text: str, actor: str) -> ImportReport:
    """Parse an import file and apply it; a file with any bad row changes nothing."""
    return await import_services(session, parse_csv(text), actor)
