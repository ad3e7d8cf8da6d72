"""National identifiers (RNOKPP, UNZR, IDP certificate numbers) sealed at rest with keys the
database never holds, and found again by a keyed blind index.

A sealed value is AES-256-GCM ciphertext in a small envelope that names its key:

    format (1 byte: 1) | key id length (1) | key id (ASCII) | nonce (12) | ciphertext + tag (16)

Its associated data binds it to its place: the envelope's header, the place's name (the
table and column, e.g. ``persons.rnokpp``) and the row's key. A value copied to another row
or column, or altered, does not open: :class:`SealedValueRejected`, never a wrong value.

A blind index is HMAC-SHA256, under an index key of its own, of the identifier's kind and its
normalised value: equal numbers have equal indexes, so exact lookup, uniqueness and duplicate
detection work on it, while the database alone cannot tell which number it is. The kind is
part of the message, so an RNOKPP and a UNZR of the same digits never share an index.

Encryption keys rotate (the active one seals, every configured one opens: see
:func:`reseal_batch`); the index key does not, since changing it means recomputing every
index from the opened values.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Table, bindparam, func, select, true, tuple_, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.keys import write_secret_once

#: The file the development keys are made in (under ``Settings.development_keys_dir``).
DEVELOPMENT_KEYS_FILE = "identifier-keys.json"
DEVELOPMENT_KEY_ID = "dev"
KEY_BYTES = 32  # AES-256
MIN_INDEX_KEY_BYTES = 32
_FORMAT = 1
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KEY_ID = re.compile(r"\A[A-Za-z0-9._-]{1,32}\Z")
_WHITESPACE = re.compile(r"\s+")
_INDEX_DOMAIN = b"registry blind index 1\x00"


class IdentifierKeyError(RuntimeError):
    """The configured identifier keys are unusable (unreadable, malformed, too short)."""


class SealedValueRejected(Exception):
    """A stored sealed value did not open: altered, moved from another row or column, or
    sealed under a key that is not configured. Its text names the place and the key id, never
    the value."""

    def __init__(self, place: str, key_id: str | None, reason: str) -> None:
        super().__init__(f"a sealed value of {place} (key {key_id or '?'}) {reason}")
        self.place = place
        self.key_id = key_id


def _normalise_rnokpp(value: str) -> str:
    return _WHITESPACE.sub("", value)


def _normalise_unzr(value: str) -> str:
    digits = _WHITESPACE.sub("", value).replace("-", "")
    return f"{digits[:8]}-{digits[8:]}"


#: How each kind of looked-up identifier is normalised before it is indexed: the form the
#: validators store (``identifiers.validate_rnokpp`` / ``validate_unzr``), whatever the input.
_NORMALISE: dict[str, Callable[[str], str]] = {
    "rnokpp": _normalise_rnokpp,
    "unzr": _normalise_unzr,
}


@dataclass(frozen=True, slots=True)
class IdentifierKeys:
    """The encryption keys by id (``active`` seals, all of them open) and the index key."""

    active: str
    _ciphers: dict[str, AESGCM] = field(repr=False)
    _index_key: bytes = field(repr=False)
    #: Each key's cipher by the header it writes: what ``open`` looks a value's key up by
    #: (a list page opens a few hundred identifiers; parsing each header costs more than
    #: the decryption).
    _by_header: dict[bytes, AESGCM] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_header = {_header(key_id): cipher for key_id, cipher in self._ciphers.items()}
        object.__setattr__(self, "_by_header", by_header)

    @classmethod
    def from_document(cls, document: Any) -> IdentifierKeys:
        """Keys from ``{"active": ID, "keys": {ID: base64, …}, "index_key": base64}``."""
        if not isinstance(document, dict):
            raise IdentifierKeyError("the keys document must be a JSON object")
        active, keys = document.get("active"), document.get("keys")
        if not isinstance(keys, dict) or not keys:
            raise IdentifierKeyError('"keys" must map key ids to base64 keys')
        ciphers: dict[str, AESGCM] = {}
        raw_keys = set()
        for key_id, encoded in keys.items():
            if not _KEY_ID.match(key_id):
                raise IdentifierKeyError(
                    f"key id {key_id!r} must be 1 to 32 letters, digits, '.', '_' or '-'"
                )
            raw = _decode(encoded, f"key {key_id}")
            if len(raw) != KEY_BYTES:
                raise IdentifierKeyError(f"key {key_id} must be {KEY_BYTES} bytes (AES-256)")
            ciphers[key_id] = AESGCM(raw)
            raw_keys.add(raw)
        if active not in ciphers:
            raise IdentifierKeyError('"active" must name one of "keys"')
        index_key = _decode(document.get("index_key"), "index_key")
        if len(index_key) < MIN_INDEX_KEY_BYTES:
            raise IdentifierKeyError(f"index_key must be at least {MIN_INDEX_KEY_BYTES} bytes")
        if index_key in raw_keys:
            raise IdentifierKeyError("index_key must not be one of the encryption keys")
        return cls(str(active), ciphers, index_key)

    @classmethod
    def from_file(cls, path: Path) -> IdentifierKeys:
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise IdentifierKeyError(f"cannot read identifier keys file {path}: {error}") from error
        return cls.from_document(document)

    # --- sealing ---------------------------------------------------------------------------

    def seal(self, value: str | bytes, place: str, *row_key: object) -> bytes:
        """``value`` sealed under the active key, bound to ``place`` and the row's key."""
        plaintext = value.encode() if isinstance(value, str) else value
        header = _header(self.active)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self.active].encrypt(
            nonce, plaintext, _associated_data(header, place, row_key)
        )
        return header + nonce + sealed

    def open(self, sealed: bytes, place: str, *row_key: object) -> bytes:
        """The value ``seal`` sealed at this place and row (:class:`SealedValueRejected` if
        it was altered, moved, or its key is not configured)."""
        sealed = bytes(sealed)
        nonce_at = 2 + sealed[1] if len(sealed) >= 2 and sealed[0] == _FORMAT else 0
        header = sealed[:nonce_at]
        cipher = self._by_header.get(header) if nonce_at else None
        if cipher is None:
            key_id, _ = _parse_header(sealed, place)  # (a malformed header is rejected here)
            raise SealedValueRejected(place, key_id, "is sealed under a key not configured")
        body_at = nonce_at + _NONCE_BYTES
        if len(sealed) < body_at + _TAG_BYTES:
            raise SealedValueRejected(place, _key_id(header), "is truncated")
        try:
            return cipher.decrypt(
                sealed[nonce_at:body_at], sealed[body_at:], _associated_data(header, place, row_key)
            )
        except InvalidTag:
            raise SealedValueRejected(
                place,
                _key_id(header),
                "failed its integrity check (altered, or moved from elsewhere)",
            ) from None

    def open_text(self, sealed: bytes, place: str, *row_key: object) -> str:
        return self.open(sealed, place, *row_key).decode()

    def is_current(self, sealed: bytes) -> bool:
        """Whether ``sealed`` is sealed under the active key (rotation leaves it as it is)."""
        return bytes(sealed[: len(_header(self.active))]) == _header(self.active)

    # --- blind index -----------------------------------------------------------------------

    def blind_index(self, kind: str, value: str) -> bytes:
        """The keyed index of an identifier of ``kind`` (``rnokpp``, ``unzr``): equal for
        equal numbers (after normalising), different across kinds."""
        normalised = _NORMALISE[kind](value)
        message = _INDEX_DOMAIN + kind.encode() + b"\x00" + normalised.encode()
        return hmac.digest(self._index_key, message, hashlib.sha256)


