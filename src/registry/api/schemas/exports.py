"""The shapes of bulk exports: the request, and the export with its files."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, field_validator

from registry.api.schemas.base import InputSchema, KatottgCode, Rfc3339DateTime, Schema
from registry.domain.exports.rules import ExportStatus, ExportType


class ExportCreate(InputSchema):
    types: list[ExportType] = Field(
        min_length=1,
        max_length=len(ExportType),
        json_schema_extra={"uniqueItems": True},
        description="The types of records to export, each once; each needs its read "
        "permission (`family`: families:read, `case`: cases:read, `service_record`: "
        "service-records:read, `support_case`: military:read).",
    )
    since: Rfc3339DateTime | None = Field(
        default=None,
        description="Only records changed at or after this time (a family when it or a "
        "member changed, a case when it or a referral changed, a service record or support "
        "case when it changed); all when absent.",
    )
    territory: KatottgCode | None = Field(
        default=None,
        description="Only records in this oblast, raion or hromada, which must lie within "
        "your reach (422 otherwise); your whole reach when absent.",
    )

    @field_validator("types")
    @classmethod
    def _each_once(cls, types: list[ExportType]) -> list[ExportType]:
        if len(set(types)) != len(types):
            raise ValueError("each type may be named once")
        return types


class ExportFile(Schema):
    number: int = Field(description="The file's number in the export, from 1.")
    name: str = Field(examples=["family-00001.ndjson"])
    type: ExportType = Field(description="What each line of the file is.")
    bytes: int = Field(description="The file's size; never more than the portion limit.")
    sha256: str = Field(description="SHA-256 of the file's bytes, in hex.")
    records: int = Field(description="Lines in the file: one record each.")
    href: str = Field(description="Where to download it (`Range` supported).")


class ExportView(Schema):
    id: uuid.UUID
    status: ExportStatus = Field(
        description="`pending` (waiting for a worker), `running`, `ready` (files to "
        "download), `failed` (see `error`), `expired` (files deleted after retention)."
    )
    types: list[ExportType]
    since: datetime | None
    territory: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    as_of: datetime | None = Field(
        description="The moment the files show: every record as it stood then."
    )
    changes_after: str | None = Field(
        description="A cursor of the change feed at `as_of`: `GET /api/v1/changes?after=` it "
        "to follow every change made after the export (one made just before may show too)."
    )
    counts: dict[str, int] = Field(description="Records exported, per type.")
    files: list[ExportFile] = Field(description="In order; empty until ready.")
    expires_at: datetime | None = Field(
        description="After this the files are deleted and downloads answer 410."
    )
    expired_at: datetime | None
    error: str | None = Field(description="Why the export failed.")
