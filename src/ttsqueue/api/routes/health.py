"""Liveness and readiness, without credentials: up or down. An admin's token adds
the store's answer and the version (an anonymous caller learns nothing about the
store, its host or its port)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from ttsqueue import __version__
from ttsqueue.api.deps import ApiState, bearer
from ttsqueue.api.schemas import HealthPublic

router = APIRouter(tags=["health"])
log = logging.getLogger("ttsqueue.api")

PING_TIMEOUT_S = 5.0


async def _is_admin(state: ApiState, credentials: HTTPAuthorizationCredentials | None) -> bool:
    if credentials is None:
        return False
    try:
        return (await state.auth.user(credentials.credentials)).admin
    except Exception:  # a bad token or a store that is down: anonymous
        return False


def _answer(ok: bool, store: str, admin: bool) -> JSONResponse:
    body = HealthPublic(status="ok" if ok else "unavailable")
    if admin:
        body = HealthPublic(status=body.status, store=store, version=__version__)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=200 if ok else 503)


@router.get(
    "/v1/health",
    response_model=HealthPublic,
    response_model_exclude_none=True,
    responses={503: {"model": HealthPublic, "description": "The store is unavailable"}},
)
async def health(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> JSONResponse:
    """200 when the process is up and its store answers; 503 otherwise."""
    state: ApiState | None = getattr(request.app.state, "api", None)
    if state is None:
        return _answer(False, "not opened yet", False)
    try:
        await asyncio.wait_for(state.queue.backend.ping(), PING_TIMEOUT_S)
    except Exception as exc:  # any failure to answer means "not ready"
        log.warning("health: store unavailable: %s", exc)
        return _answer(False, f"error: {exc}"[:300], await _is_admin(state, credentials))
    return _answer(True, "ok", await _is_admin(state, credentials))
