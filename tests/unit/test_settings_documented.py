"""The README's Configuration table documents every setting, and only settings that exist."""

from __future__ import annotations

import re

from registry.settings import PROJECT_ROOT, Settings

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
#: Variables the README documents that are not settings of the service, and the file that
#: reads each.
NOT_SETTINGS = {"REGISTRY_TEST_DATABASE_URL": "tests/conftest.py"}


def _configuration_table() -> str:
    section = README.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("| `REGISTRY_"))


def documented() -> set[str]:
    """Every variable named in the first column of the table's rows."""
    return {
        name
        for row in _configuration_table().splitlines()
        for name in re.findall(r"`(REGISTRY_[A-Z0-9_]+)`", row.split("|")[1])
    }


def settings() -> set[str]:
    prefix = Settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in Settings.model_fields}


def test_every_setting_is_documented() -> None:
    missing = settings() - documented()
    assert missing == set(), f"add a row to README.md's Configuration table for {missing}"


def test_nothing_is_documented_that_is_not_a_setting() -> None:
    extra = documented() - settings()
    assert extra == set(NOT_SETTINGS), f"no such setting: {extra - set(NOT_SETTINGS)}"
    for name, reader in NOT_SETTINGS.items():
        assert name in (PROJECT_ROOT / reader).read_text(encoding="utf-8")


def test_the_table_is_read() -> None:
    """The checks above see the rows (a renamed heading would make them pass on nothing)."""
    assert {"REGISTRY_DATABASE_URL", "REGISTRY_DB_MAX_OVERFLOW", "REGISTRY_LOG_JSON"} <= (
        documented()
    )
