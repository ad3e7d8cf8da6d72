"""The identifier keys of a bench database, derived from its generator's seed: ``run`` gives
the registry the keys ``generate`` sealed the identifiers with. Made-up data only; a real
deployment's keys are random and kept outside the database (see the README)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from registry.domain.shared.sealing import IdentifierKeys

KEY_ID = "bench"


def keys_document(seed: int) -> dict[str, Any]:
    """``REGISTRY_IDENTIFIER_KEYS_FILE``'s document for the database ``--seed`` made."""

    def derived(label: str) -> str:
        return base64.b64encode(hashlib.sha256(f"bench {seed} {label}".encode()).digest()).decode()

    return {"active": KEY_ID, "keys": {KEY_ID: derived("key")}, "index_key": derived("index")}


def identifier_keys(seed: int) -> IdentifierKeys:
    return IdentifierKeys.from_document(keys_document(seed))
