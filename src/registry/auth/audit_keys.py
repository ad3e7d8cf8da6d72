"""The Ed25519 key the application signs audit block heads with, and the public keys those
signatures are verified with.

The private key lives with the application, never in the database: whoever controls only
the database can rewrite the hash chain but cannot sign it. In production it comes from
``REGISTRY_AUDIT_SIGNING_KEY_FILE`` (a PEM private key); without it a development key is made
once in the data directory (``keys/audit-signing-key.pem``). A key is named by its id, the
SHA-256 of its raw public key in hex, so keys can rotate: signatures made with an old key
verify while its public key stays in ``REGISTRY_AUDIT_PUBLIC_KEYS_FILE``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from registry.auth.keys import KeyConfigurationError, write_secret_once
from registry.settings import Settings

DEVELOPMENT_KEY_FILE = "audit-signing-key.pem"

_PUBLIC_PEM = re.compile(rb"-----BEGIN PUBLIC KEY-----\s.*?-----END PUBLIC KEY-----", re.DOTALL)


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@dataclass(frozen=True, slots=True)
class AuditSigner:
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    @classmethod
    def from_pem(cls, pem: bytes, source: Path) -> AuditSigner:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except ValueError as error:
            raise KeyConfigurationError(
                f"cannot read the audit signing key {source}: {error}"
            ) from error
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyConfigurationError(f"{source} is not an Ed25519 private key")
        return cls(key)


@dataclass(frozen=True, slots=True)
class AuditKeyRing:
    """The public keys signatures are checked with, by key id."""

    by_key_id: dict[str, Ed25519PublicKey]

    @classmethod
    def of(cls, *keys: Ed25519PublicKey) -> AuditKeyRing:
        return cls({key_id_of(key): key for key in keys})

    def verifies(self, key_id: str, message: bytes, signature: bytes) -> bool:
        key = self.by_key_id.get(key_id)
        if key is None:
            return False
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def knows(self, key_id: str) -> bool:
        return key_id in self.by_key_id

    def public_pem(self, key_id: str) -> str | None:
        key = self.by_key_id.get(key_id)
        return None if key is None else public_pem(key)


@dataclass(frozen=True, slots=True)
class AuditKeys:
    """What the running application holds: its signing key, and the keys it verifies with
    (its own public key among them)."""

    signer: AuditSigner
    ring: AuditKeyRing


def public_keys_from_file(path: Path) -> list[Ed25519PublicKey]:
    """Every ``PUBLIC KEY`` PEM block of ``path`` (one file can hold the current and the
    retired keys); each must be Ed25519."""
    try:
        blocks = _PUBLIC_PEM.findall(path.read_bytes())
    except OSError as error:
        raise KeyConfigurationError(f"cannot read audit public keys {path}: {error}") from error
    keys = []
    for block in blocks:
        try:
            key = serialization.load_pem_public_key(block)
        except ValueError as error:
            raise KeyConfigurationError(f"{path}: unreadable public key: {error}") from error
        if not isinstance(key, Ed25519PublicKey):
            raise KeyConfigurationError(f"{path}: every audit public key must be Ed25519")
        keys.append(key)
    if not keys:
        raise KeyConfigurationError(f"{path} holds no PEM public key")
    return keys


def signer_from_file(path: Path) -> AuditSigner:
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise KeyConfigurationError(f"cannot read the audit signing key {path}: {error}") from error
    return AuditSigner.from_pem(pem, path)


def development_signer(directory: Path) -> AuditSigner:
    """The development signing key of ``directory``, made on first use (once: processes
    starting at once end up signing with the same key)."""
    path = directory / DEVELOPMENT_KEY_FILE
    write_secret_once(
        path,
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return signer_from_file(path)


def audit_signer(settings: Settings) -> AuditSigner:
    if settings.audit_signing_key_file is not None:
        return signer_from_file(settings.audit_signing_key_file)
    if settings.audit_public_keys_file is not None:
        # Trusted keys are configured, so this is no development setup: a key made up here
        # would sign heads that no auditor can verify.
        raise KeyConfigurationError(
            "REGISTRY_AUDIT_PUBLIC_KEYS_FILE is set but REGISTRY_AUDIT_SIGNING_KEY_FILE is not: "
            "set the key this service signs audit blocks with"
        )
    return development_signer(settings.development_keys_dir)


def audit_keys(settings: Settings) -> AuditKeys:
    """The running application's keys: it signs with its own and verifies with its own and
    those of ``REGISTRY_AUDIT_PUBLIC_KEYS_FILE``."""
    signer = audit_signer(settings)
    return AuditKeys(signer, verification_keys(settings, signer))


def verification_keys(settings: Settings, signer: AuditSigner | None = None) -> AuditKeyRing:
    """The keys ``registry audit verify`` trusts: those of ``REGISTRY_AUDIT_PUBLIC_KEYS_FILE``,
    and the signing key's (given, or configured, or, when no public keys are configured, the
    development key)."""
    keys = []
    if settings.audit_public_keys_file is not None:
        keys += public_keys_from_file(settings.audit_public_keys_file)
    if signer is None and (
        settings.audit_signing_key_file is not None or settings.audit_public_keys_file is None
    ):
        signer = audit_signer(settings)
    if signer is not None:
        keys.append(signer.public_key)
    return AuditKeyRing.of(*keys)
