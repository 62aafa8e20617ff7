"""Operations: analytics and cost, SLA, workers and a searchable job table (admins)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ttsqueue import analytics, metrics, strings
from ttsqueue.api import present
from ttsqueue.api.deps import AdminUser, JobId, QueueDep, StateDep
from ttsqueue.api.errors import ApiError, responses
from ttsqueue.api.schemas import EventPublic, JobPublic, JobSummary, epoch_of
from ttsqueue.models import Job, JobFilter, JobStatus

router = APIRouter(prefix="/v1/admin", tags=["admin"])

MAX_WINDOW_DAYS = 90.0
MAX_SLA_WINDOW_S = 7 * 86400.0
MAX_EXAMINE = 5000  # jobs one search request reads at most
MAX_EVENTS = 1000

AUTH = responses(401, 403, 422)


class WorkerOut(BaseModel):
    id: str
    host: str
    pid: int
    version: str
    concurrency: int
    tasks: list[str] = Field(description="task ids held now (job id.chapter index)")
    started_at: datetime
    last_seen_at: datetime


class SearchPage(BaseModel):
    items: list[JobSummary]
    next_cursor: str | None
    examined: int = Field(description=f"jobs read to answer (at most {MAX_EXAMINE})")


class JobUsageOut(BaseModel):
    characters: int
    audio_s: float
    cost: float


class JobDetail(BaseModel):
    job: JobPublic
    events: list[EventPublic]
    usage: JobUsageOut


@router.get("/analytics", response_model=analytics.AnalyticsReport, responses=AUTH)
async def get_analytics(
    state: StateDep,
    _: AdminUser,
    days: Annotated[float, Query(gt=0, le=MAX_WINDOW_DAYS, description="window")] = 7.0,
    jobs_limit: Annotated[int, Query(ge=0, le=500)] = 50,
) -> analytics.AnalyticsReport:
    """Characters, audio seconds and cost per job, user, engine and day, and finished
    jobs over time, for jobs created in the last ``days`` (bounded: see ``max_jobs``)."""
    return await analytics.analytics(
        state.queue.backend, state.settings, window_s=days * 86400.0, jobs_limit=jobs_limit
    )


@router.get("/sla", response_model=analytics.SlaReport, responses=AUTH)
async def get_sla(
    state: StateDep,
    _: AdminUser,
    window_s: Annotated[float | None, Query(gt=0, le=MAX_SLA_WINDOW_S)] = None,
) -> analytics.SlaReport:
    """Measured queue-wait and run-time percentiles per tier against the targets."""
    report = await analytics.sla(state.queue.backend, state.settings, window_s=window_s)
    if window_s is None:
        state.sla.put(report)  # what /metrics shows next
    else:
        metrics.record_sla(report)
    return report


@router.get("/workers", response_model=list[WorkerOut], responses=AUTH)
async def get_workers(queue: QueueDep, _: AdminUser) -> list[WorkerOut]:
    """Live workers (seen within the store's worker TTL) and the tasks each holds."""
    return [
        WorkerOut(
            id=w.id,
            host=w.host,
            pid=w.pid,
            version=w.version,
            concurrency=w.concurrency,
            tasks=list(w.tasks),
            started_at=present.ts_required(w.started_at),
            last_seen_at=present.ts_required(w.last_seen_at),
        )
        for w in await queue.backend.list_workers()
    ]


# -- job search ------------------------------------------------------------------------


def _encode(cursor: str | None, size: int, skip: int) -> str:
    raw = json.dumps([cursor, size, skip]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str) -> tuple[str | None, int, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        cursor, size, skip = json.loads(raw)
        if not (cursor is None or (isinstance(cursor, str) and not strings.problem(cursor))):
            raise ValueError("cursor")
        if not (isinstance(size, int) and isinstance(skip, int) and 0 <= skip < size <= 200):
            raise ValueError("size")
    except (binascii.Error, ValueError, TypeError):
        raise ApiError(422, "invalid cursor", loc=["query", "cursor"]) from None
    return cursor, size, skip


def _matches(job: Job, q: str) -> bool:
    fields = (job.id, job.title, job.author, job.user_id, job.work_id or "")
    return any(q in f.lower() for f in fields)


@router.get("/jobs", response_model=SearchPage, responses=AUTH)
async def search_jobs(
    queue: QueueDep,
    _: AdminUser,
    status: JobStatus | None = None,
    user: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[datetime | None, Query(description="created at or after")] = None,
    until: Annotated[datetime | None, Query(description="created before")] = None,
    q: Annotated[str | None, Query(max_length=200, description="id, title, author, user")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> SearchPage:
    """Every user's jobs, newest first, filtered by status, user, creation date and a
    case-insensitive search; reads at most a bounded number of jobs per request and
    hands back a cursor to go on."""
    flt = JobFilter(user_id=user or None, status=status)
    lo = epoch_of(since) if since else None
    hi = epoch_of(until) if until else None
    needle = (q or "").strip().lower()
    store_cursor, size, skip = _decode(cursor) if cursor else (None, limit, 0)
    found: list[Job] = []
    examined = 0
    while True:
        try:
            page = await queue.backend.list_jobs(flt, limit=size, cursor=store_cursor)
        except (ValueError, TypeError, KeyError, IndexError):
            raise ApiError(422, "invalid cursor", loc=["query", "cursor"]) from None
        items = page.items
        for i in range(skip, len(items)):
            job = items[i]
            examined += 1
            if lo is not None and job.created_at < lo:
                return SearchPage(items=_summaries(found), next_cursor=None, examined=examined)
            if (hi is None or job.created_at < hi) and (not needle or _matches(job, needle)):
                found.append(job)
            full = len(found) >= limit or examined >= MAX_EXAMINE
            if full:
                more = i + 1 < len(items)
                nxt = _encode(store_cursor, size, i + 1) if more else page.next_cursor
                if not more and nxt is not None:
                    nxt = _encode(nxt, size, 0)
                return SearchPage(items=_summaries(found), next_cursor=nxt, examined=examined)
        if page.next_cursor is None:
            return SearchPage(items=_summaries(found), next_cursor=None, examined=examined)
        store_cursor, skip = page.next_cursor, 0


def _summaries(jobs: list[Job]) -> list[JobSummary]:
    return [present.summary(j) for j in jobs]


@router.get("/jobs/{job_id}", response_model=JobDetail, responses=responses(401, 403, 404, 422))
async def job_detail(job_id: JobId, state: StateDep, admin: AdminUser) -> JobDetail:
    """A job with its chapters, its events (the first 1000) and its usage and cost."""
    job = await state.queue.get_job(admin, job_id)
    events = await state.queue.backend.events(job_id, limit=MAX_EVENTS)
    chars, audio = analytics.usage_of(job)
    price = state.settings.price_per_million_chars.get(job.voice.engine, 0.0)
    return JobDetail(
        job=present.job(job),
        events=[present.event(e) for e in events],
        usage=JobUsageOut(
            characters=chars, audio_s=round(audio, 3), cost=round(chars / 1e6 * price, 6)
        ),
    )
