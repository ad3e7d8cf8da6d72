"""Bulk exports for integration systems and the ministry: request one, follow its status,
download its NDJSON files (streamed, ``Range`` supported) until they expire.

`registry worker` writes the files; an export is its requester's alone (anyone else: 404).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi import Path as PathParameter
from fastapi.responses import StreamingResponse

from registry.api.dependencies import (
    AppSettings,
    ExportsCreate,
    Pagination,
    Session,
    encode_cursor,
)
from registry.api.downloads import send_file
from registry.api.idempotency import IdempotencyClaim
from registry.api.openapi_responses import problem_responses
from registry.api.responses import respond, respond_page
from registry.api.routes import path_for
from registry.api.schemas.base import PageOf
from registry.api.schemas.exports import ExportCreate, ExportView
from registry.domain.exports import commands, queries
from registry.errors import Gone

router = APIRouter(tags=["exports"])

ExportId = Annotated[uuid.UUID, PathParameter(description="The export's id.")]
NDJSON = "application/x-ndjson"
_FILE_HEADERS = {
    "Accept-Ranges": {"schema": {"type": "string"}},
    "ETag": {"description": "The file's SHA-256 in hex, quoted.", "schema": {"type": "string"}},
    "Repr-Digest": {
        "description": "`sha-256=:<base64>:` (RFC 9530).",
        "schema": {"type": "string"},
    },
    "Content-Length": {"schema": {"type": "integer"}},
}


def _shown(request: Request, export: dict[str, Any]) -> dict[str, Any]:
    """The export with each file's download address and the change feed's cursor."""
    after = export["changes_after"]
    return {
        **export,
        "changes_after": encode_cursor((after,)) if after is not None else None,
        "files": [
            {
                **file,
                "href": path_for(
                    request, "download_export_file", export_id=export["id"], number=file["number"]
                ),
            }
            for file in export["files"]
        ],
    }


@router.post(
    "/exports",
    status_code=202,
    response_model=ExportView,
    name="create_export",
    responses={
        **problem_responses(403, 409, 422),
        202: {
            "description": "Accepted: the worker writes it; follow `Location`.",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
    },
)
async def create_export(
    request: Request,
    caller: ExportsCreate,
    session: Session,
    idempotency: IdempotencyClaim,
    body: ExportCreate,
) -> Response:
    """Ask for every record of `types` within your reach (changed since `since`, in
    `territory`) as NDJSON files, each line a record as the API shows it to you. The
    answer is at once (`202`, status `pending`); poll `Location` until `ready`."""
    if idempotency.replay is not None:
        return idempotency.replay
    export = await commands.request_export(
        session, caller, [t.value for t in body.types], body.since, body.territory
    )
    return await idempotency.respond(
        _shown(request, export),
        ExportView,
        status_code=202,
        location=path_for(request, "get_export", export_id=export["id"]),
        resource_type=queries.EXPORT,
        resource_ids=[export["id"]],
    )


@router.get(
    "/exports",
    response_model=PageOf[ExportView],
    name="list_exports",
    responses=problem_responses(403, 422),
)
async def list_exports(
    request: Request, caller: ExportsCreate, session: Session, page: Pagination
) -> Response:
    """Your own exports, oldest first."""
    found = await queries.list_exports(session, caller, page)
    return respond_page(
        request,
        found,
        PageOf[ExportView],
        items=[_shown(request, export) for export in found.items],
    )


@router.get(
    "/exports/{export_id}",
    response_model=ExportView,
    name="get_export",
    responses=problem_responses(403, 404, 422),
)
async def get_export(
    request: Request, caller: ExportsCreate, session: Session, export_id: ExportId
) -> Response:
    """The export's status and, once `ready`, its files: name, size, SHA-256, records and
    where to download each, until `expires_at`."""
    export = await queries.get_export(session, caller, export_id)
    return respond(_shown(request, export), ExportView)


@router.get(
    "/exports/{export_id}/files/{number}",
    response_class=StreamingResponse,
    name="download_export_file",
    responses={
        **problem_responses(403, 404, 410, 416, 422),
        200: {
            "description": "The whole file: one JSON record a line.",
            "content": {NDJSON: {"schema": {"type": "string"}}},
            "headers": _FILE_HEADERS,
        },
        206: {
            "description": "The byte range asked for (`Content-Range`).",
            "content": {NDJSON: {"schema": {"type": "string"}}},
            "headers": {**_FILE_HEADERS, "Content-Range": {"schema": {"type": "string"}}},
        },
    },
)
async def download_export_file(
    caller: ExportsCreate,
    session: Session,
    settings: AppSettings,
    export_id: ExportId,
    number: Annotated[int, PathParameter(ge=1, le=100_000, description="The file's number.")],
    range_: Annotated[
        str | None,
        Header(
            alias="Range",
            max_length=200,
            description="One byte range (`bytes=0-1023`, `bytes=1024-`, `bytes=-500`) to "
            "resume or split a download; anything else is ignored (the whole file).",
        ),
    ] = None,
    if_range: Annotated[
        str | None,
        Header(
            alias="If-Range",
            max_length=200,
            description="The file's `ETag`: the range only if the file is still that one.",
        ),
    ] = None,
) -> StreamingResponse:
    """One file of a ready export, streamed; `Range` for a part of it (`206`), `416` for a
    range past its end, `410` once the export's files have expired."""
    file = await queries.export_file(session, caller, export_id, number)
    path = Path(settings.exports_dir) / str(export_id) / file["name"]
    if not path.is_file():
        # Swept between the worker's delete and its marking the export expired.
        raise Gone("The export's files have expired and were deleted; request a new export.")
    return send_file(
        path,
        name=file["name"],
        length=file["bytes"],
        sha256=file["sha256"],
        media_type=NDJSON,
        range_header=range_,
        if_range=if_range,
    )
