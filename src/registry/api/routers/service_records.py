"""Service records providers submit: one at a time or in batches, corrected by amendment,
voided with a reason, never deleted."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import Field, TypeAdapter, ValidationError, field_validator

from registry.api.dependencies import (
    Pagination,
    ServiceRecordsRead,
    ServiceRecordsWrite,
    Session,
    page_body,
)
from registry.api.idempotency import IdempotencyClaim
from registry.api.openapi_responses import links, problem_responses
from registry.api.preconditions import IfMatch, OptionalIfMatch, required_version, version_from
from registry.api.responses import etag
from registry.api.schemas.base import (
    InputSchema,
    IsoDate,
    NotNull,
    PageOf,
    Reason,
    Schema,
    refuse_null,
    text_field,
)
from registry.domain.service_records import commands as records
from registry.domain.service_records.rules import (
    MAX_BATCH,
    MAX_DURATION_MINUTES,
    MAX_UNITS,
    Outcome,
    Place,
)
from registry.errors import FieldError, InvalidInput, MalformedRequest, UnsupportedMediaType

router = APIRouter(prefix="/service-records", tags=["service records"])

SERVICE_CODE_PATTERN = r"^[0-9]{3}\.[0-9]$"
EXTERNAL_REF_PATTERN = r"^[\x21-\x7e]{1,100}$"
NDJSON = "application/x-ndjson"

RecordId = Annotated[uuid.UUID, Path(description="The service record's id.")]
ServiceCode = Annotated[
    str,
    Field(pattern=SERVICE_CODE_PATTERN, description="A code of `/services` your provider offers."),
]
Units = Annotated[
    int,
    Field(
        ge=1, le=MAX_UNITS, description="How many units (sessions, visits, sets) were delivered."
    ),
]
Duration = Annotated[int, Field(ge=1, le=MAX_DURATION_MINUTES, description="Minutes.")]
Notes = Annotated[str, text_field(2000)]


class ServiceRecordIn(InputSchema):
    family_id: uuid.UUID = Field(description="A family referred (linked) to your provider.")
    person_id: uuid.UUID | None = Field(
        default=None, description="The member who received the service, if one did."
    )
    service_code: ServiceCode
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
        pattern=EXTERNAL_REF_PATTERN,
        description="Your system's id for the record, unique per provider: submitting it "
        "again updates that record instead of adding one.",
    )


class Amendment(InputSchema):
    """A JSON merge patch of the record's content, and why it is corrected."""

    reason: Annotated[str, text_field(1000)]
    family_id: uuid.UUID | NotNull = None
    person_id: uuid.UUID | None = None
    service_code: ServiceCode | NotNull = None
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
    hromada_code: str = Field(description="The family's hromada when the record was made.")
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


_RECORD_LINKS = links(
    {"record_id": "$response.body#/id"},
    GetServiceRecord="get_service_record",
    AmendServiceRecord="amend_service_record",
    VoidServiceRecord="void_service_record",
    GetServiceRecordHistory="get_service_record_history",
)


def _location(request: Request, record_id: uuid.UUID) -> str:
    return str(request.url_for("get_service_record", record_id=record_id).path)


@router.post(
    "",
    status_code=201,
    response_model=ServiceRecord,
    name="submit_service_record",
    responses={
        **problem_responses(403, 409, 422),
        200: {
            "description": "Your `external_ref` named a record you "
            "submitted before: it was updated (a new version) "
            "or was already the same.",
            "model": ServiceRecord,
        },
        201: {
            "headers": {
                "Location": {"schema": {"type": "string"}},
                "ETag": {"schema": {"type": "string"}},
            },
            "links": _RECORD_LINKS,
        },
    },
)
async def submit_service_record(
    request: Request,
    caller: ServiceRecordsWrite,
    session: Session,
    idempotency: IdempotencyClaim,
    body: ServiceRecordIn,
) -> Response:
    """Record a service your provider delivered to a family referred to it. A record with an
    `external_ref` you used before updates that record (200) instead of adding one (201)."""
    if idempotency.replay is not None:
        return idempotency.replay
    (result,) = await records.submit(
        session,
        caller,
        [body.model_dump()],
        atomic=True,
        prefixes=["body."],
        action="submit_service_record",
    )
    if not result.accepted:
        raise InvalidInput("The record has invalid fields; see errors.", errors=result.errors)
    assert result.id is not None
    (stored,) = await records.records_by_id(session, caller, [result.id])
    return await idempotency.respond(
        stored,
        ServiceRecord,
        status_code=201 if result.outcome == "created" else 200,
        version=stored["version"],
        location=_location(request, result.id),
        resource_type=records.SERVICE_RECORD,
        resource_ids=[result.id, stored["family_id"]],
    )


