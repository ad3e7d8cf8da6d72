"""Layering rules a reviewer would otherwise police (DESIGN §2, STYLE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "registry"


def _modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _offending(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(name for name in _imports(path)
                  if any(name == f or name.startswith(f + ".") for f in forbidden))


FORBIDDEN = {
    "domain": ("fastapi", "starlette", "registry.api"),
    "db": ("fastapi", "starlette", "registry.api", "registry.domain", "registry.auth"),
    "auth": ("fastapi", "starlette", "registry.api", "registry.domain", "registry.db"),
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_import_only_downwards(package: str) -> None:
    problems = {
        str(path.relative_to(SRC)): bad
        for path in _modules(package)
        if (bad := _offending(path, FORBIDDEN[package]))
    }
    assert problems == {}, f"{package}/ imports what it must not: {problems}"


def test_python_jose_is_confined_to_one_module() -> None:
    users = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if _offending(p, ("jose",))]
    assert users == ["auth/tokens.py"]


def test_domain_never_commits() -> None:
    commits = []
    for path in _modules("domain"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "commit"):
                commits.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert commits == [], "domain/ must only flush; the request's unit of work commits"


def test_the_checks_see_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("from fastapi import Depends\nimport registry.api.schemas\n")
    assert _offending(sample, FORBIDDEN["domain"]) == ["fastapi", "registry.api.schemas"]
