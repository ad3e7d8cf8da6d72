"""The classifier of social services (order No. 429 of 2020): reading it, keeping it by hand
(ministry administrators) and importing the official list from a CSV file.

Services are reference data, not personal data: reads are not audited; changes are, and every
change bumps the service's version and notes the fields it changed. ``record_changes`` keys
records by UUID, so a service's changes are kept under the UUID its code maps to
(:func:`change_key`). A service is never deleted: it is deactivated.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.pagination import Page, PageRequest, keyset, page_of
from registry.domain.audit.commands import record
from registry.domain.classifier.rules import CODE_PATTERN
from registry.domain.classifier.tables import Service
from registry.domain.shared.caller import Caller
from registry.domain.versioning import note_change, require_current
from registry.errors import Conflict, FieldError, InvalidInput, NotFound

SERVICE = "service"
NAME_MAX_LENGTH = 500
_CODE = re.compile(CODE_PATTERN)
_s = Service.__table__.c  # type: ignore[attr-defined]
SERVICE_COLUMNS = (
    _s.code,
    _s.name_uk,
    _s.name_en,
    _s.purpose,
    _s.kind,
    _s.is_basic,
    _s.active,
    _s.created_at,
    _s.updated_at,
    _s.version,
)
#: What describes a service (everything but its code and bookkeeping).
FIELDS = ("name_uk", "name_en", "purpose", "kind", "is_basic", "active")
#: The columns an import file has, in this order (the header line names them).
CSV_COLUMNS = ("code", *FIELDS)
_CHANGE_NAMESPACE = uuid.UUID("5a0c1f7e-6b39-4d2a-9c54-3e8f2b7d1a60")
_TRUE = frozenset({"true", "1", "yes", "y", "так"})
_FALSE = frozenset({"false", "0", "no", "n", "ні"})


class Purpose(StrEnum):
    PREVENTION = "prevention"
    SUPPORT = "support"
    CARE = "care"


class ServiceKind(StrEnum):
    SIMPLE = "simple"
    COMPLEX = "complex"


def change_key(code: str) -> uuid.UUID:
    """The id a service's versions are noted under in ``record_changes``."""
    return uuid.uuid5(_CHANGE_NAMESPACE, code)


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceFilter:
    purpose: str | None = None
    kind: str | None = None
    basic: bool | None = None
    active: bool | None = None
    q: str | None = None


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_services(
    session: AsyncSession, page: PageRequest, where: ServiceFilter
) -> Page[RowMapping]:
    """Services matching ``where``, in code order."""
    statement = select(*SERVICE_COLUMNS)
    if where.purpose is not None:
        statement = statement.where(_s.purpose == where.purpose)
    if where.kind is not None:
        statement = statement.where(_s.kind == where.kind)
    if where.basic is not None:
        statement = statement.where(_s.is_basic == where.basic)
    if where.active is not None:
        statement = statement.where(_s.active == where.active)
    if where.q is not None:
        pattern = "%" + _escape_like(" ".join(where.q.split())) + "%"
        statement = statement.where(
            or_(_s.name_uk.ilike(pattern, escape="\\"), _s.name_en.ilike(pattern, escape="\\"))
        )
    rows = (await session.execute(keyset(statement, [_s.code], page))).mappings().all()
    return page_of(rows, page, key=lambda row: (row["code"],))


async def get_service(session: AsyncSession, code: str) -> dict[str, Any]:
    row = (
        (await session.execute(select(*SERVICE_COLUMNS).where(_s.code == code))).mappings().first()
    )
    if row is None:
        raise NotFound(f"The classifier has no service {code}.")
    return dict(row)


# --- keeping it by hand ------------------------------------------------------------------------