_one_record = TypeAdapter(ServiceRecordIn)

#: Each item is checked on its own and answered in ``results`` (a bad record does not spoil
#: the batch), so the batch's schema does not constrain the items: what each must be is
#: ``ServiceRecordIn``, the body of a single submission.
_BATCH_RECORDS: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_BATCH,
    "items": {
        "description": "A `ServiceRecordIn` (as `POST /service-records` takes); each "
        "is accepted or rejected on its own, see `results`."
    },
}
_BATCH_BODY = {
    "type": "object",
    "required": ["records"],
    "additionalProperties": False,
    "properties": {"records": _BATCH_RECORDS},
}


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


@router.post(
    "/batch",
    response_model=BatchResult,
    name="submit_service_record_batch",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _BATCH_BODY},
                # the records, one JSON object per line
                NDJSON: {"schema": _BATCH_RECORDS},
            },
        }
    },
    responses=problem_responses(403, 409, 413, 415, 422),
)
async def submit_service_record_batch(
    request: Request,
    caller: ServiceRecordsWrite,
    session: Session,
    idempotency: IdempotencyClaim,
    atomic: Annotated[
        bool,
        Query(
            description="All or nothing: when any record is rejected, "
            "none is stored and the answer is a 422 "
            "listing every problem."
        ),
    ] = False,
) -> Response:
    """Submit up to 10 000 records: `{"records": [...]}` as JSON, or one record per line as
    NDJSON (`application/x-ndjson`). Each is accepted (with its id) or rejected (with the
    reasons) on its own, unless `atomic=true`."""
    if idempotency.replay is not None:
        return idempotency.replay
    items = _batch_items(await request.body(), request.headers.get("content-type", ""))
    valid: list[dict[str, Any]] = []
    positions: list[int] = []
    shape_errors: dict[int, list[FieldError]] = {}
    for index, item in enumerate(items):
        try:
            valid.append(_one_record.validate_python(item).model_dump())
            positions.append(index)
        except ValidationError as error:
            shape_errors[index] = _shape_errors(error, f"records.{index}.")
    if atomic and shape_errors:
        raise InvalidInput(
            "Some records are invalid; none was stored.",
            errors=[e for errors in shape_errors.values() for e in errors],
        )
    results = (
        await records.submit(
            session,
            caller,
            valid,
            atomic=atomic,
            prefixes=[f"records.{i}." for i in positions],
            action="submit_service_record_batch",
        )
        if valid
        else []
    )
    if atomic and not all(r.accepted for r in results):
        raise InvalidInput(
            "Some records are invalid; none was stored.",
            errors=[e for r in results for e in r.errors],
        )
    by_index: dict[int, dict[str, Any]] = {
        index: {
            "index": index,
            "status": "rejected",
            "id": None,
            "external_ref": items[index].get("external_ref")
            if isinstance(items[index], dict)
            else None,
            "version": None,
            "outcome": None,
            "errors": [{"field": e.field, "message": e.message} for e in errors],
        }
        for index, errors in shape_errors.items()
    }
    for position, result in zip(positions, results, strict=True):
        by_index[position] = {
            "index": position,
            "status": "accepted" if result.accepted else "rejected",
            "id": str(result.id) if result.id else None,
            "external_ref": result.external_ref,
            "version": result.version,
            "outcome": result.outcome,
            "errors": [{"field": e.field, "message": e.message} for e in result.errors],
        }
    ordered = [by_index[i] for i in range(len(items))]
    accepted = sum(1 for r in ordered if r["status"] == "accepted")
    content = {"accepted": accepted, "rejected": len(ordered) - accepted, "results": ordered}
    return await idempotency.respond(
        content,
        status_code=200,
        resource_type=records.SERVICE_RECORD,
        resource_ids=[r["id"] for r in ordered if r["id"]],
    )


