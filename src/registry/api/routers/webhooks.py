"""Webhook subscriptions: the change feed pushed to a client's URL, signed the Standard
Webhooks way, by `registry worker`. A client manages only its own subscriptions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from registry.api.dependencies import AppSettings, Pagination, Session, WebhooksManage
from registry.api.idempotency import IdempotencyClaim
from registry.api.openapi_responses import problem_responses
from registry.api.preconditions import IfMatch, required_version
from registry.api.responses import respond, respond_page
from registry.api.routers.changes import feed_position
from registry.api.routes import path_for
from registry.api.schemas.base import PageOf
from registry.api.schemas.webhooks import (
    WebhookDelivery,
    WebhookReplay,
    WebhookSubscription,
    WebhookSubscriptionCreate,
    WebhookSubscriptionPatch,
    WebhookSubscriptionWithSecret,
)
from registry.domain.webhooks import commands, queries

router = APIRouter(tags=["webhooks"])

SubscriptionId = Annotated[uuid.UUID, Path(description="The subscription's id.")]
_ETAG = {"headers": {"ETag": {"schema": {"type": "string"}}}}
_CHANGE = {**problem_responses(403, 404, 412, 422, 428), 200: _ETAG}


@router.post(
    "/webhook-subscriptions",
    status_code=201,
    response_model=WebhookSubscriptionWithSecret,
    name="create_webhook_subscription",
    responses={
        **problem_responses(403, 409, 422),
        201: {"headers": {**_ETAG["headers"], "Location": {"schema": {"type": "string"}}}},
    },
)
async def create_webhook_subscription(
    request: Request,
    caller: WebhooksManage,
    session: Session,
    settings: AppSettings,
    idempotency: IdempotencyClaim,
    body: WebhookSubscriptionCreate,
) -> Response:
    """Subscribe a URL to the change feed within your reach (as `GET /changes` shows it to
    you now), from now on or after a cursor. The answer carries the signing `secret`, shown
    this once. Needs `webhooks:manage` and `changes:read`."""
    if idempotency.replay is not None:
        return idempotency.replay
    subscription, secret = await commands.create_subscription(
        session,
        caller,
        body.model_dump(),
        feed_position(body.after, "body.after"),
        allow_http=settings.webhook_allow_http,
        allow_private=settings.webhook_allow_private_targets,
    )
    return await idempotency.respond(
        {**subscription, "secret": secret},
        WebhookSubscriptionWithSecret,
        status_code=201,
        version=subscription["version"],
        location=path_for(request, "get_webhook_subscription", subscription_id=subscription["id"]),
        resource_type=queries.WEBHOOK_SUBSCRIPTION,
        resource_ids=[subscription["id"]],
    )


@router.get(
    "/webhook-subscriptions",
    response_model=PageOf[WebhookSubscription],
    name="list_webhook_subscriptions",
    responses=problem_responses(403, 422),
)
async def list_webhook_subscriptions(
    request: Request, caller: WebhooksManage, session: Session, page: Pagination
) -> Response:
    """Your subscriptions (never their secrets)."""
    result = await queries.list_subscriptions(session, caller, page)
    return respond_page(request, result, PageOf[WebhookSubscription])


@router.get(
    "/webhook-subscriptions/{subscription_id}",
    response_model=WebhookSubscription,
    name="get_webhook_subscription",
    responses={**problem_responses(403, 404, 422), 200: _ETAG},
)
async def get_webhook_subscription(
    caller: WebhooksManage, session: Session, subscription_id: SubscriptionId
) -> Response:
    """One of your subscriptions: its URL, types, status and how far it has delivered."""
    subscription = await queries.get_subscription(session, caller, subscription_id)
    return respond(subscription, WebhookSubscription, version=subscription["version"])


@router.patch(
    "/webhook-subscriptions/{subscription_id}",
    response_model=WebhookSubscription,
    name="update_webhook_subscription",
    responses=_CHANGE,
)
async def update_webhook_subscription(
    caller: WebhooksManage,
    session: Session,
    settings: AppSettings,
    subscription_id: SubscriptionId,
    body: WebhookSubscriptionPatch,
    if_match: IfMatch,
) -> Response:
    """Change the URL or the types; disable (`status=disabled`) or enable again
    (`status=active`: deliveries resume with the event that was due, the failures
    forgotten)."""
    subscription = await commands.update_subscription(
        session,
        caller,
        subscription_id,
        body.model_dump(exclude_unset=True),
        required_version(if_match),
        allow_http=settings.webhook_allow_http,
        allow_private=settings.webhook_allow_private_targets,
    )
    return respond(subscription, WebhookSubscription, version=subscription["version"])


@router.post(
    "/webhook-subscriptions/{subscription_id}/secret",
    response_model=WebhookSubscriptionWithSecret,
    name="rotate_webhook_secret",
    responses=_CHANGE,
)
async def rotate_webhook_secret(
    caller: WebhooksManage, session: Session, subscription_id: SubscriptionId, if_match: IfMatch
) -> Response:
    """A new signing secret, shown in this answer only; every delivery from now on is signed
    with it (a delivery your receiver refuses meanwhile is retried)."""
    subscription, secret = await commands.rotate_secret(
        session, caller, subscription_id, required_version(if_match)
    )
    return respond(
        {**subscription, "secret": secret},
        WebhookSubscriptionWithSecret,
        version=subscription["version"],
    )


@router.post(
    "/webhook-subscriptions/{subscription_id}/replay",
    response_model=WebhookSubscription,
    name="replay_webhook_subscription",
    responses=_CHANGE,
)
async def replay_webhook_subscription(
    caller: WebhooksManage,
    session: Session,
    subscription_id: SubscriptionId,
    body: WebhookReplay,
    if_match: IfMatch,
) -> Response:
    """Deliver again, in order, every event after a feed cursor (from the beginning when
    `after` is absent): the subscription's position moves back (or forward) to it."""
    subscription = await commands.replay(
        session,
        caller,
        subscription_id,
        feed_position(body.after, "body.after"),
        required_version(if_match),
    )
    return respond(subscription, WebhookSubscription, version=subscription["version"])


@router.get(
    "/webhook-subscriptions/{subscription_id}/deliveries",
    response_model=PageOf[WebhookDelivery],
    name="list_webhook_deliveries",
    responses=problem_responses(403, 404, 422),
)
async def list_webhook_deliveries(
    request: Request,
    caller: WebhooksManage,
    session: Session,
    subscription_id: SubscriptionId,
    page: Pagination,
) -> Response:
    """Every delivery attempt of the subscription, oldest first: the event, the attempt's
    number, when, the receiver's status or why there was none, how long it took."""
    result = await queries.list_deliveries(session, caller, subscription_id, page)
    return respond_page(request, result, PageOf[WebhookDelivery])
