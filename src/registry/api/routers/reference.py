"""Reference lists records use (not personal data: not audited)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from registry.api.dependencies import ReferenceRead, Session
from registry.api.openapi_responses import problem_responses
from registry.api.responses import respond_all
from registry.api.schemas.base import PageOf
from registry.api.schemas.reference import HardshipFactor, RecipientCategory, SupportCriterion
from registry.domain.families.queries import reference_list
from registry.domain.providers.queries import support_criteria

router = APIRouter(tags=["reference"])


@router.get(
    "/recipient-categories",
    response_model=PageOf[RecipientCategory],
    name="list_recipient_categories",
    responses=problem_responses(403),
)
async def list_recipient_categories(_caller: ReferenceRead, session: Session) -> Response:
    """Categories of recipients a family can belong to (IDP, large family, …), in one page."""
    categories = await reference_list(session, "recipient_categories")
    return respond_all(categories, PageOf[RecipientCategory])


@router.get(
    "/hardship-factors",
    response_model=PageOf[HardshipFactor],
    name="list_hardship_factors",
    responses=problem_responses(403),
)
async def list_hardship_factors(_caller: ReferenceRead, session: Session) -> Response:
    """Factors of difficult life circumstances (Law "On Social Services" and practice)."""
    factors = await reference_list(session, "hardship_factors")
    return respond_all(factors, PageOf[HardshipFactor])


@router.get(
    "/support-criteria",
    response_model=PageOf[SupportCriterion],
    name="list_support_criteria",
    responses=problem_responses(403),
)
async def list_support_criteria(_caller: ReferenceRead, session: Session) -> Response:
    """What a provider must meet to support servicemembers' families (a provider is eligible
    when it meets every active one), in one page."""
    return respond_all(await support_criteria(session), PageOf[SupportCriterion])
