"""Webhooks: endpoints per user, their secrets, and the log of deliveries to them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from ttsqueue.api.deps import CurrentUser, StateDep
from ttsqueue.api.errors import ApiError, responses
from ttsqueue.backends.base import Backend
from ttsqueue.models import MAX_USER_ID_CHARS, User, valid_user_id
from ttsqueue.webhooks.model import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    new_endpoint_id,
    new_secret,
)
from ttsqueue.webhooks.safety import MAX_URL_CHARS, UnsafeTarget, check_url

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

EventName = Literal["job.completed", "job.failed", "job.cancelled", "job.progress"]
MAX_DELIVERIES_PAGE = 100
MAX_DESCRIPTION_CHARS = 200
MAX_ID_CHARS = 64

AUTH = responses(401, 404, 422)


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


class WebhookCreate(BaseModel):
    url: str = Field(max_length=MAX_URL_CHARS, description="where events are posted (https)")
    events: list[EventName] = Field(min_length=1, max_length=4)
    description: str = Field("", max_length=MAX_DESCRIPTION_CHARS)
    progress_interval_s: float | None = Field(
        None, ge=0, le=86400, description="job.progress at most this often per job"
    )
    user_id: str | None = Field(
        None, max_length=MAX_USER_ID_CHARS, description="admins: register for this user"
    )


class WebhookPublic(BaseModel):
    id: str
    user_id: str
    url: str
    events: list[str]
    description: str
    progress_interval_s: float
    created_at: datetime
    previous_secret_valid_until: datetime | None = Field(
        description="during a rotation: the replaced secret still signs until then"
    )


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="whsec_…: verify signatures with it; shown only now")


class WebhookSecret(BaseModel):
    id: str
    secret: str = Field(description="the new secret; shown only now")
    previous_secret_valid_until: datetime


class DeliveryPublic(BaseModel):
    id: str = Field(description="the webhook-id header: the same on every attempt")
    seq: int
    job_id: str
    type: str
    status: DeliveryStatus
    attempts: int
    response_status: int | None
    error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryPublic]
    next_cursor: str | None


def endpoint_out(ep: WebhookEndpoint) -> WebhookPublic:
    now = time.time()
    rotating = ep.previous_until if ep.previous_until and ep.previous_until > now else None
    return WebhookPublic(
        id=ep.id,
        user_id=ep.user_id,
        url=ep.url,
        events=list(ep.events),
        description=ep.description,
        progress_interval_s=ep.progress_interval_s,
        created_at=datetime.fromtimestamp(ep.created_at, UTC),
        previous_secret_valid_until=_time(rotating),
    )


def delivery_out(d: WebhookDelivery) -> DeliveryPublic:
    return DeliveryPublic(
        id=d.id,
        seq=d.seq,
        job_id=d.job_id,
        type=d.type,
        status=d.status,
        attempts=d.attempts,
        response_status=d.response_status,
        error=d.error,
        next_attempt_at=_time(d.run_at) if d.status is DeliveryStatus.PENDING else None,
        created_at=datetime.fromtimestamp(d.created_at, UTC),
        updated_at=datetime.fromtimestamp(d.updated_at, UTC),
        delivered_at=_time(d.delivered_at),
    )


def store(state: StateDep) -> Backend:
    return state.queue.backend


StoreDep = Annotated[Backend, Depends(store)]
EndpointId = Annotated[str, Path(max_length=MAX_ID_CHARS, description="the endpoint's id")]


def _scope(user: User) -> str | None:
    return None if user.admin else user.id


async def _endpoint(backend: Backend, endpoint_id: str, user: User) -> WebhookEndpoint:
    ep = await backend.get_webhook(endpoint_id, user_id=_scope(user))
    if ep is None:
        raise ApiError(
            404, f"no webhook endpoint {endpoint_id}", loc=["path", "endpoint_id"], type="not_found"
        )
    return ep


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    summary="Register a webhook endpoint",
    responses=responses(401, 403, 409, 422),
)
async def create_webhook(
    body: WebhookCreate, user: CurrentUser, state: StateDep, backend: StoreDep
) -> WebhookCreated:
    """Events are posted to ``url`` signed as Standard Webhooks describes, with the
    ``secret`` answered here (and only here)."""
    settings = state.settings
    owner = user.id
    if body.user_id is not None and body.user_id != user.id:
        if not user.admin:
            raise ApiError(
                403,
                "only admins register endpoints for others",
                loc=["body", "user_id"],
                type="forbidden",
            )
        if not valid_user_id(body.user_id):
            raise ApiError(422, "not a valid user id", loc=["body", "user_id"])
        owner = body.user_id
    try:
        url = await check_url(
            body.url,
            allow_private=settings.webhooks_allow_private,
            allow_http=settings.webhooks_allow_http,
        )
    except UnsafeTarget as exc:
        raise ApiError(422, str(exc), loc=["body", "url"], type="unsafe_url") from None
    if len(await backend.list_webhooks(user_id=owner)) >= settings.webhooks_max_per_user:
        raise ApiError(
            409,
            f"at most {settings.webhooks_max_per_user} webhook endpoints per user",
            loc=["body"],
            type="limit",
        )
    interval = body.progress_interval_s
    ep = WebhookEndpoint(
        id=new_endpoint_id(),
        user_id=owner,
        url=url,
        events=tuple(dict.fromkeys(body.events)),
        secret=new_secret(),
        created_at=time.time(),
        progress_interval_s=settings.webhooks_progress_interval_s if interval is None else interval,
        description=body.description,
    )
    await backend.create_webhook(ep)
    return WebhookCreated(**endpoint_out(ep).model_dump(), secret=ep.secret)


@router.get(
    "", response_model=list[WebhookPublic], summary="List webhook endpoints", responses=AUTH
)
async def list_webhooks(
    user: CurrentUser,
    backend: StoreDep,
    user_id: Annotated[
        str | None, Query(max_length=MAX_USER_ID_CHARS, description="admins: one user's")
    ] = None,
) -> list[WebhookPublic]:
    """The caller's endpoints; an admin sees everyone's (or ``user_id``'s)."""
    scope = user_id if user.admin else user.id
    return [endpoint_out(ep) for ep in await backend.list_webhooks(user_id=scope)]


@router.get("/{endpoint_id}", response_model=WebhookPublic, responses=AUTH)
async def get_webhook(
    endpoint_id: EndpointId, user: CurrentUser, backend: StoreDep
) -> WebhookPublic:
    return endpoint_out(await _endpoint(backend, endpoint_id, user))


@router.delete("/{endpoint_id}", status_code=204, responses=AUTH)
async def delete_webhook(endpoint_id: EndpointId, user: CurrentUser, backend: StoreDep) -> Response:
    """Delete the endpoint and its delivery log; nothing more is sent to it."""
    if not await backend.delete_webhook(endpoint_id, user_id=_scope(user)):
        raise ApiError(
            404, f"no webhook endpoint {endpoint_id}", loc=["path", "endpoint_id"], type="not_found"
        )
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate", response_model=WebhookSecret, responses=AUTH)
async def rotate_secret(
    endpoint_id: EndpointId, user: CurrentUser, state: StateDep, backend: StoreDep
) -> WebhookSecret:
    """A new secret; the replaced one keeps signing (a second ``v1,`` signature) for
    ``TTSQUEUE_WEBHOOKS_ROTATION_OVERLAP_S``, so receivers can switch without a gap."""
    until = time.time() + state.settings.webhooks_rotation_overlap_s
    secret = new_secret()
    ep = await backend.rotate_webhook_secret(
        endpoint_id, secret=secret, previous_until=until, user_id=_scope(user)
    )
    if ep is None:
        raise ApiError(
            404, f"no webhook endpoint {endpoint_id}", loc=["path", "endpoint_id"], type="not_found"
        )
    return WebhookSecret(
        id=ep.id, secret=secret, previous_secret_valid_until=datetime.fromtimestamp(until, UTC)
    )


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryPage, responses=AUTH)
async def list_deliveries(
    endpoint_id: EndpointId,
    user: CurrentUser,
    backend: StoreDep,
    limit: Annotated[int, Query(ge=1, le=MAX_DELIVERIES_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]+$")] = None,
) -> DeliveryPage:
    """The endpoint's deliveries, newest first: status, attempts, the last answer."""
    await _endpoint(backend, endpoint_id, user)
    before = int(cursor) if cursor is not None else None
    found = await backend.list_deliveries(endpoint_id, limit=limit + 1, before=before)
    page = found[:limit]
    more = len(found) > limit
    return DeliveryPage(
        items=[delivery_out(d) for d in page],
        next_cursor=str(page[-1].seq) if more and page else None,
    )


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryPublic,
    responses=AUTH,
)
async def redeliver(
    endpoint_id: EndpointId,
    delivery_id: Annotated[str, Path(max_length=MAX_ID_CHARS)],
    user: CurrentUser,
    backend: StoreDep,
) -> DeliveryPublic:
    """Send a delivery again (due now, a fresh retry window), whatever became of it; one
    being attempted right now is left to finish."""
    await _endpoint(backend, endpoint_id, user)
    found = await backend.redeliver(endpoint_id, delivery_id)
    if found is None:
        raise ApiError(
            404, f"no delivery {delivery_id}", loc=["path", "delivery_id"], type="not_found"
        )
    return delivery_out(found)
