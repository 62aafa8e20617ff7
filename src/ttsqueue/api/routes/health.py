"""Liveness and readiness, without credentials."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ttsqueue import __version__
from ttsqueue.api.schemas import HealthPublic

router = APIRouter(tags=["health"])
log = logging.getLogger("ttsqueue.api")

PING_TIMEOUT_S = 5.0


@router.get(
    "/v1/health",
    response_model=HealthPublic,
    responses={503: {"model": HealthPublic, "description": "The store is unavailable"}},
)
async def health(request: Request) -> JSONResponse:
    """200 when the process is up and its store answers; 503 otherwise."""
    state = getattr(request.app.state, "api", None)
    if state is None:
        body = HealthPublic(status="unavailable", store="not opened yet", version=__version__)
        return JSONResponse(body.model_dump(), status_code=503)
    try:
        await asyncio.wait_for(state.queue.backend.ping(), PING_TIMEOUT_S)
    except Exception as exc:  # any failure to answer means "not ready"
        log.warning("health: store unavailable: %s", exc)
        body = HealthPublic(status="unavailable", store=f"error: {exc}"[:300], version=__version__)
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(HealthPublic(status="ok", store="ok", version=__version__).model_dump())
