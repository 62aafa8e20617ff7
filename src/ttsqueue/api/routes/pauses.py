"""Pause and resume claiming, for every engine or one, and drain a worker (admins).
Jobs keep queueing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from ttsqueue.api import present
from ttsqueue.api.deps import AdminUser, QueueDep
from ttsqueue.api.errors import ApiError, responses
from ttsqueue.api.schemas import DrainOut, PauseIn, PauseOut, ResumeOut
from ttsqueue.backends.base import Pause

router = APIRouter(prefix="/v1/admin", tags=["admin"])

AUTH = responses(401, 403, 422)


def _out(pause: Pause) -> PauseOut:
    return PauseOut(engine=pause.engine, since=present.ts_required(pause.since))


@router.post(
    "/workers/{worker_id}/drain",
    response_model=DrainOut,
    status_code=202,
    responses=responses(401, 403, 404, 422),
)
async def drain_worker(
    worker_id: Annotated[str, Path(min_length=1, max_length=200)], queue: QueueDep, _: AdminUser
) -> DrainOut:
    """Ask a live worker to stop claiming, finish (or release after its grace period)
    what it holds and exit; it sees the request on its next heartbeat tick."""
    if worker_id not in {w.id for w in await queue.backend.list_workers()}:
        raise ApiError(404, f"no live worker {worker_id}", loc=["path", "worker_id"])
    await queue.backend.drain_worker(worker_id)
    return DrainOut(worker_id=worker_id, requested=True)


@router.get("/pauses", response_model=list[PauseOut], responses=AUTH)
async def list_pauses(queue: QueueDep, _: AdminUser) -> list[PauseOut]:
    """The pauses in force: the global one first, then per engine."""
    return [_out(p) for p in await queue.backend.list_pauses()]


@router.post("/pause", response_model=PauseOut, responses=AUTH)
async def pause(body: PauseIn, queue: QueueDep, _: AdminUser) -> PauseOut:
    """Stop claiming: a global pause leases nothing; an engine pause makes workers give
    that engine's chapters back (no attempt spent). Idempotent; enqueueing goes on."""
    return _out(await queue.backend.pause(body.engine))


@router.post("/resume", response_model=ResumeOut, responses=AUTH)
async def resume(body: PauseIn, queue: QueueDep, _: AdminUser) -> ResumeOut:
    """Lift the global pause (``engine`` null) or one engine's; idle workers see it
    within their poll interval."""
    resumed = await queue.backend.resume(body.engine)
    return ResumeOut(engine=body.engine, resumed=resumed)
