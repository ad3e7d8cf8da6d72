"""What an operation takes, held to what its OpenAPI document declares: every ``/api/v1``
operation (and the health probes) checks a request against it before anything else.

- A query parameter the operation does not declare is a 422 naming it (and what the
  operation takes): a misspelt filter must never widen a list. A parameter given twice is
  refused unless it takes a list.
- A body in a media type the operation does not read (``text/plain``, a form, none at all)
  is a 415 listing the ones it does.

Each operation's contract is read once from the application's OpenAPI document (built from
the routes' declared parameters, their dependencies such as pagination included, and their
request bodies) and kept by operation id; a request costs a dictionary and a set lookup.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from registry.errors import FieldError, InvalidInput, UnsupportedMediaType

#: At most this many unknown names are quoted back (each cut to ``_NAME_CHARS``).
_QUOTED_NAMES = 10
_NAME_CHARS = 64


@dataclass(frozen=True, slots=True)
class OperationContract:
    query: frozenset[str]
    """The query parameters the operation declares."""
    repeatable: frozenset[str]
    """Those of them that take a list (``?status=a&status=b``)."""
    media_types: tuple[str, ...]
    """The media types of the body it reads; empty when it reads none."""

    @classmethod
    def of(cls, operation: dict[str, Any]) -> OperationContract:
        query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
        body = operation.get("requestBody", {}).get("content", {})
        return cls(
            query=frozenset(p["name"] for p in query),
            repeatable=frozenset(p["name"] for p in query if _takes_a_list(p.get("schema", {}))),
            media_types=tuple(media_type.lower() for media_type in body),
        )


_UNDECLARED = OperationContract(frozenset(), frozenset(), ())


def _takes_a_list(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "array":
        return True
    return any(_takes_a_list(option) for option in schema.get("anyOf", ()))


def operation_contracts(app: Any) -> dict[str, OperationContract]:
    """Every operation's contract by operation id, read from the OpenAPI document once."""
    contracts: dict[str, OperationContract] | None = getattr(app.state, "contracts", None)
    if contracts is None:
        contracts = {
            operation["operationId"]: OperationContract.of(operation)
            for item in app.openapi().get("paths", {}).values()
            for operation in item.values()
            if isinstance(operation, dict) and "operationId" in operation
        }
        app.state.contracts = contracts
    return contracts


def _quoted(names: Iterable[str]) -> list[str]:
    """The names as quoted back: a few, cut short, control characters shown as ``?``."""
    return [
        "".join(char if char.isprintable() else "?" for char in name[:_NAME_CHARS])
        for name in sorted(names)[:_QUOTED_NAMES]
    ]


def _takes(contract: OperationContract) -> str:
    if not contract.query:
        return "This operation takes no query parameters."
    return "This operation takes: " + ", ".join(sorted(contract.query)) + "."


def _check_query(request: Request, contract: OperationContract) -> None:
    items = request.query_params.multi_items()
    names = Counter(name for name, _ in items)
    unknown = names.keys() - contract.query
    if unknown:
        quoted = _quoted(unknown)
        raise InvalidInput(
            f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: "
            f"{', '.join(quoted)}. {_takes(contract)}",
            errors=[
                FieldError(f"query.{name}", "not a parameter of this operation") for name in quoted
            ],
            extensions={"accepted_parameters": sorted(contract.query)},
        )
    if len(names) < len(items):
        repeated = {name for name, count in names.items() if count > 1}
        single = _quoted(repeated - contract.repeatable)
        if single:
            raise InvalidInput(
                f"Give each of these query parameters once: {', '.join(single)}.",
                errors=[FieldError(f"query.{name}", "given more than once") for name in single],
            )


def _has_body(request: Request) -> bool:
    headers = request.headers
    length = headers.get("content-length")
    return (length is not None and length.strip() != "0") or "transfer-encoding" in headers


def _check_media_type(request: Request, contract: OperationContract) -> None:
    content_type = request.headers.get("content-type")
    if content_type is None:
        if not _has_body(request):
            return  # no body: the operation says what it misses (422)
        sent = "a body without Content-Type"
    else:
        media_type = content_type.partition(";")[0].strip().lower()
        if media_type in contract.media_types:
            return
        sent = f"Content-Type {media_type[:_NAME_CHARS]!r}" if media_type else "no media type"
    accepted = list(contract.media_types)
    headers = {}
    if request.method == "PATCH":
        headers["Accept-Patch"] = ", ".join(accepted)
    elif request.method == "POST":
        headers["Accept-Post"] = ", ".join(accepted)
    raise UnsupportedMediaType(
        f"This operation does not read {sent}; send {' or '.join(accepted)}.",
        extensions={"accepted": accepted},
        headers=headers,
    )


async def check_contract(request: Request) -> None:
    """A dependency of every API operation (added where the routers are included): refuses a
    query parameter or a body media type the operation does not declare."""
    route = request.scope.get("route")
    # An operation missing from the document (its operation id is not its route's name, or
    # it is hidden from the spec) declares nothing: it fails closed too.
    contract = operation_contracts(request.app).get(getattr(route, "name", ""), _UNDECLARED)
    if request.scope.get("query_string"):
        _check_query(request, contract)
    if contract.media_types:
        _check_media_type(request, contract)
