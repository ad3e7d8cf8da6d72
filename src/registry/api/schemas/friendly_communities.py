"""The shapes of the Child and Youth Friendly Community initiative: a hromada's record (where
it stands, what may come next, its implementation's dates) with its steps, and a step to
record."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from registry.api.schemas.base import InputSchema, IsoDate, KatottgCode, Schema, text_field
from registry.domain.friendly_communities.rules import Stage

DocumentReference = Annotated[
    str,
    text_field(300),
    Field(
        description="The document the step rests on: a council decision's number, a "
        "memorandum's or a letter's reference, an assessment report's…",
        examples=["Рішення № 1234-56-VIII від 14.03.2024"],
    ),
]


class StepIn(InputSchema):
    """The hromada's next step: the stage reached, the day, and the document it rests on."""

    stage: Stage = Field(
        description="The stage reached: the one that follows the current one "
        "(`council_decision` first). `status_awarded` and `status_withdrawn` are the "
        "ministry's to record."
    )
    taken_on: IsoDate = Field(
        description="The day the step was taken: not in the future, not before the previous step."
    )
    document_reference: DocumentReference
    note: Annotated[str, text_field(2000, multiline=True)] | None = None


class FriendlyCommunityStep(Schema):
    version: int = Field(description="The version of the record the step made.")
    stage: Stage
    taken_on: date
    document_reference: str
    note: str | None
    recorded_by: str
    recorded_at: datetime


class FriendlyCommunitySummary(Schema):
    """A hromada's record in the initiative: where it stands and what may come next."""

    hromada_code: KatottgCode
    hromada_name: str
    oblast_code: KatottgCode
    raion_code: KatottgCode | None
    stage: Stage
    stage_on: date = Field(description="The day the current stage was reached.")
    allowed_next_stages: list[Stage] = Field(
        description="The stages the record may go to next (the last two are the ministry's)."
    )
    implementation_started_on: date | None = Field(
        description="While in `implementation`: the day it started."
    )
    assessment_due_by: date | None = Field(
        description="While in `implementation` (two to three years): the day the assessment "
        "falls due, three years after it started. An earlier assessment is not refused."
    )
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int


class FriendlyCommunity(FriendlyCommunitySummary):
    """A hromada's record with every step it took, oldest first."""

    steps: list[FriendlyCommunityStep]
