"""Recording refusals. The request's own transaction has rolled back by the time an error is
rendered, so a refusal is written in a transaction of its own.

A refusal names the resource the way the same operation's successful events do (``family``,
not the route's tag ``families``), so an auditor finds attempts and reads of a record under
one name: the resource is the collection the path addresses last
(``/families/{family_id}/members/{person_id}`` addresses a person).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.routing import APIRoute

from registry.api.dependencies import own_transaction
from registry.domain.audit.commands import record
from registry.domain.audit.rules import Outcome
from registry.domain.cases.queries import CASE, REFERRAL
from registry.domain.changes.queries import CHANGE_FEED
from registry.domain.classifier.queries import SERVICE
from registry.domain.exports.queries import EXPORT
from registry.domain.families.queries import FAMILY, PERSON
from registry.domain.friendly_communities.queries import FRIENDLY_COMMUNITY
from registry.domain.military.queries import (
    MILITARY_UNIT,
    SERVICEMEMBER,
    SUPPORT_CASE,
    SUPPORT_CASE_CONTACT,
    SUPPORT_CASE_MEASURE,
    SUPPORT_MEASURE,
)
from registry.domain.programmes.queries import (
    AID_ITEM,
    AID_RECEIPT,
    AID_STOCK,
    ALLOCATION,
    DISTRIBUTION,
    ENROLMENT,
    PROGRAMME,
)
from registry.domain.providers.queries import PROVIDER, PROVIDER_LINK
from registry.domain.reports.queries import REPORT
from registry.domain.service_records.queries import SERVICE_RECORD
from registry.domain.shared.caller import Caller
from registry.domain.webhooks.queries import WEBHOOK_DELIVERY, WEBHOOK_SUBSCRIPTION

#: The resource each collection of the API holds, by its path segment.
_RESOURCE_OF_COLLECTION = {
    "families": FAMILY,
    "members": PERSON,
    "cases": CASE,
    "measures": "case_measure",
    "assessment": "case_assessment",
    "plan": "case_plan",
    "referrals": REFERRAL,
    "caseload": CASE,
    "service-records": SERVICE_RECORD,
    "providers": PROVIDER,
    "services": SERVICE,
    "territories": "territory",
    "audit-events": "audit_event",
    "audit-head": "audit_block",
    "changes": CHANGE_FEED,
    "exports": EXPORT,
    "files": EXPORT,
    "recipient-categories": "recipient_category",
    "hardship-factors": "hardship_factor",
    "support-criteria": "support_criterion",
    "military-units": MILITARY_UNIT,
    "servicemembers": SERVICEMEMBER,
    "support-cases": SUPPORT_CASE,
    "support-measures": SUPPORT_MEASURE,
    "contacts": SUPPORT_CASE_CONTACT,
    "programmes": PROGRAMME,
    "allocations": ALLOCATION,
    "enrolments": ENROLMENT,
    "distributions": DISTRIBUTION,
    "aid-items": AID_ITEM,
    "aid-stock": AID_STOCK,
    "aid-receipts": AID_RECEIPT,
    "friendly-communities": FRIENDLY_COMMUNITY,
    "webhook-subscriptions": WEBHOOK_SUBSCRIPTION,
    "deliveries": WEBHOOK_DELIVERY,
    "reports": REPORT,
}
#: A collection nested in another that holds something else: a family's providers are the
#: links between the two.
_RESOURCE_OF_NESTED_COLLECTION = {
    ("families", "providers"): PROVIDER_LINK,
    ("military-units", "cases"): SUPPORT_CASE,
    ("support-cases", "measures"): SUPPORT_CASE_MEASURE,
    # A report counts records of a collection and is none of them.
    **{
        ("reports", collection): REPORT
        for collection in (
            "families",
            "cases",
            "service-records",
            "providers",
            "support-cases",
            "programmes",
        )
    },
}
_NOT_NESTED = ""


def resource_type_of(path: str) -> str | None:
    """The resource the route at ``path`` (its template, ``/api/v1/…``) addresses; None for
    a path of no known collection (a test holds every route to have one)."""
    collections = [s for s in path.split("/") if s in _RESOURCE_OF_COLLECTION]
    if not collections:
        return None
    outer = collections[-2] if len(collections) > 1 else _NOT_NESTED
    nested = _RESOURCE_OF_NESTED_COLLECTION.get((outer, collections[-1]))
    return nested or _RESOURCE_OF_COLLECTION[collections[-1]]


async def record_denied(request: Request, action: str | None = None) -> None:
    """One ``denied`` event of the caller (none before the caller is known), as the
    operation's own action unless ``action`` names another (``rate_limited``)."""
    caller: Caller | None = getattr(request.state, "caller", None)
    if caller is None:
        return
    route = request.scope.get("route")
    if action is None:
        action = route.name if isinstance(route, APIRoute) else "unknown"
    resource_type = (resource_type_of(route.path) if isinstance(route, APIRoute) else None) or (
        "unknown"
    )
    resource_ids = [str(v) for v in request.path_params.values()]
    async with own_transaction(request) as session:
        await record(session, caller, action, resource_type, resource_ids, Outcome.DENIED)
