"""Prometheus metrics: counted once where things happen, rendered at ``/metrics``.

Counters and histograms live in one process-wide registry (:data:`REGISTRY`) and are
bumped by the Queue facade (enqueue, cancel, retry) and the worker (claims, completions,
failures, characters and audio seconds per engine). Gauges of the store's state (jobs and
tasks by status, live workers, the SLA) are read from the backend at scrape time by
:func:`render`, so every API process reports the same numbers for a shared store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from ttsqueue.models import ClaimedTask, EnqueueResult, Job, QueueStats, TaskKind

if TYPE_CHECKING:
    from ttsqueue.analytics import SlaReport
    from ttsqueue.backends.base import WorkerInfo
    from ttsqueue.settings import Settings

log = logging.getLogger("ttsqueue.sla")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

WAIT_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600)
RUN_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200)

JOBS_ENQUEUED = Counter(
    "ttsqueue_jobs_enqueued",
    "Jobs enqueued (new, not idempotent repeats)",
    ["engine"],
    registry=REGISTRY,
)
JOBS_CANCELLED = Counter("ttsqueue_jobs_cancelled", "Jobs cancelled", registry=REGISTRY)
JOBS_RETRIED = Counter(
    "ttsqueue_jobs_retried", "Failed or cancelled jobs retried", registry=REGISTRY
)
JOBS_COMPLETED = Counter(
    "ttsqueue_jobs_completed", "Books assembled and completed", ["engine"], registry=REGISTRY
)
TASKS_CLAIMED = Counter("ttsqueue_tasks_claimed", "Tasks claimed", ["kind"], registry=REGISTRY)
TASKS_COMPLETED = Counter(
    "ttsqueue_tasks_completed", "Tasks completed", ["kind", "engine"], registry=REGISTRY
)
TASKS_FAILED = Counter(
    "ttsqueue_tasks_failed",
    "Task runs that failed; final=true when no attempt is left",
    ["kind", "engine", "final"],
    registry=REGISTRY,
)
TASKS_DEFERRED = Counter(
    "ttsqueue_tasks_deferred",
    "Task runs given back, no attempt spent, because the engine said retry after",
    ["kind", "engine"],
    registry=REGISTRY,
)
TASKS_TIMED_OUT = Counter(
    "ttsqueue_tasks_timed_out",
    "Task runs stopped at their time limit (their pool process killed)",
    ["kind", "engine"],
    registry=REGISTRY,
)
CHARACTERS = Counter(
    "ttsqueue_characters_synthesized", "Characters synthesized", ["engine"], registry=REGISTRY
)
AUDIO_SECONDS = Counter(
    "ttsqueue_audio_seconds_produced",
    "Seconds of chapter audio produced",
    ["engine"],
    registry=REGISTRY,
)
JOB_WAIT = Histogram(
    "ttsqueue_job_wait_seconds",
    "Queue wait of completed jobs: started_at - max(created_at, run_at)",
    ["engine", "tier"],
    buckets=WAIT_BUCKETS,
    registry=REGISTRY,
)
JOB_RUN = Histogram(
    "ttsqueue_job_run_seconds",
    "Run time of completed jobs: finished_at - started_at",
    ["engine", "tier"],
    buckets=RUN_BUCKETS,
    registry=REGISTRY,
)
SLA_BREACHES = Counter(
    "ttsqueue_sla_breaches",
    "Times a tier's SLA went from met to breached",
    ["tier"],
    registry=REGISTRY,
)

_breached: dict[str, bool] = {}  # last SLA state per tier, to log transitions once


# -- counting (facade and worker) ------------------------------------------------------


def _engine(payload: dict[str, Any]) -> str:
    voice = payload.get("voice")
    return str(voice.get("engine", "unknown")) if isinstance(voice, dict) else "book"


def tier(priority: int, premium_boost: int) -> str:
    """``premium`` when the job's priority carries the premium boost, else ``free``."""
    return "premium" if priority >= premium_boost else "free"


def jobs_enqueued(results: Iterable[EnqueueResult]) -> None:
    for r in results:
        if r.created:
            JOBS_ENQUEUED.labels(r.job.voice.engine).inc()


def job_cancelled() -> None:
    JOBS_CANCELLED.inc()


def job_retried() -> None:
    JOBS_RETRIED.inc()


def tasks_claimed(tasks: Sequence[ClaimedTask]) -> None:
    for t in tasks:
        TASKS_CLAIMED.labels(t.kind.value).inc()


