"""The reference backend: everything in one process's memory.

Read this module to learn what each contract rule in :mod:`ttsqueue.backends.base`
means in practice: every method is a plain, synchronous walk over a few dicts (no
``await`` inside a transition, so each one is atomic on the event loop). It is
neither shared nor persistent; the conformance suite runs it beside the real stores,
and unit, API and worker tests use it when they need no services.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

from ttsqueue.backends.base import (
    ActiveJobsLimit,
    Backend,
    BackendError,
    BackendOptions,
    Capabilities,
    Completion,
    InvalidTransition,
    JobNotFound,
    LexiconLimit,
    LexiconNotFound,
    Pause,
    StoreUnavailable,
    WorkerInfo,
)
from ttsqueue.backends.memory_rows import (
    UNFINISHED_TASK,
    JobRow,
    Subscriber,
    TaskRow,
    UserRow,
    job_view,
    new_job_row,
)
from ttsqueue.backends.memory_webhooks import MemoryWebhooks
from ttsqueue.models import (
    ASSEMBLING_MESSAGE,
    COMPLETED_MESSAGE,
    ApiKey,
    ClaimedTask,
    EnqueueResult,
    Event,
    EventType,
    HeartbeatResult,
    Job,
    JobFilter,
    JobSpec,
    JobStatus,
    Lease,
    Page,
    QueueStats,
    ReapResult,
    StoredLexicon,
    TaskKind,
    TaskStatus,
    chapter_message,
)
from ttsqueue.webhooks.model import ClaimedDelivery, WebhookDelivery, WebhookEndpoint

LEASE_EXPIRED = "lease expired"


class MemoryBackend(Backend):
    capabilities = Capabilities(
        shared=False,
        persistent=False,
        push_wakeups=True,
        transactional_enqueue=False,
        row_level_security=False,
    )

    def __init__(self, url: str, options: BackendOptions) -> None:
        self.url = url
        self.options = options
        self._jobs: dict[str, JobRow] = {}
        self._tasks: dict[str, TaskRow] = {}
        self._keys: dict[tuple[str, str], str] = {}  # (user, idempotency key) -> job id
        self._users: dict[str, UserRow] = {}
        self._claims = 0  # the store-wide claim counter
        self._next_order = 0
        self._next_event_id = 0
        self._workers: dict[str, WorkerInfo] = {}
        self._pauses: dict[str, float] = {}  # engine ("" for every engine) -> since
        self._drains: dict[str, float] = {}  # worker id -> when a drain was asked
        self._api_keys: dict[str, ApiKey] = {}
        self._lexicons: dict[str, StoredLexicon] = {}
        self._subscribers: list[Subscriber] = []
        self._wakeup = asyncio.Event()
        self._open = False
        self._webhooks = MemoryWebhooks()

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False

    async def migrate(self) -> list[int]:
        return []

    async def ping(self) -> None:
        if not self._open:
            raise StoreUnavailable("the memory backend is closed")

    # -- producers -------------------------------------------------------------------

    async def enqueue(self, specs: Sequence[JobSpec]) -> list[EnqueueResult]:
        now = time.time()
        self._check_new_ids(specs)
        self._check_active_limits(specs)
        results = []
        for spec in specs:
            key = (spec.user_id, spec.idempotency_key) if spec.idempotency_key else None
            if key is not None and key in self._keys:
                results.append(EnqueueResult(job_view(self._jobs[self._keys[key]]), False))
                continue
            job = self._insert(spec, now)
            if key is not None:
                self._keys[key] = job.id
            results.append(EnqueueResult(job_view(job), True))
        self._notify_work()
        return results

    def _check_new_ids(self, specs: Sequence[JobSpec]) -> None:
        """Refuse the whole batch up front if a job it would insert has a taken id, so
        that the batch inserts all or nothing."""
        keys: set[tuple[str, str]] = set()
        ids: list[str] = []
        for spec in specs:
            if spec.idempotency_key:
                key = (spec.user_id, spec.idempotency_key)
                if key in self._keys or key in keys:
                    continue  # matches a job: inserts nothing
                keys.add(key)
            ids.append(spec.id)
        if len(set(ids)) != len(ids) or any(i in self._jobs for i in ids):
            raise BackendError("a job with this id already exists")

    def _active_jobs(self, user_id: str) -> int:
        return sum(1 for j in self._jobs.values() if j.user_id == user_id and not j.status.terminal)

    def _check_active_limits(self, specs: Sequence[JobSpec]) -> None:
        """Refuse the whole batch up front if a spec it would insert finds its owner at
        their cap on unfinished jobs (counting the batch's earlier inserts)."""
        if all(spec.max_active_jobs is None for spec in specs):
            return
        keys: set[tuple[str, str]] = set()
        active: dict[str, int] = {}
        for spec in specs:
            if spec.idempotency_key:
                key = (spec.user_id, spec.idempotency_key)
                if key in self._keys or key in keys:
                    continue  # matches a job: inserts nothing
                keys.add(key)
            if spec.user_id not in active:
                active[spec.user_id] = self._active_jobs(spec.user_id)
            n = active[spec.user_id]
            if spec.max_active_jobs is not None and n >= spec.max_active_jobs:
                raise ActiveJobsLimit(spec.user_id, n, spec.max_active_jobs)
            active[spec.user_id] = n + 1

    def _insert(self, spec: JobSpec, now: float) -> JobRow:
        self._next_order += 1
        job = new_job_row(spec, order=self._next_order, now=now)
        self._jobs[job.id] = job
        self._tasks.update((t.id, t) for t in job.tasks)
        user = self._users.setdefault(spec.user_id, UserRow(cap=spec.max_concurrency))
        user.cap = spec.max_concurrency
        if job.status is JobStatus.SCHEDULED:
            self._append(job, EventType.SCHEDULED, {"run_at": spec.run_at}, now)
        else:
            self._append(job, EventType.QUEUED, self._queued_data(job), now)
        return job

    # -- workers: claim --------------------------------------------------------------

    async def claim(self, *, worker_id: str, limit: int, lease_s: float) -> list[ClaimedTask]:
        now = time.time()
        self._take_back_expired(now)
        if "" in self._pauses:
            return []
        candidates = [t for t in self._tasks.values() if self._due(t, now)]
        running = Counter(t.user_id for t in self._tasks.values() if t.status is TaskStatus.RUNNING)
        claimed: list[ClaimedTask] = []
        while len(claimed) < limit:
            allowed = [t for t in candidates if running[t.user_id] < self._users[t.user_id].cap]
            if not allowed:
                break
            slot = self._claims + 1
            every = self.options.starvation_every
            if every > 0 and slot % every == 0:
                task = min(allowed, key=self._fifo_key)  # the starvation slot ignores priority
            else:
                task = min(allowed, key=self._claim_key)
            self._claims = slot
            self._users[task.user_id].last_served = slot
            candidates.remove(task)
            running[task.user_id] += 1
            claimed.append(self._lease(task, worker_id, lease_s, now))
        return claimed

    def _due(self, task: TaskRow, now: float) -> bool:
        return (
            task.status is TaskStatus.PENDING
            and task.run_at <= now
            and not self._jobs[task.job_id].status.terminal
        )

    def _fifo_key(self, task: TaskRow) -> tuple[int, int]:
        return (self._jobs[task.job_id].order, task.index)

    def _claim_key(self, task: TaskRow) -> tuple[int, int, int, int]:
        last_served = self._users[task.user_id].last_served
        return (-task.priority, last_served, *self._fifo_key(task))

    def _lease(self, task: TaskRow, worker_id: str, lease_s: float, now: float) -> ClaimedTask:
        job = self._jobs[task.job_id]
        task.status = TaskStatus.RUNNING
        task.attempts += 1
        task.token += 1
        task.lease_expires_at = now + lease_s
        task.worker_id = worker_id
        task.progress = 0.0
        if task.started_at is None:
            task.started_at = now
        job.attempts += 1
        job.updated_at = now
        if job.status in (JobStatus.QUEUED, JobStatus.SCHEDULED):
            job.status = JobStatus.PROCESSING
            if job.started_at is None:
                job.started_at = now
            self._append(job, EventType.PROCESSING, {}, now)
        if task.kind is TaskKind.SYNTHESIZE:
            job.current_chapter = task.index + 1
            job.progress_message = chapter_message(task.index, len(job.chapters), task.title)
            data = {
                "index": task.index,
                "title": task.title,
                "attempt": task.attempts,
                "worker_id": worker_id,
            }
            self._append(job, EventType.CHAPTER_STARTED, data, now)
        job.refresh_progress()
        return ClaimedTask(
            lease=Lease(task.id, task.token),
            job_id=job.id,
            user_id=job.user_id,
            kind=task.kind,
            index=task.index,
            attempt=task.attempts,
            max_attempts=task.max_attempts,
            lease_expires_at=now + lease_s,
            payload=dict(task.payload),
        )

    # -- workers: while and after running -------------------------------------------

    def _held(self, lease: Lease) -> TaskRow | None:
        """The task, if ``lease`` is its current token and it is still running."""
        task = self._tasks.get(lease.task_id)
        if task is None or task.token != lease.token or task.status is not TaskStatus.RUNNING:
            return None
        return task

    async def heartbeat(
        self, leases: Sequence[Lease], *, lease_s: float, progress: dict[str, float] | None = None
    ) -> HeartbeatResult:
        now = time.time()
        extended: set[str] = set()
        cancelled: set[str] = set()
        lost: set[str] = set()
        moved: dict[str, JobRow] = {}
        for lease in leases:
            task = self._tasks.get(lease.task_id)
            if task is None or task.token != lease.token:
                lost.add(lease.task_id)
                continue
            job = self._jobs[task.job_id]
            if job.status in (JobStatus.CANCELLED, JobStatus.FAILED):
                cancelled.add(task.id)
            elif task.status is not TaskStatus.RUNNING:
                lost.add(task.id)
            else:
                task.lease_expires_at = now + lease_s
                extended.add(task.id)
                value = (progress or {}).get(task.id)
                if value is not None and min(1.0, max(0.0, value)) != task.progress:
                    task.progress = min(1.0, max(0.0, value))
                    moved[job.id] = job
        for job in moved.values():
            job.updated_at = now
            job.refresh_progress()
            data = {
                "progress_percent": job.progress_percent,
                "progress_message": job.progress_message,
                "current_chapter": job.current_chapter,
            }
            self._append(job, EventType.PROGRESS, data, now)
        return HeartbeatResult(frozenset(extended), frozenset(cancelled), frozenset(lost))

    async def complete(self, completions: Sequence[Completion]) -> list[bool]:
        now = time.time()
        done = []
        for c in completions:
            task = self._held(c.lease)
            done.append(task is not None)
            if task is not None:
                self._complete_task(task, dict(c.result), now)
        return done

    def _complete_task(self, task: TaskRow, result: dict[str, Any], now: float) -> None:
        job = self._jobs[task.job_id]
        task.status = TaskStatus.COMPLETED
        task.result = result
        task.progress = 1.0
        task.finished_at = now
        task.lease_expires_at = None
        job.updated_at = now
        if task.kind is TaskKind.ASSEMBLE:
            job.status = JobStatus.COMPLETED
            job.result = result
            job.finished_at = now
            job.progress_message = COMPLETED_MESSAGE
            job.refresh_progress()
            self._append(job, EventType.COMPLETED, {"result": result}, now)
            return
        job.completed_chapters += 1
        job.refresh_progress()
        data: dict[str, Any] = {"index": task.index, "title": task.title}
        if "duration_s" in result:
            data["duration_s"] = result["duration_s"]
        self._append(job, EventType.CHAPTER_COMPLETED, data, now)
        if job.completed_chapters == len(job.chapters):
            self._make_assemble_runnable(job, now)
            job.status = JobStatus.ASSEMBLING
            job.progress_message = ASSEMBLING_MESSAGE
            self._append(job, EventType.ASSEMBLING, {}, now)

    def _make_assemble_runnable(self, job: JobRow, now: float) -> None:
        job.assemble.status = TaskStatus.PENDING
        job.assemble.run_at = now
        self._notify_work()

    async def fail(self, lease: Lease, *, error: str, retry_at: float | None) -> bool:
        task = self._held(lease)
        if task is None:
            return False
        now = time.time()
        if retry_at is not None and task.attempts < task.max_attempts:
            self._requeue(task, error, retry_at, now)
        else:
            self._fail_job(task, error, now)
        return True

    def _requeue(self, task: TaskRow, error: str, retry_at: float, now: float) -> None:
        job = self._jobs[task.job_id]
        task.status = TaskStatus.PENDING
        task.run_at = retry_at
        task.error = error
        task.progress = 0.0
        task.lease_expires_at = None
        job.updated_at = now
        job.refresh_progress()
        data = {"index": task.index, "attempt": task.attempts, "error": error, "retry_at": retry_at}
        self._append(job, EventType.TASK_RETRYING, data, now)
        self._notify_work()

    def _fail_job(self, task: TaskRow, error: str, now: float) -> None:
        job = self._jobs[task.job_id]
        task.status = TaskStatus.FAILED
        task.error = error
        task.finished_at = now
        task.lease_expires_at = None
        self._cancel_unfinished(job, now)
        job.status = JobStatus.FAILED
        job.error = error
        job.finished_at = now
        job.updated_at = now
        job.refresh_progress()
        self._append(job, EventType.FAILED, {"error": error, "index": task.index}, now)

    @staticmethod
    def _cancel_unfinished(job: JobRow, now: float) -> None:
        for t in job.tasks:
            if t.status in UNFINISHED_TASK:
                t.status = TaskStatus.CANCELLED
                t.finished_at = now
                t.lease_expires_at = None

    async def release(self, leases: Sequence[Lease], *, run_at: float | None = None) -> int:
        now = time.time()
        due = now if run_at is None else max(now, run_at)
        released = 0
        for lease in leases:
            task = self._held(lease)
            if task is None:
                continue
            job = self._jobs[task.job_id]
            task.status = TaskStatus.PENDING
            task.attempts -= 1
            task.run_at = due
            task.progress = 0.0
            task.lease_expires_at = None
            job.updated_at = now
            job.refresh_progress()
            self._append(job, EventType.TASK_RELEASED, {"index": task.index}, now)
            released += 1
        if released:
            self._notify_work()
        return released

    async def wait_for_work(self, timeout: float) -> None:
        wakeup = self._wakeup
        try:
            await asyncio.wait_for(wakeup.wait(), timeout)
        except TimeoutError:
            pass

    def _notify_work(self) -> None:
        """Wake every waiter once; later waiters wait on a fresh event."""
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    async def register_worker(self, info: WorkerInfo) -> None:
        self._workers[info.id] = replace(info, last_seen_at=time.time())

    async def unregister_worker(self, worker_id: str) -> None:
        self._workers.pop(worker_id, None)

    async def list_workers(self) -> list[WorkerInfo]:
        since = time.time() - self.options.worker_ttl_s
        return sorted(
            (w for w in self._workers.values() if w.last_seen_at >= since), key=lambda w: w.id
        )

    # -- pauses ----------------------------------------------------------------------

    async def pause(self, engine: str | None = None) -> Pause:
        since = self._pauses.setdefault(engine or "", time.time())
        return Pause(engine, since)

    async def resume(self, engine: str | None = None) -> bool:
        return self._pauses.pop(engine or "", None) is not None

    async def list_pauses(self) -> list[Pause]:
        return [Pause(e or None, since) for e, since in sorted(self._pauses.items())]

    async def drain_worker(self, worker_id: str) -> None:
        self._drains.setdefault(worker_id, time.time())

    async def take_drain(self, worker_id: str) -> bool:
        return self._drains.pop(worker_id, None) is not None

    # -- users and admins ------------------------------------------------------------

    def _owned(self, job_id: str, user_id: str | None) -> JobRow:
        job = self._jobs.get(job_id)
        if job is None or (user_id is not None and job.user_id != user_id):
            raise JobNotFound(job_id)
        return job

    async def get(self, job_id: str, *, user_id: str | None = None) -> Job | None:
        try:
            return job_view(self._owned(job_id, user_id), with_tasks=True)
        except JobNotFound:
            return None

    async def existing_jobs(self, job_ids: Sequence[str]) -> set[str]:
        return {i for i in job_ids if i in self._jobs}

    async def list_jobs(self, flt: JobFilter, *, limit: int, cursor: str | None = None) -> Page:
        jobs = sorted(
            (
                j
                for j in self._jobs.values()
                if (flt.user_id is None or j.user_id == flt.user_id)
                and (flt.status is None or j.status is flt.status)
                and (cursor is None or j.id < cursor)
            ),
            key=lambda j: j.id,
            reverse=True,
        )
        page = jobs[: max(0, limit)]
        more = len(jobs) > len(page) and bool(page)
        return Page(
            items=tuple(job_view(j) for j in page),
            next_cursor=page[-1].id if more else None,
        )

    async def cancel(self, job_id: str, *, user_id: str | None = None) -> Job:
        job = self._owned(job_id, user_id)
        if job.status.terminal:
            raise InvalidTransition(job_view(job), f"job is already {job.status.value}")
        now = time.time()
        self._cancel_unfinished(job, now)
        job.status = JobStatus.CANCELLED
        job.finished_at = now
        job.updated_at = now
        job.refresh_progress()
        self._append(job, EventType.CANCELLED, {}, now)
        return job_view(job, with_tasks=True)

    async def retry(
        self, job_id: str, *, user_id: str | None = None, max_active_jobs: int | None = None
    ) -> Job:
        job = self._owned(job_id, user_id)
        if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise InvalidTransition(
                job_view(job), f"only failed or cancelled jobs can be retried ({job.status})"
            )
        if max_active_jobs is not None:
            active = self._active_jobs(job.user_id)
            if active >= max_active_jobs:
                raise ActiveJobsLimit(job.user_id, active, max_active_jobs)
        now = time.time()
        for t in job.tasks:
            if t.status is not TaskStatus.COMPLETED:
                t.status = (
                    TaskStatus.PENDING if t.kind is TaskKind.SYNTHESIZE else TaskStatus.WAITING
                )
                t.run_at = now
                t.attempts = 0
                t.error = None
                t.progress = 0.0
                t.lease_expires_at = None
                t.finished_at = None
        if job.assemble.status is TaskStatus.WAITING and all(
            t.status is TaskStatus.COMPLETED for t in job.chapters
        ):
            job.assemble.status = TaskStatus.PENDING
        job.status = JobStatus.QUEUED
        job.error = None
        job.finished_at = None
        job.updated_at = now
        job.refresh_progress()
        self._append(job, EventType.RETRIED, {}, now)
        self._notify_work()
        return job_view(job, with_tasks=True)

    async def set_priority(self, job_id: str, priority: int) -> Job:
        job = self._owned(job_id, None)
        if job.status.terminal:
            raise InvalidTransition(job_view(job), f"job is already {job.status.value}")
        now = time.time()
        job.priority = priority
        for t in job.tasks:
            t.priority = priority
        job.updated_at = now
        self._append(job, EventType.PRIORITY_CHANGED, {"priority": priority}, now)
        return job_view(job, with_tasks=True)

    async def count_active(self, user_id: str) -> int:
        return self._active_jobs(user_id)

    async def stats(self, *, user_id: str | None = None) -> QueueStats:
        now = time.time()
        jobs = [j for j in self._jobs.values() if user_id is None or j.user_id == user_id]
        job_counts = Counter(j.status.value for j in jobs)
        task_counts = Counter(t.status.value for j in jobs for t in j.tasks)
        due = [t.run_at for j in jobs for t in j.tasks if self._due(t, now)]
        return QueueStats(
            jobs={s.value: job_counts[s.value] for s in JobStatus},
            tasks={s.value: task_counts[s.value] for s in TaskStatus},
            users=len({j.user_id for j in jobs}),
            oldest_pending_at=min(due, default=None),
        )

    # -- API keys --------------------------------------------------------------------

    async def put_api_key(self, key: ApiKey) -> None:
        if key.id in self._api_keys or any(
            k.key_hash == key.key_hash for k in self._api_keys.values()
        ):
            raise BackendError("an API key with this id or hash already exists")
        self._api_keys[key.id] = key

    async def get_api_key(self, key_hash: str) -> ApiKey | None:
        return next((k for k in self._api_keys.values() if k.key_hash == key_hash), None)

    async def revoke_api_key(self, key_id: str) -> bool:
        return self._api_keys.pop(key_id, None) is not None

    async def list_api_keys(self) -> list[ApiKey]:
        return sorted(self._api_keys.values(), key=lambda k: (k.created_at, k.id))

    # -- lexicons --------------------------------------------------------------------

    async def put_lexicon(self, lexicon: StoredLexicon, *, max_per_user: int) -> StoredLexicon:
        old = self._lexicons.get(lexicon.id)
        if old is not None:
            if old.user_id != lexicon.user_id:
                raise LexiconNotFound(lexicon.id)
            lexicon = replace(lexicon, created_at=old.created_at)
        elif sum(x.user_id == lexicon.user_id for x in self._lexicons.values()) >= max_per_user:
            raise LexiconLimit(lexicon.user_id, max_per_user)
        self._lexicons[lexicon.id] = lexicon
        return lexicon

    async def get_lexicon(self, lexicon_id: str) -> StoredLexicon | None:
        return self._lexicons.get(lexicon_id)

    async def list_lexicons(self, user_id: str | None) -> list[StoredLexicon]:
        found = [x for x in self._lexicons.values() if user_id is None or x.user_id == user_id]
        return sorted(found, key=lambda x: (x.created_at, x.id))

    async def delete_lexicon(self, lexicon_id: str) -> bool:
        return self._lexicons.pop(lexicon_id, None) is not None

    # -- events ----------------------------------------------------------------------

    def _append(self, job: JobRow, type_: EventType, data: dict[str, Any], now: float) -> None:
        self._next_event_id += 1
        event = Event(
            job_id=job.id,
            user_id=job.user_id,
            seq=len(job.events) + 1,
            type=type_,
            data=data,
            at=now,
            id=self._next_event_id,
        )
        job.events.append(event)
        self._webhooks.fanout(event)  # in the same step: no event without its deliveries
        for sub in self._subscribers:
            if sub.wants(event):
                sub.queue.put_nowait(event)

    async def events(self, job_id: str, *, after: int = 0, limit: int = 1000) -> list[Event]:
        job = self._jobs.get(job_id)
        if job is None:
            return []
        return [e for e in job.events if e.seq > after][: max(0, limit)]

    def subscribe(
        self, *, job_id: str | None = None, user_id: str | None = None
    ) -> AsyncIterator[Event]:
        # Registered now, not at the first __anext__, so nothing appended after this
        # call is missed.
        sub = Subscriber(job_id, user_id)
        self._subscribers.append(sub)
        return self._feed(sub)

    async def _feed(self, sub: Subscriber) -> AsyncIterator[Event]:
        try:
            while True:
                yield await sub.queue.get()
        finally:
            self._subscribers.remove(sub)

    # -- maintenance -----------------------------------------------------------------

    async def reap(self) -> ReapResult:
        now = time.time()
        requeued, failed = self._take_back_expired(now)
        for job in self._jobs.values():
            if job.status is JobStatus.SCHEDULED and (job.spec.run_at or 0.0) <= now:
                job.status = JobStatus.QUEUED
                job.updated_at = now
                self._append(job, EventType.QUEUED, self._queued_data(job), now)
        return ReapResult(requeued=requeued, failed=failed)

    def _take_back_expired(self, now: float) -> tuple[int, int]:
        expired = [
            t
            for t in self._tasks.values()
            if t.status is TaskStatus.RUNNING
            and t.lease_expires_at is not None
            and t.lease_expires_at <= now
        ]
        requeued = failed = 0
        for task in expired:
            if task.status is not TaskStatus.RUNNING:
                continue  # cancelled meanwhile by a sibling's final failure
            if task.attempts < task.max_attempts:
                self._requeue(task, LEASE_EXPIRED, now, now)
                requeued += 1
            else:
                self._fail_job(task, LEASE_EXPIRED, now)
                failed += 1
        return requeued, failed

    async def prune(self, *, older_than: float) -> list[str]:
        doomed = [
            j
            for j in self._jobs.values()
            if j.status.terminal and j.finished_at is not None and j.finished_at < older_than
        ]
        for job in doomed:
            del self._jobs[job.id]
            for t in job.tasks:
                del self._tasks[t.id]
            if job.spec.idempotency_key:
                self._keys.pop((job.user_id, job.spec.idempotency_key), None)
        return [job.id for job in doomed]

    @staticmethod
    def _queued_data(job: JobRow) -> dict[str, Any]:
        return {"priority": job.priority, "total_chapters": len(job.chapters)}

    # -- webhooks --------------------------------------------------------------------

    async def create_webhook(self, endpoint: WebhookEndpoint) -> None:
        if endpoint.id in self._webhooks.endpoints:
            raise BackendError("a webhook endpoint with this id already exists")
        self._webhooks.endpoints[endpoint.id] = endpoint

    async def list_webhooks(self, *, user_id: str | None = None) -> list[WebhookEndpoint]:
        found = self._webhooks.endpoints.values()
        return sorted((e for e in found if user_id in (None, e.user_id)), key=lambda e: e.id)

    async def get_webhook(
        self, endpoint_id: str, *, user_id: str | None = None
    ) -> WebhookEndpoint | None:
        return self._webhooks.owned(endpoint_id, user_id)

    async def delete_webhook(self, endpoint_id: str, *, user_id: str | None = None) -> bool:
        return self._webhooks.delete(endpoint_id, user_id)

    async def rotate_webhook_secret(
        self, endpoint_id: str, *, secret: str, previous_until: float, user_id: str | None = None
    ) -> WebhookEndpoint | None:
        ep = self._webhooks.owned(endpoint_id, user_id)
        if ep is None:
            return None
        ep = replace(ep, secret=secret, previous_secret=ep.secret, previous_until=previous_until)
        self._webhooks.endpoints[ep.id] = ep
        return ep

    async def claim_deliveries(
        self, *, worker_id: str, limit: int, lease_s: float
    ) -> list[ClaimedDelivery]:
        return self._webhooks.claim(limit, lease_s, time.time())

    async def finish_delivery(
        self,
        delivery_id: str,
        token: int,
        *,
        delivered: bool,
        response_status: int | None,
        error: str | None,
        retry_at: float | None,
    ) -> bool:
        return self._webhooks.finish(
            delivery_id,
            token,
            delivered=delivered,
            response_status=response_status,
            error=error,
            retry_at=retry_at,
            now=time.time(),
        )

    async def list_deliveries(
        self, endpoint_id: str, *, limit: int, before: int | None = None
    ) -> list[WebhookDelivery]:
        found = [
            d
            for d in self._webhooks.deliveries.values()
            if d.endpoint_id == endpoint_id and (before is None or d.seq < before)
        ]
        return sorted(found, key=lambda d: -d.seq)[: max(0, limit)]

    async def redeliver(self, endpoint_id: str, delivery_id: str) -> WebhookDelivery | None:
        return self._webhooks.redeliver(endpoint_id, delivery_id, time.time())

    async def prune_deliveries(self, *, older_than: float, limit: int = 1000) -> int:
        return self._webhooks.prune(older_than, limit)