@router.get(
    "",
    response_model=PageOf[ServiceRecord],
    name="list_service_records",
    responses=problem_responses(403, 422),
)
async def list_service_records(
    request: Request,
    response: Response,
    caller: ServiceRecordsRead,
    session: Session,
    page: Pagination,
    provider_id: uuid.UUID | None = None,
    family_id: uuid.UUID | None = None,
    service_code: Annotated[str | None, Query(pattern=SERVICE_CODE_PATTERN)] = None,
    status: Literal["active", "voided"] | None = None,
    delivered_from: IsoDate | None = None,
    delivered_to: IsoDate | None = None,
    external_ref: Annotated[str | None, Query(pattern=EXTERNAL_REF_PATTERN)] = None,
) -> dict[str, object]:
    """Records within your reach: your provider's own, or those delivered to families of your
    territory; each one returned is recorded in the audit log."""
    result = await records.list_records(
        session,
        caller,
        page,
        records.RecordFilter(
            provider_id=provider_id,
            family_id=family_id,
            service_code=service_code,
            status=status,
            delivered_from=delivered_from,
            delivered_to=delivered_to,
            external_ref=external_ref,
        ),
    )
    return page_body(request, response, result, result.items)


@router.get(
    "/{record_id:uuid}",
    response_model=ServiceRecord,
    name="get_service_record",
    responses={
        **problem_responses(403, 404, 422),
        200: {"headers": {"ETag": {"schema": {"type": "string"}}}},
    },
)
async def get_service_record(
    response: Response, caller: ServiceRecordsRead, session: Session, record_id: RecordId
) -> dict[str, Any]:
    """One record; the `ETag` is its version (for `If-Match` on an amendment)."""
    found = await records.get_record(session, caller, record_id)
    response.headers["ETag"] = etag(found["version"])
    return found


@router.get(
    "/{record_id:uuid}/history",
    response_model=PageOf[RecordVersion],
    name="get_service_record_history",
    responses=problem_responses(403, 404, 422),
)
async def get_service_record_history(
    caller: ServiceRecordsRead, session: Session, record_id: RecordId
) -> dict[str, object]:
    """Every version of the record, oldest first (one page): what it said, who changed it,
    why, and when each version stood."""
    return {"items": await records.history(session, caller, record_id), "next_cursor": None}


@router.post(
    "/{record_id:uuid}/amendments",
    response_model=ServiceRecord,
    name="amend_service_record",
    responses=problem_responses(403, 404, 409, 412, 422, 428),
)
async def amend_service_record(
    response: Response,
    caller: ServiceRecordsWrite,
    session: Session,
    record_id: RecordId,
    body: Amendment,
    if_match: IfMatch,
) -> dict[str, Any]:
    """Correct the record: a new version with the fields given (JSON merge patch) and the
    reason; the earlier version stays in the history. `If-Match` is required."""
    values = body.model_dump(exclude_unset=True)
    reason = values.pop("reason")
    amended = await records.amend(
        session, caller, record_id, values, reason, required_version(if_match)
    )
    response.headers["ETag"] = etag(amended["version"])
    return amended


@router.post(
    "/{record_id:uuid}/void",
    response_model=ServiceRecord,
    name="void_service_record",
    responses=problem_responses(403, 404, 409, 412, 422),
)
async def void_service_record(
    response: Response,
    caller: ServiceRecordsWrite,
    session: Session,
    record_id: RecordId,
    body: Reason,
    if_match: OptionalIfMatch = None,
) -> dict[str, Any]:
    """Void a record entered in error, with the reason; it stays, marked voided."""
    voided = await records.void(session, caller, record_id, body.reason, version_from(if_match))
    response.headers["ETag"] = etag(voided["version"])
    return voided
