"""Base schemas every context builds on."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

T = TypeVar("T")


class Schema(BaseModel):
    """Responses: read from rows or objects."""

    model_config = ConfigDict(from_attributes=True)


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_contains_nul(v) for v in value)
    return False


class InputSchema(BaseModel):
    """Request bodies: unknown fields are an error, strings are stripped, NUL is refused
    (PostgreSQL cannot store it, and no real name or address holds one)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        if _contains_nul(data):
            raise ValueError("text must not contain the NUL character")
        return data


class FieldProblem(Schema):
    field: str = Field(description="Where the problem is: `body.…`, `query.…`, `path.…`.")
    message: str


class Problem(Schema):
    """RFC 9457 problem details."""

    type: str = Field(examples=["urn:registry:problem:not-found"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldProblem] | None = None


class PageOf(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )
