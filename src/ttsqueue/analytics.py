"""Usage, cost and service levels, computed from the store through the backend contract.

A report reads the jobs *created* within a time window, newest first, a page of
``list_jobs`` at a time, and stops at the window's start or after
``settings.analytics_max_jobs`` jobs (then ``truncated`` is true). Nothing is kept
between reports, so every API process answers the same for a shared store.

* Characters and audio seconds of a completed job come from its result (the sum over its
  chapters); for an unfinished, failed or cancelled job with chapters done, from those
  chapters' results (at most :data:`MAX_DETAILED` such jobs are read per report).
* Cost = characters / 1e6 x the engine's price per million characters
  (``settings.price_per_million_chars``; an engine without a price costs 0 and is listed
  in ``unpriced_engines``).
* Queue wait = ``started_at - max(created_at, run_at)``; run time = ``finished_at -
  started_at``. A job still waiting counts with its wait so far (a lower bound), so a
  stuck queue breaches its SLA before anything starts.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import BaseModel

from ttsqueue.backends.base import Backend
from ttsqueue.metrics import tier
from ttsqueue.models import Job, JobFilter, JobStatus, TaskKind
from ttsqueue.settings import Settings

PAGE = 200
MAX_DETAILED = 200  # unfinished jobs whose chapters are read for their usage, per report
DAY_S = 86400.0


@dataclass
class Scan:
    jobs: list[Job] = field(default_factory=list)
    truncated: bool = False


async def scan_jobs(backend: Backend, *, since: float, max_jobs: int) -> Scan:
    """Jobs created at or after ``since``, newest first, at most ``max_jobs``."""
    scan = Scan()
    cursor: str | None = None
    while True:
        page = await backend.list_jobs(JobFilter(), limit=PAGE, cursor=cursor)
        for job in page.items:
            if job.created_at < since:
                return scan
            if len(scan.jobs) >= max_jobs:
                scan.truncated = True
                return scan
            scan.jobs.append(job)
        if page.next_cursor is None:
            return scan
        cursor = page.next_cursor


# -- usage and cost --------------------------------------------------------------------


class Usage(BaseModel):
    jobs: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    active: int = 0
    characters: int = 0
    audio_s: float = 0.0
    cost: float = 0.0

    def add(self, job: Job, characters: int, audio_s: float, cost: float) -> None:
        self.jobs += 1
        if job.status is JobStatus.COMPLETED:
            self.completed += 1
        elif job.status is JobStatus.FAILED:
            self.failed += 1
        elif job.status is JobStatus.CANCELLED:
            self.cancelled += 1
        else:
            self.active += 1
        self.characters += characters
        self.audio_s = round(self.audio_s + audio_s, 3)
        self.cost = round(self.cost + cost, 6)


class KeyedUsage(Usage):
    key: str


class JobUsage(BaseModel):
    id: str
    user_id: str
    title: str
    engine: str
    status: JobStatus
    characters: int
    audio_s: float
    cost: float
    created_at: float
    finished_at: float | None


class TimelinePoint(BaseModel):
    start: float  # bucket start, epoch seconds
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    failure_rate: float | None = None  # failed / (completed + failed)


class AnalyticsReport(BaseModel):
    since: float
    until: float
    jobs_scanned: int
    truncated: bool
    max_jobs: int
    currency_note: str = "prices are per million characters, in the unit they are configured in"
    prices: dict[str, float]
    unpriced_engines: list[str]
    totals: Usage
    per_engine: list[KeyedUsage]
    per_user: list[KeyedUsage]
    per_day: list[KeyedUsage]  # key: UTC date (YYYY-MM-DD) the job finished, or was created
    bucket_s: float
    timeline: list[TimelinePoint]
    jobs: list[JobUsage]  # the most recent ones


def _number(value: object) -> float:
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return 0.0


def _from_result(job: Job) -> tuple[int, float] | None:
    """A completed job's usage from its result, when the result carries it."""
    result = job.result or {}
    if job.status is JobStatus.COMPLETED and "characters" in result:
        return int(_number(result["characters"])), _number(result.get("duration_s"))
    return None


