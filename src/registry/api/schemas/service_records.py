"""Shapes of service records: what a provider submits and amends, what a record and its
versions look like, and the batch (its body as read, each item checked on its own, and
its answer)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import Field, TypeAdapter, ValidationError, field_validator

from registry.api.schemas.base import (
    JSON_INTEGER,
    InputSchema,
    IsoDate,
    NotNull,
    ReasonText,
    Schema,
    ServiceCode,
    refuse_null,
    text_field,
)
from registry.api.schemas.words import worded
from registry.domain.service_records.commands import Result
from registry.domain.service_records.rules import (
    EXTERNAL_REF_PATTERN,
    MAX_BATCH,
    MAX_DURATION_MINUTES,
    MAX_UNITS,
    Outcome,
    Place,
)
from registry.errors import FieldError, InvalidInput, MalformedRequest, UnsupportedMediaType

NDJSON = "application/x-ndjson"

OfferedServiceCode = Annotated[
    ServiceCode, Field(description="A code of `/services` your provider offers.")
]
Units = Annotated[
    int,
    Field(
        ge=1, le=MAX_UNITS, description="How many units (sessions, visits, sets) were delivered."
    ),
    JSON_INTEGER,
]
Duration = Annotated[
    int, Field(ge=1, le=MAX_DURATION_MINUTES, description="Minutes."), JSON_INTEGER
]
Notes = Annotated[str, text_field(2000, multiline=True)]


class ServiceRecordIn(InputSchema):
    family_id: uuid.UUID = Field(
        description="A family referred (linked) to your provider, or whose access ended "
        "within the late-reporting period (for a service delivered by the end)."
    )
    person_id: uuid.UUID | None = Field(
        default=None, description="The member who received the service, if one did."
    )
    service_code: OfferedServiceCode
    delivered_on: IsoDate = Field(description="From 2020-01-01 up to today.")
    units: Units = 1
    duration_minutes: Duration | None = None
    place: Place = Field(description="One of the places your provider offers the service at.")
    outcome: Outcome
    notes: Notes | None = None
    case_id: uuid.UUID | None = Field(
        default=None, description="The case the service serves, if any."
    )
    external_ref: str | None = Field(
        default=None,
        pattern=worded(
            EXTERNAL_REF_PATTERN,
            "must be 1 to 100 printable ASCII characters without spaces",
        ),
        description="Your system's id for the record, unique per provider: submitting it "
        "again updates that record instead of adding one.",
    )


class Amendment(InputSchema):
    """A JSON merge patch of the record's content, and why it is corrected."""

    reason: ReasonText
    family_id: uuid.UUID | NotNull = None
    person_id: uuid.UUID | None = None
    service_code: OfferedServiceCode | NotNull = None
    delivered_on: IsoDate | NotNull = None
    units: Units | NotNull = None
    duration_minutes: Duration | None = None
    place: Place | NotNull = None
    outcome: Outcome | NotNull = None
    notes: Notes | None = None
    case_id: uuid.UUID | None = None

    _not_null = field_validator(
        "family_id", "service_code", "delivered_on", "units", "place", "outcome"
    )(refuse_null)


class ServiceRecord(Schema):
    id: uuid.UUID
    provider_id: uuid.UUID
    external_ref: str | None
    family_id: uuid.UUID
    person_id: uuid.UUID | None
    service_code: str
    delivered_on: date
    units: int
    duration_minutes: int | None
    place: Place
    outcome: Outcome
    notes: str | None
    case_id: uuid.UUID | None
    hromada_code: str = Field(
        description="The family's hromada, by which its officers reach the record; it follows "
        "the family when the family is relocated (a new version)."
    )
    status: Literal["active", "voided"]
    void_reason: str | None
    voided_at: datetime | None
    change_reason: str | None = Field(
        description="Why the current version was made (null for the first)."
    )
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Also sent as the `ETag`; send it back in `If-Match`.")


class RecordVersionContent(Schema):
    family_id: uuid.UUID
    person_id: uuid.UUID | None
    service_code: str
    delivered_on: date
    units: int
    duration_minutes: int | None
    place: Place
    outcome: Outcome
    notes: str | None
    case_id: uuid.UUID | None
    status: Literal["active", "voided"]
    void_reason: str | None


class RecordVersion(Schema):
    version: int
    record: RecordVersionContent
    changed_by: str = Field(description="Who made this version (the token's subject).")
    change_reason: str | None
    valid_from: datetime
    valid_to: datetime | None = Field(description="Null for the current version.")


class ErrorItem(Schema):
    field: str
    message: str


class BatchItemResult(Schema):
    index: int = Field(description="The record's position in the batch, from 0.")
    status: Literal["accepted", "rejected"]
    id: uuid.UUID | None
    external_ref: str | None
    version: int | None
    outcome: Literal["created", "updated", "unchanged"] | None
    errors: list[ErrorItem]


class BatchResult(Schema):
    accepted: int
    rejected: int
    results: list[BatchItemResult]


# --- the batch ---------------------------------------------------------------------------------

