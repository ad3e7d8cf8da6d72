"""Sealing national identifiers at rest (``registry.domain.shared.sealing``): what opens, what
does not, the blind index, and the keys document."""

from __future__ import annotations

import base64
import json
import os
import stat
import uuid

import pytest

from registry.domain.shared.sealing import (
    DEVELOPMENT_KEYS_FILE,
    IdentifierKeyError,
    IdentifierKeys,
    SealedField,
    SealedValueRejected,
    load_identifier_keys,
    new_keys_document,
)


def _key(byte: int) -> str:
    return base64.b64encode(bytes([byte]) * 32).decode()


def _keys(active: str = "k1", **keys: int) -> IdentifierKeys:
    return IdentifierKeys.from_document(
        {
            "active": active,
            "keys": {key_id: _key(byte) for key_id, byte in (keys or {"k1": 1}).items()},
            "index_key": _key(99),
        }
    )


ROW = uuid.UUID("0f5d2c1a-8e7b-4a3c-b2d1-6e5f4a3b2c10")
OTHER_ROW = uuid.UUID("6a1b9f4e-2d3c-4b5a-8f7e-1c2d3e4f5a6b")


def test_a_sealed_value_opens_at_its_place_and_names_its_key():
    keys = _keys()
    sealed = keys.seal("3114803605", "persons.rnokpp", ROW)
    assert sealed[:4] == b"\x01\x02k1"
    assert len(sealed) == 4 + 12 + 10 + 16
    assert b"3114803605" not in sealed
    assert keys.open_text(sealed, "persons.rnokpp", ROW) == "3114803605"
    # A new nonce every time: equal numbers do not give equal ciphertexts.
    assert keys.seal("3114803605", "persons.rnokpp", ROW) != sealed


@pytest.mark.parametrize(
    ("place", "row_key"),
    [
        ("persons.rnokpp", (OTHER_ROW,)),  # copied to another person
        ("persons.unzr", (ROW,)),  # copied to another column of the same person
        ("providers.rnokpp", (ROW,)),  # copied to another table
        ("persons.rnokpp", ()),
    ],
)
def test_a_sealed_value_moved_elsewhere_does_not_open(place, row_key):
    keys = _keys()
    sealed = keys.seal("3114803605", "persons.rnokpp", ROW)
    with pytest.raises(SealedValueRejected, match="failed its integrity check") as refused:
        keys.open(sealed, place, *row_key)
    assert refused.value.place == place
    assert refused.value.key_id == "k1"
    assert "3114803605" not in str(refused.value)


def test_the_parts_of_a_row_key_cannot_be_shifted_into_each_other():
    keys = _keys()
    sealed = keys.seal(b"answer", "idempotency_keys.body", "a|b", "c")
    with pytest.raises(SealedValueRejected):
        keys.open(sealed, "idempotency_keys.body", "a", "b|c")
    with pytest.raises(SealedValueRejected):
        keys.open(sealed, "idempotency_keys.body", "a|bc")


@pytest.mark.parametrize("at", [0, 1, 2, 5, 20, -1])
def test_any_altered_byte_is_refused(at):
    keys = _keys()
    sealed = bytearray(keys.seal("19850412-00369", "persons.unzr", ROW))
    sealed[at] ^= 0x01
    with pytest.raises(SealedValueRejected):
        keys.open(bytes(sealed), "persons.unzr", ROW)


@pytest.mark.parametrize("sealed", [b"", b"\x01", b"\x02\x02k1" + bytes(28), b"\x01\x02k1abc"])
def test_what_is_not_a_sealed_value_is_refused(sealed):
    with pytest.raises(SealedValueRejected):
        _keys().open(sealed, "persons.rnokpp", ROW)


def test_a_value_under_a_key_not_configured_is_refused_by_name():
    sealed = _keys("old", old=1).seal("3114803605", "persons.rnokpp", ROW)
    with pytest.raises(SealedValueRejected, match="key not configured") as refused:
        _keys("new", new=2).open(sealed, "persons.rnokpp", ROW)
    assert refused.value.key_id == "old"


def test_every_configured_key_opens_and_only_the_active_one_seals():
    old = _keys("k1", k1=1)
    rotating = _keys("k2", k1=1, k2=2)
    sealed_before = old.seal("3114803605", "persons.rnokpp", ROW)
    assert rotating.open_text(sealed_before, "persons.rnokpp", ROW) == "3114803605"
    assert not rotating.is_current(sealed_before)
    sealed_now = rotating.seal("3114803605", "persons.rnokpp", ROW)
    assert sealed_now[2:4] == b"k2"
    assert rotating.is_current(sealed_now)
    assert _keys("k2", k2=2).open_text(sealed_now, "persons.rnokpp", ROW) == "3114803605"


