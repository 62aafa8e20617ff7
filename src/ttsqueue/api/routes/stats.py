"""Queue statistics: the whole queue for admins, the caller's own jobs otherwise."""

from __future__ import annotations

from fastapi import APIRouter

from ttsqueue.api.deps import CurrentUser, QueueDep
from ttsqueue.api.errors import responses
from ttsqueue.api.present import ts, ts_required
from ttsqueue.api.schemas import StatsPublic, WorkerPublic

router = APIRouter(tags=["stats"])


@router.get("/v1/stats", response_model=StatsPublic, responses=responses(401))
async def stats(queue: QueueDep, user: CurrentUser) -> StatsPublic:
    """Jobs and tasks by status; admins also see the live workers."""
    s = await queue.stats(user)
    workers = None
    if user.admin:
        workers = [
            WorkerPublic(
                id=w.id,
                host=w.host,
                pid=w.pid,
                concurrency=w.concurrency,
                tasks=list(w.tasks),
                started_at=ts_required(w.started_at),
                last_seen_at=ts_required(w.last_seen_at),
            )
            for w in await queue.backend.list_workers()
        ]
    return StatsPublic(
        scope="all" if user.admin else "user",
        jobs=dict(s.jobs),
        tasks=dict(s.tasks),
        users=s.users,
        oldest_pending_at=ts(s.oldest_pending_at),
        workers=workers,
    )
