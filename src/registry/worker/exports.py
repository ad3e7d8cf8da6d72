"""The export pass: expire what is past retention, then take one waiting export and write it.

An export is read in one read-only transaction that sees one moment (``Database.snapshot``),
as its requester (their reach set for row-level security, their principal rebuilt from the
claims kept with the export), type by type in keyset batches; each record becomes one NDJSON
line written straight to the current file, whose SHA-256 and size are counted as it is
written. A file is closed before a line would take it past ``REGISTRY_EXPORT_PORTION_BYTES``.
So memory holds one batch of records, whatever the export's size. The export is completed
(files, counts, expiry, its one audit event) in a short transaction of its own; a worker
that lost its claim meanwhile (its lease ran out and another took the export over) deletes
what it wrote and changes nothing.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import time
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import structlog

from registry.db.engine import Database
from registry.domain.exports import commands, queries
from registry.domain.exports.access import requester_of
from registry.domain.exports.commands import Claim
from registry.domain.exports.rules import file_name
from registry.domain.shared.caller import Caller
from registry.domain.shared.reach import reach_of
from registry.domain.shared.sealing import IdentifierKeys, load_identifier_keys
from registry.errors import ServiceUnavailable
from registry.settings import Settings

log = structlog.get_logger("registry.worker.exports")

#: Records read and rendered at a time: enough to keep round trips few, few enough that
#: memory stays flat (a family with its members renders to ≈ 2–4 KB).
BATCH_SIZE = 500
#: Ready exports whose files one pass deletes at most.
EXPIRE_AT_ONCE = 100
FAILED = "The export could not be written; request it again."


class RecordTooLarge(Exception):
    """One record's line is larger than a whole portion may be."""


class ClaimLost(Exception):
    """Another worker took the export over (this one's lease ran out)."""


class Portions:
    """NDJSON files of at most ``limit`` bytes each, in ``directory``, numbered across the
    export's types from 1; each file's size, SHA-256 and line count kept as it is written."""

    def __init__(self, directory: Path, limit: int) -> None:
        self.directory = directory
        self.limit = limit
        self.files: list[dict[str, Any]] = []
        self._type: str | None = None
        self._file: BinaryIO | None = None
        self._digest = hashlib.sha256()
        self._size = 0
        self._records = 0

    def begin(self, record_type: str) -> None:
        self.end()
        self._type = record_type

    def write(self, line: bytes) -> None:
        if len(line) > self.limit:
            raise RecordTooLarge
        if self._file is None or self._size + len(line) > self.limit:
            self._open()
        assert self._file is not None
        self._file.write(line)
        self._digest.update(line)
        self._size += len(line)
        self._records += 1

    def _open(self) -> None:
        self._close()
        assert self._type is not None
        number = len(self.files) + 1
        name = file_name(self._type, number)
        self._file = (self.directory / name).open("wb")
        self._digest = hashlib.sha256()
        self._size = 0
        self._records = 0
        self.files.append({"number": number, "name": name, "type": self._type})

    def _close(self) -> None:
        if self._file is None:
            return
        self._file.close()
        self._file = None
        self.files[-1].update(
            bytes=self._size, sha256=self._digest.hexdigest(), records=self._records
        )

    def end(self) -> None:
        """Close the current type's last file (a type with no records has none)."""
        self._close()
        self._type = None


def line_of(record: dict[str, Any]) -> bytes:
    """A record as one NDJSON line, encoded as the API encodes its answers (RFC 3339 times in
    UTC with ``Z``)."""
    return orjson.dumps(record, default=str, option=orjson.OPT_UTC_Z) + b"\n"


@functools.lru_cache(maxsize=4)
def _identifier_keys(keys_file: Path | None, development_dir: Path) -> IdentifierKeys:
    return load_identifier_keys(keys_file, development_dir)


def export_directory(settings: Settings, export_id: Any) -> Path:
    return settings.exports_dir / str(export_id)


async def run_once(database: Database, settings: Settings) -> int:
    """One pass: the exports expired, plus the one export written (or failed); 0 when there
    was nothing to do."""
    done = await expire(database, settings)
    async with database.transaction() as session:
        claim = await commands.claim_next(session, settings.export_lease_seconds)
    if claim is None:
        return done
    if not claim.given_up:
        await write(database, settings, claim)
    return done + 1


async def expire(database: Database, settings: Settings) -> int:
    """Delete the files of ready exports past their expiry and mark them ``expired``, in the
    transaction that holds them locked (a crash between the two leaves them ready, their
    files gone, which downloads already treat as gone: the next pass marks them)."""
    async with database.transaction() as session:
        lapsed = await commands.lapsed_exports(session, EXPIRE_AT_ONCE)
        for export_id in lapsed:
            shutil.rmtree(export_directory(settings, export_id), ignore_errors=True)
        if lapsed:
            await commands.mark_expired(session, lapsed)
    return len(lapsed)


async def write(database: Database, settings: Settings, claim: Claim) -> None:
    """Write the export's files and complete it, or fail it."""
    directory = export_directory(settings, claim.export_id)
    shutil.rmtree(directory, ignore_errors=True)  # an earlier attempt's, if it died
    directory.mkdir(parents=True)
    principal = requester_of(claim.claims)
    caller = Caller(
        principal,
        claim.request_id,
        claim.purpose,
        keys=_identifier_keys(settings.identifier_keys_file, settings.development_keys_dir),
    )
    portions = Portions(directory, settings.export_portion_bytes)
    counts: dict[str, int] = {}
    renewed = time.monotonic()
    try:
        async with database.transaction() as session:
            await commands.number_committed_changes(session)
        async with database.snapshot(reach=lambda: reach_of(principal)) as session:
            as_of, changes_after = await queries.snapshot_facts(session)
            for record_type in claim.types:
                portions.begin(record_type)
                counts[record_type] = 0
                async for batch in queries.record_batches(
                    session,
                    caller,
                    record_type,
                    since=claim.since,
                    territory=claim.territory,
                    batch_size=BATCH_SIZE,
                ):
                    for record in batch:
                        portions.write(line_of(record))
                    counts[record_type] += len(batch)
                    if time.monotonic() - renewed > settings.export_lease_seconds / 3:
                        await _renew(database, claim)
                        renewed = time.monotonic()
                portions.end()
        async with database.transaction() as session:
            completed = await commands.complete(
                session,
                caller,
                claim,
                as_of=as_of,
                changes_after=changes_after,
                counts=counts,
                files=portions.files,
                retention_hours=settings.export_retention_hours,
            )
        if not completed:
            raise ClaimLost
    except ClaimLost:
        portions.end()
        shutil.rmtree(directory, ignore_errors=True)
        log.warning("export_claim_lost", export_id=str(claim.export_id))
    except ServiceUnavailable:
        # The database cannot serve now: the export stays running and is taken again once
        # its lease runs out.
        portions.end()
        shutil.rmtree(directory, ignore_errors=True)
        raise
    except Exception as error:
        portions.end()
        shutil.rmtree(directory, ignore_errors=True)
        reason = (
            f"A record is larger than a portion ({settings.export_portion_bytes} bytes)."
            if isinstance(error, RecordTooLarge)
            else FAILED
        )
        # Only the error's kind: its text could quote a record.
        log.error("export_failed", export_id=str(claim.export_id), error=type(error).__name__)
        async with database.transaction() as session:
            await commands.fail(session, claim, reason)
    else:
        log.info("export_written", export_id=str(claim.export_id), files=len(portions.files))


async def _renew(database: Database, claim: Claim) -> None:
    async with database.transaction() as session:
        if not await commands.renew(session, claim):
            raise ClaimLost