def test_a_blind_index_is_keyed_normalised_and_separated_by_kind():
    keys = _keys()
    index = keys.blind_index("rnokpp", "3114803605")
    assert len(index) == 32
    assert keys.blind_index("rnokpp", " 3114803605 ") == index
    assert keys.blind_index("rnokpp", "3114803606") != index
    assert keys.blind_index("unzr", "19850412-00369") == keys.blind_index("unzr", "1985041200369")
    # The same characters as an RNOKPP and as a UNZR are different indexes.
    assert keys.blind_index("rnokpp", "19850412-00369") != keys.blind_index(
        "unzr", "19850412-00369"
    )
    # Another index key, other indexes: the database alone cannot compute them.
    other = IdentifierKeys.from_document({**new_keys_document("k1")})
    assert other.blind_index("rnokpp", "3114803605") != index
    # The index key is not an encryption key: rotating encryption keys keeps the indexes.
    assert _keys("k2", k1=1, k2=2).blind_index("rnokpp", "3114803605") == index


def test_a_sealed_field_stores_a_value_with_its_index_and_opens_it():
    keys = _keys()
    rnokpp = SealedField.identifier("persons", "rnokpp", indexed=True)
    stored = rnokpp.stored(keys, "3114803605", ROW)
    assert set(stored) == {"rnokpp_sealed", "rnokpp_index"}
    assert stored["rnokpp_index"] == keys.blind_index("rnokpp", "3114803605")
    assert rnokpp.opened(keys, stored, ROW) == "3114803605"
    assert rnokpp.stored(keys, None, ROW) == {"rnokpp_sealed": None, "rnokpp_index": None}
    certificate = SealedField.identifier("persons", "idp_certificate", indexed=False)
    assert set(certificate.stored(keys, "IDP-1", ROW)) == {"idp_certificate_sealed"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "must be a JSON object"),
        ({"active": "a", "keys": {}, "index_key": _key(9)}, '"keys" must map'),
        ({"active": "b", "keys": {"a": _key(1)}, "index_key": _key(9)}, '"active" must name'),
        ({"active": "a b", "keys": {"a b": _key(1)}, "index_key": _key(9)}, "key id 'a b'"),
        ({"active": "a", "keys": {"a": "not base64!"}, "index_key": _key(9)}, "not valid base64"),
        (
            {"active": "a", "keys": {"a": base64.b64encode(b"short").decode()}, "index_key": "x"},
            "must be 32 bytes",
        ),
        ({"active": "a", "keys": {"a": _key(1)}}, "index_key must be a base64 string"),
        (
            {"active": "a", "keys": {"a": _key(1)}, "index_key": base64.b64encode(b"s").decode()},
            "at least 32 bytes",
        ),
        ({"active": "a", "keys": {"a": _key(1)}, "index_key": _key(1)}, "must not be one of"),
    ],
)
def test_an_unusable_keys_document_is_refused(document, message):
    with pytest.raises(IdentifierKeyError, match=message):
        IdentifierKeys.from_document(document)


def test_keys_do_not_show_in_their_repr():
    keys = _keys()
    assert _key(1) not in repr(keys)
    assert "k1" in repr(keys)


def test_the_configured_file_is_read(tmp_path):
    path = tmp_path / "keys.json"
    document = new_keys_document("2026-12")
    path.write_text(json.dumps(document))
    keys = load_identifier_keys(path, tmp_path / "dev")
    assert keys.active == "2026-12"
    assert not (tmp_path / "dev").exists()
    with pytest.raises(IdentifierKeyError, match="cannot read"):
        load_identifier_keys(tmp_path / "missing.json", tmp_path / "dev")


def test_development_keys_are_made_once_readable_by_the_owner_only(tmp_path):
    directory = tmp_path / "keys"
    first = load_identifier_keys(None, directory)
    path = directory / DEVELOPMENT_KEYS_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = load_identifier_keys(None, directory)
    sealed = first.seal("3114803605", "persons.rnokpp", ROW)
    assert again.open_text(sealed, "persons.rnokpp", ROW) == "3114803605"
    assert again.blind_index("rnokpp", "1") == first.blind_index("rnokpp", "1")
    assert [p.name for p in directory.iterdir()] == [DEVELOPMENT_KEYS_FILE]


def test_a_process_that_loses_the_race_reads_the_winners_keys(tmp_path, monkeypatch):
    """Two processes starting at once: the one whose file lands second keeps the first's."""
    directory = tmp_path / "keys"
    winner = new_keys_document()
    real_link = os.link

    def link_after_another_process(source, target):
        directory.joinpath(DEVELOPMENT_KEYS_FILE).write_text(json.dumps(winner))
        real_link(source, target)

    monkeypatch.setattr(os, "link", link_after_another_process)
    keys = load_identifier_keys(None, directory)
    assert keys.blind_index("rnokpp", "1") == IdentifierKeys.from_document(winner).blind_index(
        "rnokpp", "1"
    )
    assert [p.name for p in directory.iterdir()] == [DEVELOPMENT_KEYS_FILE]
