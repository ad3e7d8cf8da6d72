"""The keys tokens are verified with: the trusted issuer's JWKS file, or a development key pair.

The development pair is made on first use in the data directory (``keys/``):
``signing-key.pem`` (private, mode 0600) and ``jwks.json`` (public).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

#: The only algorithms a token may be signed with, and the key type each needs.
ALLOWED_ALGORITHMS: dict[str, str] = {"RS256": "RSA", "ES256": "EC"}

PRIVATE_KEY_FILE = "signing-key.pem"
JWKS_FILE = "jwks.json"


class KeyConfigurationError(RuntimeError):
    """The configured key material is unusable."""


@dataclass(frozen=True, slots=True)
class VerificationKeys:
    """Public keys by ``kid``; only RSA and EC keys of an allowed algorithm are kept."""

    by_kid: dict[str, dict[str, Any]]

    @classmethod
    def from_jwks(cls, document: dict[str, Any]) -> VerificationKeys:
        keys = {}
        for key in document.get("keys", []):
            kid = key.get("kid")
            if not kid or key.get("kty") not in ALLOWED_ALGORITHMS.values():
                continue
            if key.get("use", "sig") != "sig" or "d" in key:
                continue  # never verify with an encryption key or a private key
            keys[kid] = key
        if not keys:
            raise KeyConfigurationError("the JWKS document has no usable signing keys")
        return cls(keys)

    @classmethod
    def from_file(cls, path: Path) -> VerificationKeys:
        try:
            return cls.from_jwks(json.loads(path.read_text()))
        except (OSError, ValueError) as error:
            raise KeyConfigurationError(f"cannot read JWKS file {path}: {error}") from error


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    algorithm: str
    private_pem: bytes


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _public_jwk(private_key: rsa.RSAPrivateKey) -> dict[str, str]:
    numbers = private_key.public_key().public_numbers()
    n, e = _b64url_uint(numbers.n), _b64url_uint(numbers.e)
    # RFC 7638 thumbprint as kid: stable for the key, reveals nothing else.
    thumbprint = hashlib.sha256(
        json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":")).encode()
    ).digest()
    kid = base64.urlsafe_b64encode(thumbprint).rstrip(b"=").decode()
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e}


def write_secret_once(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` readable by its owner only, unless the file exists. Of
    processes starting at once the first to link its file wins and the others' content is
    dropped, so every process then reads one and the same key."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    try:
        os.link(temporary, path)  # fails if another process made it first
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def development_keys(directory: Path) -> tuple[SigningKey, VerificationKeys]:
    """Load the development key pair from ``directory``, making it on first use."""
    private_path, jwks_path = directory / PRIVATE_KEY_FILE, directory / JWKS_FILE
    if private_path.exists():
        pem = private_path.read_bytes()
        private_key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise KeyConfigurationError(f"{private_path} is not an RSA key")
    else:
        directory.mkdir(parents=True, exist_ok=True)
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Write to a temporary name first so a concurrent starter never reads half a key.
        temporary = private_path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        os.replace(temporary, private_path)
    jwk = _public_jwk(private_key)
    jwks = {"keys": [jwk]}
    if not jwks_path.exists() or json.loads(jwks_path.read_text()) != jwks:
        jwks_path.write_text(json.dumps(jwks, indent=2))
    return SigningKey(jwk["kid"], "RS256", pem), VerificationKeys.from_jwks(jwks)
