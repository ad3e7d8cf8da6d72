"""What an export is, without I/O: its states, the types of records it may hold (and the
permission each needs), the names of its files, and the manifest its audit event lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from registry.auth.roles import Permission


class ExportStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"
    EXPIRED = "expired"


class ExportType(StrEnum):
    """The types an export may hold, named as the change feed names them."""

    FAMILY = "family"
    CASE = "case"
    SERVICE_RECORD = "service_record"
    SUPPORT_CASE = "support_case"


#: The permission reading each type takes: a caller exports only what they could read
#: through the API.
TYPE_PERMISSIONS: dict[str, Permission] = {
    ExportType.FAMILY: Permission.FAMILIES_READ,
    ExportType.CASE: Permission.CASES_READ,
    ExportType.SERVICE_RECORD: Permission.SERVICE_RECORDS_READ,
    ExportType.SUPPORT_CASE: Permission.MILITARY_READ,
}

#: How many of one requester's exports may wait or run at once: an export reads a whole
#: territory, and a client that asks again before the last is done should wait for it.
MAX_UNFINISHED_PER_REQUESTER = 3

#: The action of the one audit event an export writes when its files are ready.
EXPORT_WRITTEN = "export_written"


def file_name(record_type: str, number: int) -> str:
    """The ``number``-th file of an export (counted across its types, from 1): its type and
    number, so a file's name says what its lines are (``family-00001.ndjson``)."""
    return f"{record_type}-{number:05d}.ndjson"


def manifest(
    export_id: Any,
    types: Sequence[str],
    since: datetime | None,
    territory: str | None,
    as_of: datetime,
    counts: Mapping[str, int],
    files: Sequence[Mapping[str, Any]],
) -> list[str]:
    """What the export covered, as the audit event's resource ids: the export, its types,
    ``since``, territory and moment, how many records of each type, and each file's name,
    SHA-256, size and record count. Not the records' ids: an export of a region lists
    hundreds of thousands, and these (with the requester's reach, which the event's actor
    and role say) determine them."""
    return [
        str(export_id),
        "types=" + ",".join(types),
        "since=" + (since.isoformat() if since is not None else ""),
        "territory=" + (territory or ""),
        "as_of=" + as_of.isoformat(),
        *(f"count.{record_type}={counts.get(record_type, 0)}" for record_type in types),
        *(
            f"file={file['name']};sha256={file['sha256']};bytes={file['bytes']};"
            f"records={file['records']}"
            for file in files
        ),
    ]