async def create_service(
    session: AsyncSession, caller: Caller, values: dict[str, Any]
) -> dict[str, Any]:
    """Add a service to the classifier; 409 when the code is taken."""
    stored = {name: values[name] for name in ("code", *FIELDS)}
    created = await session.scalar(
        pg_insert(Service)
        .values(**stored)
        .on_conflict_do_nothing(index_elements=["code"])
        .returning(_s.code)
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
    current = (
        (await session.execute(select(*SERVICE_COLUMNS).where(_s.code == code).with_for_update()))
        .mappings()
        .first()
    )
    if current is None:
        raise NotFound(f"The classifier has no service {code}.")
    await require_current(session, SERVICE, change_key(code), current["version"], expected_version)
    changed = {
        name: value for name, value in patch.items() if name in FIELDS and value != current[name]
    }
    if changed:
        version = current["version"] + 1
        await session.execute(
            update(Service)
            .where(_s.code == code)
            .values(**changed, version=version, updated_at=func.now())
        )
        await note_change(
            session, SERVICE, change_key(code), version, changed, caller.principal.sub
        )
    await record(session, caller, "update_service", SERVICE, [code])
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


def _flag(value: str) -> bool:
    folded = value.strip().casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueError("must be true or false")


def _choice(options: type[StrEnum]) -> Any:
    def parse(value: str) -> str:
        folded = value.strip().casefold()
        if folded not in {option.value for option in options}:
            raise ValueError("must be one of " + ", ".join(option.value for option in options))
        return folded

    return parse


def _name(value: str) -> str:
    text = " ".join(value.split())
    if not text:
        raise ValueError("must not be empty")
    if len(text) > NAME_MAX_LENGTH:
        raise ValueError(f"is longer than {NAME_MAX_LENGTH} characters")
    return text


def _code(value: str) -> str:
    text = value.strip()
    if not _CODE.fullmatch(text):
        raise ValueError("must be a classifier code such as 002.0")
    return text


_PARSERS = {
    "code": _code,
    "name_uk": _name,
    "name_en": _name,
    "purpose": _choice(Purpose),
    "kind": _choice(ServiceKind),
    "is_basic": _flag,
    "active": _flag,
}


def parse_csv(text: str) -> list[dict[str, Any]]:
    """The services an import file lists. Every problem is reported (``InvalidInput``, each
    error's field naming the line and column), none stops the reading."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = [name.strip() for name in next(reader, [])]
    if sorted(header) != sorted(CSV_COLUMNS):
        raise InvalidInput(
            "The file's header is not the one an import file has.",
            errors=[FieldError("line 1", "the header must be " + ",".join(CSV_COLUMNS))],
        )
    errors: list[FieldError] = []
    services: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are not rows
        if "\x00" in "".join(cells):
            errors.append(FieldError(f"line {line}", "contains the NUL character"))
            continue
        if len(cells) != len(header):
            errors.append(
                FieldError(
                    f"line {line}", f"has {len(cells)} values where the header has {len(header)}"
                )
            )
            continue
        service: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=True):
            try:
                service[name] = _PARSERS[name](cell)
            except ValueError as error:
                errors.append(FieldError(f"line {line}.{name}", str(error)))
        code = service.get("code")
        if code is not None:
            if code in first_line:
                errors.append(
                    FieldError(f"line {line}.code", f"{code} is also on line {first_line[code]}")
                )
            else:
                first_line[code] = line
        if len(service) == len(CSV_COLUMNS):
            services.append(service)
    if errors:
        raise InvalidInput("The file has invalid rows; nothing was imported.", errors=errors)
    return services


async def import_services(
    session: AsyncSession, services: Iterable[dict[str, Any]], actor: str
) -> ImportReport:
    """Add the services the classifier lacks and update those that differ (each a new
    version); services the list does not name stay as they are."""
    wanted = {service["code"]: service for service in services}
    current = (
        {
            row["code"]: row
            for row in (
                await session.execute(
                    select(*SERVICE_COLUMNS).where(_s.code.in_(list(wanted))).with_for_update()
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
            insert(Service), [{name: s[name] for name in CSV_COLUMNS} for s in new]
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
            update(Service)
            .where(_s.code == code)
            .values(**changed, version=version, updated_at=func.now())
        )
        await note_change(session, SERVICE, change_key(code), version, changed, actor)
        report.updated.append(code)
    report.added.sort()
    return report


async def import_services_csv(session: AsyncSession, text: str, actor: str) -> ImportReport:
    """Parse an import file and apply it; a file with any bad row changes nothing."""
    return await import_services(session, parse_csv(text), actor)
