"""Architecture rules a reviewer would otherwise police (docs/architecture.md): the
dependency contracts of import-linter (``[tool.importlinter]`` in pyproject.toml), run here
too, and the rules it cannot express."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from registry.main import create_app
from registry.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "registry"


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


def test_the_import_contracts_are_kept() -> None:
    """The layers, the contexts' order and what the domain and HTTP may reach: every
    contract of ``[tool.importlinter]`` is checked, and kept."""
    config = ROOT / "pyproject.toml"
    contracts = tomllib.loads(config.read_text(encoding="utf-8"))["tool"]["importlinter"][
        "contracts"
    ]
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(  # noqa: S603 (the virtualenv's own executable)
        [str(lint_imports), "--no-cache", "--no-logo", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    report = " ".join(result.stdout.split())
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(contracts)} kept, 0 broken." in report, report
    for contract in contracts:
        assert re.search(re.escape(contract["name"]) + r" KEPT", report), contract["name"]


def test_python_jose_is_confined_to_one_module() -> None:
    users = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if _offending(p, ("jose",))]
    assert users == ["auth/tokens.py"]


def _found(package: str, offends: Callable[[ast.AST], bool]) -> list[str]:
    """``path:line`` of every node of ``package``'s modules that ``offends``."""
    return [
        f"{path.relative_to(SRC)}:{getattr(node, 'lineno', 0)}"
        for path in _modules(package)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if offends(node)
    ]


def _table_of_a_model(node: ast.AST) -> bool:
    """``Model.__table__``: queries name the typed ``<name>_table`` instead."""
    return isinstance(node, ast.Attribute) and node.attr == "__table__"


def _raw_sql(node: ast.AST) -> bool:
    """``text(...)``, ``sqlalchemy.text(...)``, or ``text`` imported from SQLAlchemy."""
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] == "sqlalchemy" and any(
            alias.name == "text" for alias in node.names
        )
    if not isinstance(node, ast.Call):
        return False
    called = node.func
    if isinstance(called, ast.Name):
        return called.id == "text"
    return (
        isinstance(called, ast.Attribute)
        and called.attr == "text"
        and isinstance(called.value, ast.Name)
        and called.value.id in ("sa", "sqlalchemy")
    )


def _application_state(node: ast.AST) -> bool:
    """``request.app.state`` (or any ``….app.state``): dependencies give what a handler
    needs of the application."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "state"
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "app"
    )


def _url_for(node: ast.AST) -> bool:
    """``….url_for(...)``: Starlette's search of every route; ``routes.path_for`` fills in the
    operation's template."""
    return isinstance(node, ast.Attribute) and node.attr == "url_for"


@pytest.mark.parametrize("package", ["domain", "api"])
def test_queries_name_typed_tables(package: str) -> None:
    found = _found(package, _table_of_a_model)
    assert found == [], f"{package}/ uses Model.__table__ instead of <name>_table: {found}"


@pytest.mark.parametrize("package", ["domain", "api"])
def test_no_raw_sql_text(package: str) -> None:
    found = _found(package, _raw_sql)
    assert found == [], f"{package}/ writes SQL as text(): {found}"


def test_handlers_do_not_reach_into_the_application_state() -> None:
    found = _found("api/routers", _application_state)
    assert found == [], f"routers read request.app.state instead of a dependency: {found}"


def test_links_are_built_with_path_for() -> None:
    found = _found("api", _url_for)
    assert found == [], f"use routes.path_for instead of url_for: {found}"


def test_the_query_checks_see_a_violation() -> None:
    sample = ast.parse(
        "from sqlalchemy import select, text\n"
        "select(Family.__table__.c.id)\n"
        "text('SELECT 1')\n"
        "sa.text('SELECT 1')\n"
        "request.app.state.database\n"
        "response.text\n"
        "family_table.c.text\n"
        "request.url_for('get_family', family_id=1)\n"
    )
    nodes = list(ast.walk(sample))
    assert [n.lineno for n in nodes if _table_of_a_model(n)] == [2]
    assert sorted(n.lineno for n in nodes if _raw_sql(n)) == [1, 3, 4]
    assert [n.lineno for n in nodes if _application_state(n)] == [5]
    assert [n.lineno for n in nodes if _url_for(n)] == [8]


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
    forbidden = ("fastapi", "starlette", "registry.api")
    assert _offending(sample, forbidden) == ["fastapi", "registry.api.schemas"]


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
