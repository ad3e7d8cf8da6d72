"""How a file leaves the API: streamed in chunks from disk (never read whole into memory),
one byte range of it when the request's ``Range`` asks for one (RFC 9110 §14), with its
length, its digest (``ETag`` and ``Repr-Digest``, RFC 9530) and a file name."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from fastapi.responses import StreamingResponse

from registry.errors import RangeNotSatisfiable

CHUNK_BYTES = 64 * 1024
_ONE_RANGE = re.compile(r"\Abytes=(\d*)-(\d*)\Z", re.ASCII)


def byte_range(header: str | None, length: int) -> tuple[int, int] | None:
    """The first and last byte the ``Range`` header asks for, or None for the whole file:
    no header, one that is not a single byte range (several ranges, another unit, a
    malformed one: RFC 9110 lets a server ignore it and send the whole file). 416 for a
    well-formed range that holds no byte of the file."""
    if header is None:
        return None
    found = _ONE_RANGE.match(header.strip())
    if found is None or found.group(1) == found.group(2) == "":
        return None
    first, last = found.group(1), found.group(2)
    if first == "":  # a suffix: the last N bytes
        suffix = int(last)
        if suffix == 0 or length == 0:
            raise RangeNotSatisfiable("The range asks for no byte of the file.", length=length)
        return max(0, length - suffix), length - 1
    start = int(first)
    end = length - 1 if last == "" else min(int(last), length - 1)
    if last != "" and int(last) < start:
        return None  # invalid (last before first): ignored, as RFC 9110 says
    if start >= length:
        raise RangeNotSatisfiable(
            f"The range starts at byte {start}; the file has {length}.", length=length
        )
    return start, end


async def _chunks(path: Path, start: int, count: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as file:
        await file.seek(start)
        while count > 0:
            chunk = await file.read(min(CHUNK_BYTES, count))
            if not chunk:
                return
            count -= len(chunk)
            yield chunk


def send_file(
    path: Path,
    *,
    name: str,
    length: int,
    sha256: str,
    media_type: str,
    range_header: str | None,
    if_range: str | None,
) -> StreamingResponse:
    """The file, whole (200) or the range asked for (206 with ``Content-Range``). An
    ``If-Range`` that is not the file's ``ETag`` asks for the whole file."""
    etag = f'"{sha256}"'
    wanted = byte_range(range_header, length) if if_range in (None, etag) else None
    digest = base64.b64encode(bytes.fromhex(sha256)).decode()
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Repr-Digest": f"sha-256=:{digest}:",
        "Content-Disposition": f'attachment; filename="{name}"',
    }
    if wanted is None:
        start, end, status = 0, length - 1, 200
    else:
        start, end = wanted
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{length}"
    count = end - start + 1 if length else 0
    headers["Content-Length"] = str(count)
    return StreamingResponse(
        _chunks(path, start, count), status_code=status, headers=headers, media_type=media_type
    )
