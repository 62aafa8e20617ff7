"""Dependencies of the routes, as ``Annotated`` aliases (``CurrentUser``, ``QueueDep``, ...)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ttsqueue.api.auth import Authenticator, AuthError
from ttsqueue.api.errors import ApiError
from ttsqueue.api.parsing import ParseSlots
from ttsqueue.api.preview import ClipCache
from ttsqueue.api.ratelimit import SlidingWindow
from ttsqueue.api.sla_cache import SlaCache
from ttsqueue.models import User
from ttsqueue.queue import Queue
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass
class ApiState:
    """What every request needs, kept on ``app.state.api``."""

    settings: Settings
    queue: Queue
    storage: Storage
    submissions: SlidingWindow
    auth: Authenticator
    sla: SlaCache
    parsing: ParseSlots
    previews: SlidingWindow
    clips: ClipCache = field(default_factory=ClipCache)
    # voice previews synthesized at once in this process (the rest wait their turn)
    preview_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))


def get_state(request: Request) -> ApiState:
    state: ApiState | None = getattr(request.app.state, "api", None)
    if state is None:
        raise ApiError(503, "the service is starting", type="unavailable")
    return state


StateDep = Annotated[ApiState, Depends(get_state)]


def get_queue(state: StateDep) -> Queue:
    return state.queue


QueueDep = Annotated[Queue, Depends(get_queue)]

bearer = HTTPBearer(
    auto_error=False,
    description=(
        "A JWT from the identity provider (e.g. Supabase: ES256/RS256/EdDSA keys from "
        "its JWKS URL, or HS256 with a shared secret) or an API key from "
        "`ttsqueue token create`."
    ),
)


def unauthorized(message: str) -> ApiError:
    return ApiError(
        401,
        message,
        loc=["header", "Authorization"],
        type="unauthorized",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def current_user(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    if credentials is None:
        raise unauthorized("send Authorization: Bearer <token>")
    try:
        return await state.auth.user(credentials.credentials)
    except AuthError as exc:
        raise unauthorized(str(exc)) from None


CurrentUser = Annotated[User, Depends(current_user)]


def admin_user(user: CurrentUser) -> User:
    if not user.admin:
        raise ApiError(403, "admins only", type="forbidden")
    return user


AdminUser = Annotated[User, Depends(admin_user)]


def check_job_id(job_id: str, loc: tuple[str, str] = ("path", "job_id")) -> str:
    """A job id that cannot exist answers 404 like any unknown job, before the store."""
    if not _UUID.match(job_id):
        raise ApiError(404, f"no job {job_id[:100]}", loc=loc, type="not_found")
    return job_id.lower()


def valid_job_id(job_id: Annotated[str, Path(description="the job's id (a UUID)")]) -> str:
    return check_job_id(job_id)


JobId = Annotated[str, Depends(valid_job_id)]