def usage_from_chapters(job: Job) -> tuple[int, float]:
    chars, audio = 0, 0.0
    for t in job.tasks:
        if t.kind is TaskKind.SYNTHESIZE and t.result:
            chars += int(_number(t.result.get("characters")))
            audio += _number(t.result.get("duration_s"))
    return chars, audio


def usage_of(job: Job) -> tuple[int, float]:
    """Characters and audio seconds of a job read with its tasks (``Backend.get``)."""
    known = _from_result(job)
    return known if known is not None else usage_from_chapters(job)


async def job_usage(backend: Backend, jobs: Sequence[Job]) -> dict[str, tuple[int, float]]:
    """Characters and audio seconds per job id."""
    usage: dict[str, tuple[int, float]] = {}
    detailed = 0
    for job in jobs:
        known = _from_result(job)
        if known is not None:
            usage[job.id] = known
        elif job.completed_chapters > 0 and detailed < MAX_DETAILED:
            detailed += 1
            full = await backend.get(job.id)
            usage[job.id] = usage_from_chapters(full) if full is not None else (0, 0.0)
        else:
            usage[job.id] = (0, 0.0)
    return usage


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _timeline(
    jobs: Iterable[Job], since: float, until: float, bucket_s: float
) -> list[TimelinePoint]:
    start = math.floor(since / bucket_s) * bucket_s
    n = max(1, math.ceil((until - start) / bucket_s))
    points = [TimelinePoint(start=start + i * bucket_s) for i in range(n)]
    for job in jobs:
        if job.finished_at is None or not job.status.terminal:
            continue
        i = int((job.finished_at - start) // bucket_s)
        if not 0 <= i < n:
            continue
        p = points[i]
        if job.status is JobStatus.COMPLETED:
            p.completed += 1
        elif job.status is JobStatus.FAILED:
            p.failed += 1
        else:
            p.cancelled += 1
    for p in points:
        if p.completed + p.failed:
            p.failure_rate = round(p.failed / (p.completed + p.failed), 4)
    return points


def _keyed(groups: dict[str, Usage]) -> list[KeyedUsage]:
    return [KeyedUsage(key=k, **u.model_dump()) for k, u in groups.items()]


async def analytics(
    backend: Backend, settings: Settings, *, window_s: float, jobs_limit: int = 50
) -> AnalyticsReport:
    until = time.time()
    since = until - window_s
    scan = await scan_jobs(backend, since=since, max_jobs=settings.analytics_max_jobs)
    usage = await job_usage(backend, scan.jobs)
    prices = dict(settings.price_per_million_chars)
    unpriced: set[str] = set()
    totals = Usage()
    engines: dict[str, Usage] = defaultdict(Usage)
    users: dict[str, Usage] = defaultdict(Usage)
    days: dict[str, Usage] = defaultdict(Usage)
    rows: list[JobUsage] = []
    for job in scan.jobs:
        engine = job.voice.engine
        chars, audio = usage[job.id]
        if engine not in prices:
            unpriced.add(engine)
        cost = round(chars / 1e6 * prices.get(engine, 0.0), 6)
        for bucket in (
            totals,
            engines[engine],
            users[job.user_id],
            days[_day(job.finished_at or job.created_at)],
        ):
            bucket.add(job, chars, audio, cost)
        if len(rows) < jobs_limit:
            rows.append(
                JobUsage(
                    id=job.id,
                    user_id=job.user_id,
                    title=job.title,
                    engine=engine,
                    status=job.status,
                    characters=chars,
                    audio_s=round(audio, 3),
                    cost=cost,
                    created_at=job.created_at,
                    finished_at=job.finished_at,
                )
            )
    bucket_s = 3600.0 if window_s <= 2 * DAY_S else DAY_S
    return AnalyticsReport(
        since=since,
        until=until,
        jobs_scanned=len(scan.jobs),
        truncated=scan.truncated,
        max_jobs=settings.analytics_max_jobs,
        prices=prices,
        unpriced_engines=sorted(unpriced),
        totals=totals,
        per_engine=sorted(_keyed(engines), key=lambda u: -u.characters),
        per_user=sorted(_keyed(users), key=lambda u: (-u.cost, -u.characters, u.key)),
        per_day=sorted(_keyed(days), key=lambda u: u.key),
        bucket_s=bucket_s,
        timeline=_timeline(scan.jobs, since, until, bucket_s),
        jobs=rows,
    )


# -- service levels --------------------------------------------------------------------


class Percentiles(BaseModel):
    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None


class TierSla(BaseModel):
    tier: str  # "premium" | "free"
    target_wait_p95_s: float
    wait: Percentiles
    run: Percentiles
    waiting_now: int  # jobs still waiting, counted with their wait so far
    breached: bool


class SlaReport(BaseModel):
    window_s: float
    since: float
    measured_at: float
    jobs_scanned: int
    truncated: bool
    premium_priority: int  # jobs at or above this priority are premium
    tiers: list[TierSla]
    breached: bool


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return round(sorted_values[rank - 1], 3)


def summarize(values: Iterable[float]) -> Percentiles:
    v = sorted(values)
    return Percentiles(
        count=len(v),
        p50=percentile(v, 50),
        p95=percentile(v, 95),
        p99=percentile(v, 99),
        max=round(v[-1], 3) if v else None,
    )


def _waits(job: Job, now: float) -> tuple[float | None, bool]:
    """The job's queue wait, and whether it is still waiting (a lower bound)."""
    due = max(job.created_at, job.run_at or job.created_at)
    if job.started_at is not None:
        return max(0.0, job.started_at - due), False
    if job.status in (JobStatus.QUEUED, JobStatus.SCHEDULED) and due <= now:
        return now - due, True
    return None, False


def sla_from_jobs(
    jobs: Iterable[Job], settings: Settings, *, now: float, window_s: float
) -> list[TierSla]:
    boost = settings.premium_priority_boost
    waits: dict[str, list[float]] = {"premium": [], "free": []}
    runs: dict[str, list[float]] = {"premium": [], "free": []}
    waiting: dict[str, int] = {"premium": 0, "free": 0}
    for job in jobs:
        t = tier(job.priority, boost)
        wait, still = _waits(job, now)
        if wait is not None:
            waits[t].append(wait)
            waiting[t] += still
        if job.status is JobStatus.COMPLETED and job.started_at and job.finished_at:
            runs[t].append(max(0.0, job.finished_at - job.started_at))
    targets = {"premium": settings.sla_premium_wait_p95_s, "free": settings.sla_free_wait_p95_s}
    out = []
    for t in ("premium", "free"):
        measured = summarize(waits[t])
        out.append(
            TierSla(
                tier=t,
                target_wait_p95_s=targets[t],
                wait=measured,
                run=summarize(runs[t]),
                waiting_now=waiting[t],
                breached=measured.p95 is not None and measured.p95 > targets[t],
            )
        )
    return out


async def sla(backend: Backend, settings: Settings, *, window_s: float | None = None) -> SlaReport:
    window = settings.sla_window_s if window_s is None else window_s
    now = time.time()
    scan = await scan_jobs(backend, since=now - window, max_jobs=settings.analytics_max_jobs)
    tiers = sla_from_jobs(scan.jobs, settings, now=now, window_s=window)
    return SlaReport(
        window_s=window,
        since=now - window,
        measured_at=now,
        jobs_scanned=len(scan.jobs),
        truncated=scan.truncated,
        premium_priority=settings.premium_priority_boost,
        tiers=tiers,
        breached=any(t.breached for t in tiers),
    )
