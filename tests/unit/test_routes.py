"""``path_for`` builds the same path as Starlette's ``url_for`` for every operation."""

from __future__ import annotations

import re
import uuid

import pytest
from starlette.requests import Request

from registry.api.routes import path_for
from registry.main import create_app
from registry.settings import Settings

APP = create_app(Settings(database_url=None))
REQUEST = Request(
    {"type": "http", "app": APP, "router": APP.router, "root_path": "", "path": "/", "headers": []}
)
OPERATIONS = sorted(
    (operation["operationId"], path)
    for path, item in APP.openapi()["paths"].items()
    for operation in item.values()
)


@pytest.mark.parametrize(("name", "template"), OPERATIONS, ids=[name for name, _ in OPERATIONS])
def test_path_for_agrees_with_url_for(name: str, template: str) -> None:
    params = {param: uuid.uuid4() for param in re.findall(r"{(\w+)}", template)}
    expected = REQUEST.url_for(name, **params).path
    assert path_for(REQUEST, name, **params) == expected


def test_a_value_cannot_reach_into_the_path() -> None:
    path = path_for(REQUEST, "get_service", code="../families?x=1")
    assert path == "/api/v1/services/..%2Ffamilies%3Fx%3D1"


def test_an_unknown_route_is_an_error() -> None:
    with pytest.raises(KeyError):
        path_for(REQUEST, "no_such_route")