def task_completed(
    task: ClaimedTask, result: dict[str, Any], job: Job | None, settings: Settings
) -> None:
    """A task the store accepted as complete. ``job`` (assemble tasks) gives the book's
    wait and run time."""
    if task.kind is TaskKind.SYNTHESIZE:
        engine = _engine(task.payload)
        TASKS_COMPLETED.labels(task.kind.value, engine).inc()
        CHARACTERS.labels(engine).inc(max(0, int(result.get("characters", 0))))
        AUDIO_SECONDS.labels(engine).inc(max(0.0, float(result.get("duration_s", 0.0))))
        return
    engine = job.voice.engine if job is not None else "unknown"
    TASKS_COMPLETED.labels(task.kind.value, engine).inc()
    JOBS_COMPLETED.labels(engine).inc()
    if job is not None and job.started_at is not None:
        t = tier(job.priority, settings.premium_priority_boost)
        due = max(job.created_at, job.run_at or job.created_at)
        JOB_WAIT.labels(engine, t).observe(max(0.0, job.started_at - due))
        JOB_RUN.labels(engine, t).observe(max(0.0, time.time() - job.started_at))


def task_failed(task: ClaimedTask, *, final: bool) -> None:
    TASKS_FAILED.labels(task.kind.value, _engine(task.payload), str(final).lower()).inc()


def task_deferred(task: ClaimedTask) -> None:
    TASKS_DEFERRED.labels(task.kind.value, _engine(task.payload)).inc()


def task_timed_out(task: ClaimedTask) -> None:
    TASKS_TIMED_OUT.labels(task.kind.value, _engine(task.payload)).inc()


# -- SLA -------------------------------------------------------------------------------


def record_sla(report: SlaReport) -> None:
    """Remember each tier's breach state; log (and count) a change once."""
    for t in report.tiers:
        before = _breached.get(t.tier, False)
        _breached[t.tier] = t.breached
        if t.breached and not before:
            SLA_BREACHES.labels(t.tier).inc()
            log.warning(
                "SLA breached for %s users: p95 queue wait %.1fs over the target %.0fs "
                "(%d jobs in the last %.0fs)",
                t.tier,
                t.wait.p95 or 0.0,
                t.target_wait_p95_s,
                t.wait.count,
                report.window_s,
            )
        elif before and not t.breached:
            log.info("SLA met again for %s users", t.tier)


# -- scrape ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The store's state at scrape time."""

    stats: QueueStats
    workers: Sequence[WorkerInfo]
    sla: SlaReport | None
    now: float


class _SnapshotCollector:
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def collect(self) -> Iterator[GaugeMetricFamily]:
        s = self.snap
        jobs = GaugeMetricFamily("ttsqueue_jobs", "Jobs by status", labels=["status"])
        for status, n in sorted(s.stats.jobs.items()):
            jobs.add_metric([status], n)
        yield jobs
        tasks = GaugeMetricFamily("ttsqueue_tasks", "Tasks by status", labels=["status"])
        for status, n in sorted(s.stats.tasks.items()):
            tasks.add_metric([status], n)
        yield tasks
        yield GaugeMetricFamily("ttsqueue_users", "Users with jobs", value=s.stats.users)
        oldest = s.stats.oldest_pending_at
        age = 0.0 if oldest is None else max(0.0, s.now - oldest)
        yield GaugeMetricFamily(
            "ttsqueue_oldest_pending_age_seconds", "How long the oldest runnable task waits", age
        )
        yield GaugeMetricFamily("ttsqueue_workers", "Live workers", value=len(s.workers))
        yield GaugeMetricFamily(
            "ttsqueue_worker_slots",
            "Concurrency of live workers",
            sum(w.concurrency for w in s.workers),
        )
        yield GaugeMetricFamily(
            "ttsqueue_worker_tasks_held",
            "Tasks held by live workers",
            sum(len(w.tasks) for w in s.workers),
        )
        if s.sla is not None:
            yield from _sla_families(s.sla)


def _sla_families(report: SlaReport) -> Iterator[GaugeMetricFamily]:
    p95 = GaugeMetricFamily(
        "ttsqueue_sla_wait_p95_seconds",
        "Measured p95 queue wait in the SLA window",
        labels=["tier"],
    )
    target = GaugeMetricFamily(
        "ttsqueue_sla_wait_target_seconds", "Target p95 queue wait", labels=["tier"]
    )
    breached = GaugeMetricFamily(
        "ttsqueue_sla_breached", "1 while the tier's p95 wait is over its target", labels=["tier"]
    )
    for t in report.tiers:
        p95.add_metric([t.tier], t.wait.p95 or 0.0)
        target.add_metric([t.tier], t.target_wait_p95_s)
        breached.add_metric([t.tier], 1.0 if t.breached else 0.0)
    yield p95
    yield target
    yield breached


def render(snapshot: Snapshot) -> bytes:
    """The Prometheus text exposition: this process's counters, then the store's gauges."""
    store = CollectorRegistry()
    store.register(_SnapshotCollector(snapshot))
    return bytes(generate_latest(REGISTRY)) + bytes(generate_latest(store))
