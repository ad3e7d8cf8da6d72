"""Service records providers submit: one at a time or in batches, corrected by amendment,
voided with a reason, never deleted."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from registry.api.dependencies import (
    AppSettings,
    Pagination,
    ServiceRecordsRead,
    ServiceRecordsWrite,
    Session,
)
from registry.api.idempotency import IdempotencyClaim
from registry.api.openapi_responses import links, problem_responses
from registry.api.preconditions import IfMatch, OptionalIfMatch, required_version, version_from
from registry.api.responses import Written, respond, respond_all, respond_page
from registry.api.routes import path_for
from registry.api.schemas.base import IsoDate, PageOf, Reason, ServiceCode
from registry.api.schemas.service_records import (
    BATCH_BODY,
    BATCH_RECORDS,
    NDJSON,
    Amendment,
    Batch,
    BatchResult,
    RecordVersion,
    ServiceRecord,
    ServiceRecordIn,
)
from registry.domain.service_records import commands, queries
from registry.domain.service_records.queries import SERVICE_RECORD
from registry.domain.service_records.rules import EXTERNAL_REF_PATTERN

router = APIRouter(prefix="/service-records", tags=["service records"])

RecordId = Annotated[uuid.UUID, Path(description="The service record's id.")]

_RECORD_LINKS = links(
    {"record_id": "$response.body#/id"},
    GetServiceRecord="get_service_record",
    AmendServiceRecord="amend_service_record",
    VoidServiceRecord="void_service_record",
    GetServiceRecordHistory="get_service_record_history",
)


def _location(request: Request, record_id: uuid.UUID) -> str:
    return path_for(request, "get_service_record", record_id=record_id)


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
    settings: AppSettings,
    body: ServiceRecordIn,
) -> Response:
    """Record a service your provider delivered to a family referred to it. A record with an
    `external_ref` you used before updates that record (200) instead of adding one (201).
    After your access to the family ended (link revoked, referral closed) you may still
    report what you delivered up to that day, for the late-reporting period (default 90
    days)."""
    if idempotency.replay is not None:
        return idempotency.replay
    stored, created = await commands.submit_one(
        session, caller, body.model_dump(), late_reporting_days=settings.late_reporting_days
    )
    return await idempotency.respond(
        stored,
        ServiceRecord,
        status_code=201 if created else 200,
        version=stored["version"],
        location=_location(request, stored["id"]),
        resource_type=SERVICE_RECORD,
        resource_ids=[stored["id"], stored["family_id"]],
    )


@router.post(
    "/batch",
    response_model=BatchResult,
    name="submit_service_record_batch",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": BATCH_BODY},
                # the records, one JSON object (a ServiceRecordIn) per line
                NDJSON: {
                    "schema": {
                        **BATCH_RECORDS,
                        "description": "One `ServiceRecordIn` per line (JSON Lines); "
                        "blank lines are skipped.",
                    }
                },
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
    settings: AppSettings,
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
    content_type = request.headers.get("content-type", "")
    batch = Batch.read(await request.body(), content_type, atomic=atomic)
    results = await commands.submit(
        session,
        caller,
        batch.take_records(),
        atomic=atomic,
        prefixes=batch.prefixes,
        action="submit_service_record_batch",
        late_reporting_days=settings.late_reporting_days,
    )
    return await idempotency.respond(
        Written(batch.answer(results, atomic=atomic)),
        status_code=200,
        resource_type=SERVICE_RECORD,
        resource_ids=[r.id for r in results if r.id],
    )


@router.get(
    "",
    response_model=PageOf[ServiceRecord],
    name="list_service_records",
    responses=problem_responses(403, 422),
)
async def list_service_records(
    request: Request,
    caller: ServiceRecordsRead,
    session: Session,
    page: Pagination,
    provider_id: uuid.UUID | None = None,
    family_id: uuid.UUID | None = None,
    service_code: Annotated[ServiceCode | None, Query()] = None,
    status: Literal["active", "voided"] | None = None,
    delivered_from: IsoDate | None = None,
    delivered_to: IsoDate | None = None,
    external_ref: Annotated[str | None, Query(pattern=EXTERNAL_REF_PATTERN)] = None,
) -> Response:
    """Records within your reach: your provider's own, or those delivered to families of your
    territory; each one returned is recorded in the audit log."""
    result = await queries.list_records(
        session,
        caller,
        page,
        queries.RecordFilter(
            provider_id=provider_id,
            family_id=family_id,
            service_code=service_code,
            status=status,
            delivered_from=delivered_from,
            delivered_to=delivered_to,
            external_ref=external_ref,
        ),
    )
    return respond_page(request, result, PageOf[ServiceRecord])


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
    caller: ServiceRecordsRead, session: Session, record_id: RecordId
) -> Response:
    """One record; the `ETag` is its version (for `If-Match` on an amendment)."""
    found = await queries.get_record(session, caller, record_id)
    return respond(found, ServiceRecord, version=found["version"])


@router.get(
    "/{record_id:uuid}/history",
    response_model=PageOf[RecordVersion],
    name="get_service_record_history",
    responses=problem_responses(403, 404, 422),
)
async def get_service_record_history(
    caller: ServiceRecordsRead, session: Session, record_id: RecordId
) -> Response:
    """Every version of the record, oldest first (one page): what it said, who changed it,
    why, and when each version stood."""
    versions = await queries.history(session, caller, record_id)
    return respond_all(versions, PageOf[RecordVersion])


@router.post(
    "/{record_id:uuid}/amendments",
    response_model=ServiceRecord,
    name="amend_service_record",
    responses=problem_responses(403, 404, 409, 412, 422, 428),
)
async def amend_service_record(
    caller: ServiceRecordsWrite,
    session: Session,
    record_id: RecordId,
    body: Amendment,
    if_match: IfMatch,
    settings: AppSettings,
) -> Response:
    """Correct the record: a new version with the fields given (JSON merge patch) and the
    reason; the earlier version stays in the history. `If-Match` is required."""
    patch = body.model_dump(exclude_unset=True)
    reason = patch.pop("reason")
    amended = await commands.amend(
        session,
        caller,
        record_id,
        patch,
        reason,
        required_version(if_match),
        late_reporting_days=settings.late_reporting_days,
    )
    return respond(amended, ServiceRecord, version=amended["version"])


@router.post(
    "/{record_id:uuid}/void",
    response_model=ServiceRecord,
    name="void_service_record",
    responses=problem_responses(403, 404, 409, 412, 422),
)
async def void_service_record(
    caller: ServiceRecordsWrite,
    session: Session,
    record_id: RecordId,
    body: Reason,
    if_match: OptionalIfMatch = None,
) -> Response:
    """Void a record entered in error, with the reason; it stays, marked voided."""
    voided = await commands.void(session, caller, record_id, body.reason, version_from(if_match))
    return respond(voided, ServiceRecord, version=voided["version"])
