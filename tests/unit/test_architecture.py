"""Layering rules a reviewer would otherwise police (DESIGN §2, STYLE.md)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from registry.main import create_app
from registry.settings import Settings

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
    return sorted(
        name
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    )


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
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "commit"
            ):
                commits.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert commits == [], "domain/ must only flush; the request's unit of work commits"


def test_the_checks_see_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("from fastapi import Depends\nimport registry.api.schemas\n")
    assert _offending(sample, FORBIDDEN["domain"]) == ["fastapi", "registry.api.schemas"]


def _api_operations(routes: list[Any], prefix: str = "") -> list[tuple[str, APIRoute]]:
    """Every operation of the application, through included routers."""
    found: list[tuple[str, APIRoute]] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found += _api_operations(included.routes, prefix)
        elif isinstance(route, APIRoute):
            found.append((route.path, route))
    return found


def _dependency_names(dependant: Dependant) -> set[str]:
    names: set[str] = set()
    for sub in dependant.dependencies:
        names.add(getattr(sub.call, "__name__", ""))
        names |= _dependency_names(sub)
    return names


def test_every_api_operation_authenticates_through_a_permission() -> None:
    """No router-wide authentication exists: an /api/v1 operation without a ``require_…``
    dependency would be open to anyone."""
    app = create_app(Settings(database_url=None))

    def unguarded() -> list[str]:
        operations = [
            (path, route)
            for path, route in _api_operations(app.router.routes)
            if route.tags != ["health"] and route.include_in_schema
        ]
        assert len(operations) > 50
        return [
            f"{sorted(route.methods)} {path}"
            for path, route in operations
            if not any(name.startswith("require_") for name in _dependency_names(route.dependant))
        ]

    assert unguarded() == []

    @app.get("/api/v1/open")
    async def open_operation() -> None: ...

    assert unguarded() == ["['GET'] /api/v1/open"]