#: Each item is a ``ServiceRecordIn``, the body of a single submission (so generated clients
#: get the record's type). The route reads the body itself: each item is checked on its own
#: and answered in ``results`` (a bad record does not spoil the batch unless ``atomic``).
BATCH_RECORDS: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_BATCH,
    "items": {
        "$ref": "#/components/schemas/ServiceRecordIn",
        "description": "A record as `POST /service-records` takes it; each is accepted or "
        "rejected on its own, see `results`.",
    },
}
BATCH_BODY = {
    "type": "object",
    "required": ["records"],
    "additionalProperties": False,
    "properties": {"records": BATCH_RECORDS},
}

_one_record = TypeAdapter(ServiceRecordIn)


def _batch_items(raw: bytes, content_type: str) -> list[Any]:
    """The batch's records as parsed JSON values: ``{"records": [...]}`` or NDJSON lines."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in ("application/json", NDJSON):
        raise UnsupportedMediaType(f"Send the batch as application/json or {NDJSON}.")
    try:
        if media_type == NDJSON:
            items = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
        else:
            body = orjson.loads(raw)
            if (
                not isinstance(body, dict)
                or set(body) != {"records"}
                or not isinstance(body["records"], list)
            ):
                raise InvalidInput(
                    "The body must be an object with a `records` list.",
                    errors=[FieldError("body", 'expected {"records": [...]}')],
                )
            items = body["records"]
    except orjson.JSONDecodeError:
        raise MalformedRequest("The body is not valid JSON (or NDJSON).") from None
    if not items or len(items) > MAX_BATCH:
        raise InvalidInput(
            f"A batch holds 1 to {MAX_BATCH} records.",
            errors=[FieldError("body.records", f"{len(items)} records")],
        )
    return items


def _shape_errors(error: ValidationError, prefix: str) -> list[FieldError]:
    return [
        FieldError(prefix + ".".join(str(part) for part in e["loc"]), e["msg"])
        for e in error.errors(include_url=False)
    ]


def _errors(errors: Sequence[FieldError]) -> list[dict[str, str]]:
    return [{"field": e.field, "message": e.message} for e in errors]


@dataclass(slots=True)
class Batch:
    """A batch of ``size`` items as read: those of ``ServiceRecordIn``'s shape (``records``,
    at ``positions`` in the batch), and the shape errors of the others by position, with the
    ``external_ref`` each gave (``shape_refs``, for its answer)."""

    size: int
    records: list[dict[str, Any]]
    positions: list[int]
    shape_errors: dict[int, list[FieldError]]
    shape_refs: dict[int, Any]

    @classmethod
    def read(cls, raw: bytes, content_type: str, *, atomic: bool) -> Batch:
        """The batch in ``raw`` (415, 400 or 422 when it is no batch); with ``atomic``, a
        422 listing every shape error when any item has one. Each parsed item is let go as
        soon as it is checked: the batch never holds both its items and their records."""
        items = _batch_items(raw, content_type)
        batch = cls(len(items), [], [], {}, {})
        for index, item in enumerate(items):
            items[index] = None
            try:
                batch.records.append(_one_record.validate_python(item).model_dump())
                batch.positions.append(index)
            except ValidationError as error:
                batch.shape_errors[index] = _shape_errors(error, f"records.{index}.")
                batch.shape_refs[index] = (
                    item.get("external_ref") if isinstance(item, dict) else None
                )
        if atomic and batch.shape_errors:
            raise InvalidInput(
                "Some records are invalid; none was stored.",
                errors=[e for errors in batch.shape_errors.values() for e in errors],
            )
        return batch

    @property
    def prefixes(self) -> list[str]:
        """Where each of ``records`` sits in the request, for field errors."""
        return [f"records.{i}." for i in self.positions]

    def take_records(self) -> list[dict[str, Any]]:
        """The records, to submit: the batch keeps them no longer, so they are let go once
        submitted, before the answer is written."""
        records, self.records = self.records, []
        return records

    def answer(self, results: Sequence[Result], *, atomic: bool) -> bytes:
        """The ``BatchResult`` of the submitted records' ``results``, as JSON written item by
        item: ten thousand items skip a Pydantic pass, and each is its bytes at once, never a
        list of them all as dicts. The bytes are those ``orjson.dumps`` writes of the whole
        ``BatchResult`` (a test holds them to the model's shape). With ``atomic``, a 422
        listing every problem when any record was rejected."""
        if atomic and not all(r.accepted for r in results):
            raise InvalidInput(
                "Some records are invalid; none was stored.",
                errors=[e for r in results for e in r.errors],
            )
        submitted = dict(zip(self.positions, results, strict=True))
        accepted = sum(1 for r in results if r.accepted)
        written = bytearray(
            b'{"accepted":%d,"rejected":%d,"results":[' % (accepted, self.size - accepted)
        )
        for index in range(self.size):
            if index:
                written += b","
            result = submitted.get(index)
            written += orjson.dumps(
                {
                    "index": index,
                    "status": "rejected",
                    "id": None,
                    "external_ref": self.shape_refs[index],
                    "version": None,
                    "outcome": None,
                    "errors": _errors(self.shape_errors[index]),
                }
                if result is None
                else {
                    "index": index,
                    "status": "accepted" if result.accepted else "rejected",
                    "id": str(result.id) if result.id else None,
                    "external_ref": result.external_ref,
                    "version": result.version,
                    "outcome": result.outcome,
                    "errors": _errors(result.errors),
                }
            )
        written += b"]}"
        return bytes(written)
