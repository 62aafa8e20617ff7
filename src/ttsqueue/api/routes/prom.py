"""The Prometheus ``/metrics`` endpoint: cheap to scrape, optionally behind a token.

A scrape reads the store's counters (one query) and the workers; the SLA figures,
which scan the recent jobs, come from a cache refreshed in the background at most once
per ``SlaCache.max_age_s`` (and by every ``GET /v1/admin/sla``), so a scrape never pays for
the scan. With ``TTSQUEUE_METRICS_TOKEN`` set the scraper must send it as a bearer
token; with ``TTSQUEUE_METRICS_PORT`` set the endpoint moves to its own port.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials

from ttsqueue import metrics
from ttsqueue.api.deps import StateDep, bearer, unauthorized
from ttsqueue.api.errors import responses

router = APIRouter(tags=["metrics"])
log = logging.getLogger("ttsqueue.api")


def scraper(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    token = state.settings.metrics_token
    if not token:
        return
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise unauthorized("/metrics needs the metrics token (TTSQUEUE_METRICS_TOKEN)")


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        **responses(401),
    },
    dependencies=[Depends(scraper)],
)
async def prometheus(state: StateDep) -> Response:
    """Counters of this process and gauges of the store, in the Prometheus text format."""
    backend = state.queue.backend
    stats, workers = await asyncio.gather(backend.stats(), backend.list_workers())
    snap = metrics.Snapshot(
        stats=stats,
        workers=workers,
        sla=state.sla.current(backend, state.settings),
        now=time.time(),
    )
    return Response(metrics.render(snap), media_type=metrics.CONTENT_TYPE)
