"""Reference lists records use (not personal data: not audited)."""

from __future__ import annotations

from fastapi import APIRouter

from registry.api.dependencies import ReferenceRead, Session
from registry.api.openapi_responses import problem_responses
from registry.api.schemas.base import PageOf, Schema
from registry.domain.families.queries import reference_list
from registry.domain.providers.queries import support_criteria

router = APIRouter(tags=["reference"])


class RecipientCategory(Schema):
    code: str
    name_uk: str
    name_en: str
    active: bool


class HardshipFactor(RecipientCategory):
    named_in_law: bool


@router.get(
    "/recipient-categories",
    response_model=PageOf[RecipientCategory],
    name="list_recipient_categories",
    responses=problem_responses(403),
)
async def list_recipient_categories(_caller: ReferenceRead, session: Session) -> object:
    """Categories of recipients a family can belong to (IDP, large family, …), in one page."""
    return {"items": await reference_list(session, "recipient_categories"), "next_cursor": None}


@router.get(
    "/hardship-factors",
    response_model=PageOf[HardshipFactor],
    name="list_hardship_factors",
    responses=problem_responses(403),
)
async def list_hardship_factors(_caller: ReferenceRead, session: Session) -> object:
    """Factors of difficult life circumstances (Law "On Social Services" and practice)."""
    return {"items": await reference_list(session, "hardship_factors"), "next_cursor": None}


class SupportCriterion(RecipientCategory):
    pass


@router.get(
    "/support-criteria",
    response_model=PageOf[SupportCriterion],
    name="list_support_criteria",
    responses=problem_responses(403),
)
async def list_support_criteria(_caller: ReferenceRead, session: Session) -> object:
    """What a provider must meet to support servicemembers' families (a provider is eligible
    when it meets every active one), in one page."""
    return {"items": await support_criteria(session), "next_cursor": None}
