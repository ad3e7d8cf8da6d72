"""The shapes of the classifier of social services."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictBool, field_validator

from registry.api.schemas.base import (
    InputSchema,
    NotNull,
    Schema,
    ServiceCode,
    refuse_null,
    text_field,
)
from registry.domain.classifier.rules import NAME_MAX_LENGTH, Purpose, ServiceKind

ServiceName = Annotated[str, text_field(NAME_MAX_LENGTH)]


class ServiceCreate(InputSchema):
    code: ServiceCode = Field(description="The classifier code, e.g. `002.0`.")
    name_uk: ServiceName = Field(description="The name in Ukrainian.")
    name_en: ServiceName = Field(description="The name in English.")
    purpose: Purpose
    kind: ServiceKind
    is_basic: StrictBool = Field(
        default=False, description="A basic service every hromada must ensure."
    )
    active: StrictBool = True


class ServicePatch(InputSchema):
    """A JSON merge patch (RFC 7396). A service is never deleted: set `active` to false."""

    name_uk: ServiceName | NotNull = None
    name_en: ServiceName | NotNull = None
    purpose: Purpose | NotNull = None
    kind: ServiceKind | NotNull = None
    is_basic: StrictBool | NotNull = None
    active: StrictBool | NotNull = None

    _not_null = field_validator("name_uk", "name_en", "purpose", "kind", "is_basic", "active")(
        refuse_null
    )


class Service(Schema):
    code: str
    name_uk: str
    name_en: str
    purpose: Purpose
    kind: ServiceKind
    is_basic: bool = Field(description="A basic service every hromada must ensure.")
    active: bool = Field(
        description="Inactive services are kept for the records that name "
        "them; providers cannot newly offer them."
    )
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Also sent as the `ETag`; send it back in `If-Match`.")
