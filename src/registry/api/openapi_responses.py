"""Declaring error responses so they appear in the spec (content type problem+json)."""

from __future__ import annotations

from typing import Any

from registry.api.problems import PROBLEM_JSON
from registry.api.schemas.base import Problem

_DESCRIPTIONS = {
    400: "Malformed request: the body is not valid JSON, or `X-Purpose` is not UTF-8 text.",
    401: "No valid bearer token.",
    403: "The caller's role may not do this.",
    404: "Not found, or outside the caller's reach.",
    409: "Conflicts with the record's state or another record.",
    412: "The If-Match version is stale.",
    410: "Gone for good (an export's files past their retention).",
    413: "The request body is too large.",
    415: "The body's media type is not one this operation reads.",
    416: "The Range asks for no byte of the file; `Content-Range` gives its length.",
    422: "Invalid input; `errors` names each bad field.",
    428: "If-Match is required.",
    429: "Too many requests from the caller or its address (name searches and identifier "
    "lookups have a stricter limit); try again after `Retry-After` seconds.",
    500: "Unexpected error; the problem carries the request id.",
    503: "The database cannot serve now (a timeout fired, no connection was free, the "
    "connection was lost); nothing was changed. Try again after `Retry-After` seconds.",
}

#: The headers a problem of the status carries. (The RateLimit fields, on every answer, are
#: described once, in the API's description.)
_HEADERS: dict[int, dict[str, Any]] = {
    429: {
        "Retry-After": {
            "description": "Seconds until the window of the quota gone over ends.",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        },
    },
    416: {
        "Content-Range": {
            "description": "`bytes */length`: the file's length.",
            "required": True,
            "schema": {"type": "string"},
        },
    },
    503: {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            **({"headers": _HEADERS[status]} if status in _HEADERS else {}),
        }
        for status in statuses
    }


def problem_components() -> dict[str, Any]:
    """The Problem schema (and what it refers to) for ``components.schemas``."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = schema.pop("$defs", {})
    components["Problem"] = schema
    return components


def links(path: dict[str, str], **operations: str) -> dict[str, Any]:
    """OpenAPI links from a created record to what can be done with it next (clients and
    the stateful contract test follow them); ``If-Match`` comes from the ETag."""
    return {
        name: {
            "operationId": operation_id,
            "parameters": {
                **{f"path.{k}": v for k, v in path.items()},
                **(
                    {"header.If-Match": "$response.header.ETag"}
                    if operation_id.startswith("update_")
                    else {}
                ),
            },
        }
        for name, operation_id in operations.items()
    }
