"""The audit signing key: a development key made once and kept, production keys from files,
public keys for verification (several, for rotation), and refusals of unusable keys."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.auth.audit_keys import (
    DEVELOPMENT_KEY_FILE,
    AuditKeyRing,
    audit_keys,
    key_id_of,
    public_pem,
    verification_keys,
)
from registry.auth.keys import KeyConfigurationError
from registry.settings import Settings


def _private_pem(key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_the_development_key_is_made_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = audit_keys(settings)
    path = settings.development_keys_dir / DEVELOPMENT_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = audit_keys(settings)
    assert again.signer.key_id == first.signer.key_id
    assert list(first.ring.by_key_id) == [first.signer.key_id]
    assert not list(path.parent.glob("*.tmp"))


def test_a_signature_verifies_only_with_its_key_and_message(tmp_path: Path) -> None:
    keys = audit_keys(Settings(data_dir=tmp_path))
    signature = keys.signer.sign(b"head")
    assert keys.ring.verifies(keys.signer.key_id, b"head", signature)
    assert not keys.ring.verifies(keys.signer.key_id, b"head!", signature)
    other = Ed25519PrivateKey.generate()
    assert not keys.ring.verifies(key_id_of(other.public_key()), b"head", signature)
    assert not AuditKeyRing.of(other.public_key()).verifies(keys.signer.key_id, b"head", signature)


def test_keys_from_files_and_retired_keys_kept_for_verification(tmp_path: Path) -> None:
    current, retired = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    signing = tmp_path / "signing.pem"
    signing.write_bytes(_private_pem(current))
    public = tmp_path / "public.pem"
    public.write_text(public_pem(retired.public_key()) + public_pem(current.public_key()))
    settings = Settings(
        data_dir=tmp_path / "data", audit_signing_key_file=signing, audit_public_keys_file=public
    )
    keys = audit_keys(settings)
    assert keys.signer.key_id == key_id_of(current.public_key())
    assert set(keys.ring.by_key_id) == {key_id_of(k.public_key()) for k in (current, retired)}
    assert keys.ring.verifies(key_id_of(retired.public_key()), b"m", retired.sign(b"m"))
    assert not (tmp_path / "data").exists()  # no development key made beside real ones

    # an auditor's machine: public keys only, no private key anywhere
    auditor = Settings(data_dir=tmp_path / "auditor", audit_public_keys_file=public)
    assert set(verification_keys(auditor).by_key_id) == set(keys.ring.by_key_id)
    assert not (tmp_path / "auditor").exists()


def test_unusable_keys_are_refused(tmp_path: Path) -> None:
    not_ed25519 = tmp_path / "ec.pem"
    not_ed25519.write_bytes(_private_pem(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(KeyConfigurationError, match="not an Ed25519 private key"):
        audit_keys(Settings(data_dir=tmp_path, audit_signing_key_file=not_ed25519))

    ec_public = tmp_path / "ec-public.pem"
    ec_public.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    empty = tmp_path / "empty.pem"
    empty.write_text("no keys here\n")
    for path, message in (
        (ec_public, "must be Ed25519"),
        (empty, "holds no PEM public key"),
        (tmp_path / "missing.pem", "cannot read audit public keys"),
    ):
        with pytest.raises(KeyConfigurationError, match=message):
            verification_keys(Settings(data_dir=tmp_path, audit_public_keys_file=path))


def test_trusted_keys_without_a_signing_key_is_refused_not_signed_with_a_made_up_key(
    tmp_path: Path,
) -> None:
    public = tmp_path / "public.pem"
    public.write_text(public_pem(Ed25519PrivateKey.generate().public_key()))
    with pytest.raises(KeyConfigurationError, match="REGISTRY_AUDIT_SIGNING_KEY_FILE is not"):
        audit_keys(Settings(data_dir=tmp_path / "data", audit_public_keys_file=public))
    assert not (tmp_path / "data").exists()