def _decode(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise IdentifierKeyError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise IdentifierKeyError(f"{what} is not valid base64") from None


def _header(key_id: str) -> bytes:
    encoded = key_id.encode()
    return bytes((_FORMAT, len(encoded))) + encoded


def _parse_header(sealed: bytes, place: str) -> tuple[str, bytes]:
    if len(sealed) < 2 or sealed[0] != _FORMAT:
        raise SealedValueRejected(place, None, "is not a sealed value of a known format")
    header = bytes(sealed[: 2 + sealed[1]])
    try:
        key_id = header[2:].decode("ascii")
    except UnicodeDecodeError:
        raise SealedValueRejected(place, None, "has a malformed key id") from None
    return key_id, header


def _key_id(header: bytes) -> str:
    return header[2:].decode("ascii")


def _associated_data(header: bytes, place: str, row_key: Sequence[object]) -> bytes:
    # NUL separates the parts: the database's text and ids cannot hold one, so no two
    # different (place, key) pairs give the same bytes.
    return b"\x00".join([header, place.encode(), *[str(part).encode() for part in row_key]])


# --- where the keys come from ------------------------------------------------------------------


def new_keys_document(key_id: str = DEVELOPMENT_KEY_ID) -> dict[str, Any]:
    """A fresh keys document: one encryption key (active) and an index key."""

    def encoded() -> str:
        return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()

    return {"active": key_id, "keys": {key_id: encoded()}, "index_key": encoded()}


def load_identifier_keys(keys_file: Path | None, development_dir: Path) -> IdentifierKeys:
    """The keys of ``keys_file`` (``REGISTRY_IDENTIFIER_KEYS_FILE``), or without one the
    development keys in ``development_dir``, made on first use. Made once: the first process
    to write the file wins and every other one reads its keys (two processes making keys of
    their own would each seal what the other cannot open)."""
    if keys_file is not None:
        return IdentifierKeys.from_file(keys_file)
    path = development_dir / DEVELOPMENT_KEYS_FILE
    write_secret_once(path, json.dumps(new_keys_document()).encode())
    return IdentifierKeys.from_file(path)


# --- where sealed values live ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SealedField:
    """A value kept sealed in ``column`` (and, for an identifier that is looked up, its
    blind index in ``index_column``), bound to ``place``."""

    name: str
    place: str
    column: str
    index_column: str | None = None

    @classmethod
    def identifier(cls, table: str, name: str, *, indexed: bool) -> SealedField:
        """An identifier ``name`` of ``table``: ``<name>_sealed`` and ``<name>_index``."""
        return cls(name, f"{table}.{name}", f"{name}_sealed", f"{name}_index" if indexed else None)

    def stored(self, keys: IdentifierKeys, value: str | None, *row_key: object) -> dict[str, Any]:
        """The columns that store ``value`` (``None``: none of them hold anything)."""
        columns: dict[str, Any] = {
            self.column: None if value is None else keys.seal(value, self.place, *row_key)
        }
        if self.index_column is not None:
            columns[self.index_column] = (
                None if value is None else keys.blind_index(self.name, value)
            )
        return columns

    def opened(
        self, keys: IdentifierKeys, row: Mapping[str, Any] | RowMapping, *row_key: object
    ) -> str | None:
        sealed = row[self.column]
        return None if sealed is None else keys.open_text(sealed, self.place, *row_key)


@dataclass(frozen=True, slots=True)
class SealedTable:
    """A table with sealed values, keyed by ``key`` (its primary key's columns, which every
    value's associated data names)."""

    table: Table
    key: tuple[str, ...]
    fields: tuple[SealedField, ...]


@dataclass(slots=True)
class ResealReport:
    rows_read: int = 0
    rows_resealed: int = 0
    values_resealed: int = 0
    last_key: tuple[Any, ...] | None = None
    #: The keys of rows with a value that did not open (they are left as they are).
    rejected: list[tuple[Any, ...]] = field(default_factory=list)


async def reseal_batch(
    session: AsyncSession,
    keys: IdentifierKeys,
    target: SealedTable,
    *,
    after: tuple[Any, ...] | None,
    limit: int,
) -> ResealReport:
    """Reseal under the active key every value of the next ``limit`` rows (in key order,
    after ``after``) that another key sealed, and check that every other one opens: a row
    with a value that does not is reported (``rejected``) and left as it is. The rows to
    change are locked (``FOR NO KEY UPDATE``, for this transaction only) and read again, so
    a concurrent change of a value is never overwritten with its older value; readers are
    not blocked. Neither the version nor ``updated_at`` changes: the values are the same."""
    # Row-level security must not hide rows from the rotation (their values would stay
    # under the old key): with it off, a query it would filter fails instead.
    await session.execute(select(func.set_config("row_security", "off", true())))
    table = target.table
    key_columns = [table.c[name] for name in target.key]
    sealed_columns = [table.c[f.column] for f in target.fields]
    scan = select(*key_columns, *sealed_columns).order_by(*key_columns).limit(limit)
    if after is not None:
        scan = scan.where(tuple_(*key_columns) > tuple_(*after))
    rows = (await session.execute(scan)).all()
    report = ResealReport(rows_read=len(rows))
    if not rows:
        return report
    width = len(key_columns)
    report.last_key = tuple(rows[-1][:width])
    stale = []
    for row in rows:
        row_key = tuple(row[:width])
        try:
            for sealed_field, value in zip(target.fields, row[width:], strict=True):
                if value is not None and keys.is_current(value):
                    keys.open(value, sealed_field.place, *row_key)
        except SealedValueRejected:
            report.rejected.append(row_key)
            continue
        if any(value is not None and not keys.is_current(value) for value in row[width:]):
            stale.append(row_key)
    if not stale:
        return report
    locked = (
        await session.execute(
            select(*key_columns, *sealed_columns)
            .where(tuple_(*key_columns).in_(stale))
            .with_for_update(key_share=True)
        )
    ).all()
    changes: list[dict[str, Any]] = []
    for row in locked:
        row_key = tuple(row[:width])
        # Every sealed column is written (the locked value where it stays), so that the
        # batch is one statement run for many rows.
        change = {f"key_{i}": part for i, part in enumerate(row_key)}
        resealed = 0
        try:
            for sealed_field, value in zip(target.fields, row[width:], strict=True):
                if value is not None and not keys.is_current(value):
                    opened = keys.open(value, sealed_field.place, *row_key)
                    value = keys.seal(opened, sealed_field.place, *row_key)
                    resealed += 1
                change[f"value_{sealed_field.column}"] = value
        except SealedValueRejected:
            report.rejected.append(row_key)
            continue
        if resealed:
            changes.append(change)
            report.rows_resealed += 1
            report.values_resealed += resealed
    if changes:
        await session.execute(
            update(table)
            .where(
                *(
                    column == bindparam(f"key_{i}", type_=column.type)
                    for i, column in enumerate(key_columns)
                )
            )
            .values(
                {
                    column.name: bindparam(f"value_{column.name}", type_=column.type)
                    for column in sealed_columns
                }
            ),
            changes,
        )
    return report
