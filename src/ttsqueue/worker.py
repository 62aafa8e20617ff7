"""The worker: claim → synthesize → heartbeat → complete/fail, with graceful shutdown.

One asyncio process holds the leases; synthesis and encoding run in a process pool, so
the heartbeat that renews the leases runs beside the work and is never blocked by it.
Completions are batched: whatever finished while the previous batch was in flight goes
to the store in one call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ttsqueue import __version__, maintenance, metrics, policy, tracing
from ttsqueue.backends.base import Backend, Completion, WorkerInfo
from ttsqueue.models import ClaimedTask, Job, Lease, TaskKind, new_id
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage, write_atomic
from ttsqueue.tts.base import EngineBusy
from ttsqueue.worker_jobs import (
    AssembleJob,
    Span,
    SynthesisPlan,
    assemble_book,
    chapter_cues,
    encode_chapter,
    plan_chapter,
    synthesize_batch,
)
from ttsqueue.worker_limits import EngineLimits, engine_of
from ttsqueue.worker_pool import ProcessSlots, TaskTimeout, time_limit
from ttsqueue.worker_trace import JobTraces

log = logging.getLogger("ttsqueue.worker")

STORE_RETRY_MAX_S = 10.0

_slot: ContextVar[int | None] = ContextVar("ttsqueue_worker_slot", default=None)
"""The process slot of the task running in the current asyncio task, if any."""


Handler = Callable[["InFlight"], Awaitable[dict[str, Any]]]
"""Runs one claimed task and returns its result. It may set ``item.progress`` (0..1) as
it goes, and should stop with :class:`TaskStopped` once ``item.stop_reason`` is set."""


class TaskStopped(Exception):
    """The store told us to stop this task (cancelled, or the lease was lost)."""


@dataclass
class InFlight:
    claimed: ClaimedTask
    lease: Lease
    progress: float = 0.0
    reported: float = -1.0
    stop_reason: str | None = None  # "cancelled" | "lost"
    runner: asyncio.Task[None] | None = None
    job: Job | None = None  # an assemble task's job, for its wait and run time metrics
    started: float = field(default_factory=time.monotonic)
    claimed_during: tuple[float, float] = (0.0, 0.0)  # the claim call, wall clock


def _pool_init() -> None:
    # Ctrl-C reaches the whole process group; only the parent decides what to do with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def make_pool(workers: int) -> ProcessPoolExecutor:
    """One shared process pool, to pass as ``Worker(pool=...)`` (benchmarks). A worker
    given it cannot kill a hung call's process; by default it runs its own slots."""
    import multiprocessing

    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_pool_init,
    )


class Worker:
    """Runs tasks from ``backend`` until :meth:`stop` is called.

    ``pool`` runs synthesis and encoding; by default one process per concurrency slot
    (:class:`~ttsqueue.worker_pool.ProcessSlots`), so a task past its time limit has its
    process killed and replaced. A ``pool`` passed in cannot be killed into: a task past
    its limit still fails, but its call runs on in that pool. ``handler`` replaces what
    is done with each task (by default :meth:`read_aloud`); the queue path around it —
    claim, heartbeat, progress, complete, fail, release — stays the same, which is what
    benchmarks measure.
    """

    def __init__(
        self,
        backend: Backend,
        settings: Settings,
        *,
        concurrency: int | None = None,
        pool: Executor | None = None,
        worker_id: str | None = None,
        handler: Handler | None = None,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.storage = Storage(settings.audio_dir)
        self.concurrency = concurrency or settings.worker_concurrency or (os.cpu_count() or 1)
        self.id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{new_id()[-6:]}"
        self._pool = pool
        self._slots: ProcessSlots | None = None
        tracing.configure(settings.tracing)
        self._traces = JobTraces(backend, self.id)
        self.limits = EngineLimits(settings.engine_concurrency, settings.engine_calls_per_minute)
        self._handler: Handler = handler or self.read_aloud
        self._inflight: dict[str, InFlight] = {}
        self._stopping = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._completions: list[tuple[Completion, asyncio.Future[bool]]] = []
        self._completion_wake = asyncio.Event()
        self._started_at = time.time()
        self.completed = 0
        self.failed = 0
        self.paused_engines: frozenset[str] = frozenset()  # read on every heartbeat tick

    # -- public ----------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming; :meth:`run` finishes in-flight work within the grace period."""
        self._stopping.set()
        self._slot_free.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def run(self) -> None:
        if self._pool is None and self._slots is None:
            self._slots = ProcessSlots(self.concurrency)
        log.info("worker %s started, concurrency %d", self.id, self.concurrency)
        helpers = [
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self._completion_loop(), name="completions"),
            asyncio.create_task(self._maintenance_loop(), name="maintenance"),
        ]
        hooks = self._start_webhooks()
        try:
            await self.read_pauses()
            await self._claim_loop()
            await self._drain()
        finally:
            await self._stop_webhooks(hooks)
            for t in helpers:
                t.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.backend.unregister_worker(self.id)
            if self._slots is not None:
                self._slots.shutdown()
            log.info(
                "worker %s stopped: %d completed, %d failed", self.id, self.completed, self.failed
            )

    def _start_webhooks(self) -> asyncio.Task[None] | None:
        """Webhook deliveries run beside the tasks, in their own loop."""
        if not self.settings.webhooks_enabled:
            return None
        from ttsqueue.webhooks.deliver import DeliveryLoop

        loop = DeliveryLoop(self.backend, self.settings, worker_id=self.id)
        return asyncio.create_task(loop.run(self._stopping), name="webhooks")

    async def _stop_webhooks(self, hooks: asyncio.Task[None] | None) -> None:
        """Let attempts in flight finish (one attempt's deadline); an attempt cut off
        is retried when its lease runs out."""
        if hooks is None:
            return
        self._stopping.set()
        done, _ = await asyncio.wait({hooks}, timeout=self.settings.webhooks_timeout_s + 1)
        if not done:
            hooks.cancel()
        await asyncio.gather(hooks, return_exceptions=True)

    # -- claiming --------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        delay = 0.0
        while not self.stopping:
            free = self.concurrency - len(self._inflight)
            if free <= 0:
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            try:
                claim_started = time.time()
                claimed = await self.backend.claim(
                    worker_id=self.id, limit=free, lease_s=self.settings.lease_s
                )
                claim_window = (claim_started, time.time())
                delay = 0.0
            except Exception as exc:
                delay = min(STORE_RETRY_MAX_S, max(0.2, delay * 2))
                log.warning("claim failed (%s); retrying in %.1fs", exc, delay)
                await self._sleep(delay)
                continue
            metrics.tasks_claimed(claimed)
            for task in claimed:
                self._start(task, claim_window)
            if not claimed:
                await self._idle()

    async def _idle(self) -> None:
        waiter = asyncio.create_task(self.backend.wait_for_work(self.settings.poll_interval_s))
        stopper = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (waiter, stopper):
                t.cancel()
            await asyncio.gather(waiter, stopper, return_exceptions=True)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _start(self, task: ClaimedTask, claim_window: tuple[float, float] = (0.0, 0.0)) -> None:
        log.info(
            "task %s claimed: job %s, %s, attempt %d, token %d",
            task.lease.task_id,
            task.job_id,
            f"chapter {task.index + 1}" if task.kind is TaskKind.SYNTHESIZE else "book",
            task.attempt,
            task.lease.token,
        )
        item = InFlight(claimed=task, lease=task.lease, claimed_during=claim_window)
        self._inflight[task.lease.task_id] = item
        item.runner = asyncio.create_task(self._run_task(item), name=task.lease.task_id)

    # -- running one task ------------------------------------------------------------

    async def _run_task(self, item: InFlight) -> None:
        task = item.claimed
        slot = self._slots.checkout() if self._slots is not None else None
        _slot.set(slot)  # this asyncio task's own context: _in_pool finds its slot
        engine = engine_of(task)
        try:
            if engine and engine in self.paused_engines:  # given back, no attempt spent
                raise EngineBusy(f"engine {engine} is paused", self.settings.heartbeat_s)
            async with self.limits.chapter(engine):
                result = await self._run_limited(item, slot)
            accepted = await self._complete(Completion(item.lease, result))
            if accepted:
                self.completed += 1
                metrics.task_completed(task, result, item.job, self.settings)
                log.info(
                    "job %s: %s done in %.1fs (%.1fs of audio)",
                    task.job_id,
                    f"chapter {task.index + 1}" if task.kind is TaskKind.SYNTHESIZE else "book",
                    time.monotonic() - item.started,
                    float(result.get("duration_s", 0.0)),
                )
            else:
                log.warning("task %s: completion refused (lease lost)", task.lease.task_id)
        except TaskStopped as stop:
            log.info("task %s stopped: %s", task.lease.task_id, stop)
        except EngineBusy as busy:
            await self._defer(item, engine, busy)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._fail(item, exc)
        finally:
            if self._slots is not None and slot is not None:
                self._slots.checkin(slot)
            self._inflight.pop(task.lease.task_id, None)
            self._slot_free.set()

    async def _defer(self, item: InFlight, engine: str, busy: EngineBusy) -> None:
        """The engine said "retry after": give the task back until then, spending no
        attempt, and send this worker's other calls to that engine nowhere meanwhile."""
        until = time.time() + busy.retry_after_s
        self.limits.hold(engine, until)
        metrics.task_deferred(item.claimed)
        try:
            n = await self.backend.release([item.lease], run_at=until)
        except Exception as exc:  # the lease will expire and the reaper retries
            log.error("could not release %s: %s", item.claimed.lease.task_id, exc)
            return
        log.info(
            "task %s: %s; %s for %.1fs",
            item.claimed.lease.task_id,
            busy,
            "released" if n else "lease already lost, not released",
            busy.retry_after_s,
        )

    async def _run_limited(self, item: InFlight, slot: int | None) -> dict[str, Any]:
        """Run the handler under the task's time limit; past it, kill and replace the
        slot's process (the engine call may hang for ever) and raise TaskTimeout."""
        task = item.claimed
        limit = time_limit(task, self.settings)
        parent = await self._traces.claimed(task, item.claimed_during)
        attributes: dict[str, Any] = {
            "ttsqueue.job_id": task.job_id,
            "ttsqueue.chapter": task.index + 1,
            "ttsqueue.attempt": task.attempt,
            "ttsqueue.engine": engine_of(task) or None,
            "ttsqueue.worker_id": self.id,
        }
        try:
            with tracing.span(f"ttsqueue.{task.kind.value}", parent=parent, **attributes):
                async with asyncio.timeout(limit) as deadline:
                    return await self._handler(item)
        except TimeoutError:
            if not deadline.expired():
                raise
        what = f"chapter {task.index + 1}" if task.kind is TaskKind.SYNTHESIZE else "assembly"
        if self._slots is not None and slot is not None:
            self._slots.kill(slot)
        metrics.task_timed_out(task)
        raise TaskTimeout(f"{what} ran past its time limit of {limit:.0f} s and was stopped")

    def _check(self, item: InFlight) -> None:
        if item.stop_reason is not None:
            raise TaskStopped(item.stop_reason)

    async def _in_pool(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        slot = _slot.get()
        executor = (
            self._slots.executor(slot) if self._slots is not None and slot is not None else None
        )
        return await loop.run_in_executor(executor or self._pool, fn, *args)

    async def read_aloud(self, item: InFlight) -> dict[str, Any]:
        """The default handler: a chapter is synthesized and encoded, the assemble task
        joins the chapters into the book."""
        if item.claimed.kind is TaskKind.SYNTHESIZE:
            return await self._synthesize(item)
        return await self._assemble(item)

    async def _synthesize(self, item: InFlight) -> dict[str, Any]:
        task = item.claimed
        # Normalising and splitting a long chapter takes a while: not on the event loop,
        # which the heartbeats (and, under `ttsqueue up`, the API) share.
        plan: SynthesisPlan = await asyncio.to_thread(
            plan_chapter, task, self.storage, self.settings
        )
        pieces: list[bytes] = []
        spans: list[Span] = []
        sample_rate = plan.sample_rate  # a chapter with nothing to say is silence at this rate
        done_chars = 0
        at = 0
        for batch in plan.batches:
            self._check(item)
            await self.limits.before_calls(plan.engine, len(batch.items))
            pcm, sample_rate, found = await self._in_pool(
                synthesize_batch, *plan.synthesize_args(batch)
            )
            pieces.append(pcm)
            spans.extend((text, at + a, at + b) for text, a, b in found)
            at += len(pcm) // 2
            done_chars += batch.chars
            item.progress = min(0.95, done_chars / max(1, plan.total_chars))
        self._check(item)
        pcm = b"".join(pieces)
        duration = await self._in_pool(encode_chapter, *plan.encode_args(pcm, sample_rate))
        cues = chapter_cues(spans, sample_rate, plan.finish)
        write_atomic(plan.cues_path, lambda tmp: tmp.write_text(cues, encoding="utf-8"))
        item.progress = 1.0
        return plan.result(duration)

    async def _assemble(self, item: InFlight) -> dict[str, Any]:
        job = await self.backend.get(item.claimed.job_id)
        if job is None:
            raise TaskStopped("job vanished")
        item.job = job
        work = AssembleJob.for_job(job, item.claimed, self.storage)
        self._check(item)
        result: dict[str, Any] = await self._in_pool(assemble_book, work)
        return result

    async def _fail(self, item: InFlight, exc: Exception) -> None:
        task = item.claimed
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        retry_at: float | None = None
        if task.attempt < task.max_attempts:
            retry_at = time.time() + policy.backoff_delay(
                task.attempt, base_s=self.settings.retry_base_s, max_s=self.settings.retry_max_s
            )
        log.warning(
            "task %s attempt %d/%d failed: %s%s",
            task.lease.task_id,
            task.attempt,
            task.max_attempts,
            error,
            "" if retry_at is None else f" (retry in {retry_at - time.time():.1f}s)",
        )
        self.failed += 1
        metrics.task_failed(task, final=retry_at is None)
        try:
            await self.backend.fail(item.lease, error=error[:2000], retry_at=retry_at)
        except Exception as store_exc:  # the lease will expire and the reaper retries
            log.error("could not record failure of %s: %s", task.lease.task_id, store_exc)

    # -- completions, batched --------------------------------------------------------

    async def _complete(self, completion: Completion) -> bool:
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._completions.append((completion, fut))
        self._completion_wake.set()
        return await fut

    async def _completion_loop(self) -> None:
        delay = 0.0
        while True:
            await self._completion_wake.wait()
            self._completion_wake.clear()
            batch, self._completions = self._completions, []
            if not batch:
                continue
            try:
                results = await self.backend.complete([c for c, _ in batch])
                delay = 0.0
            except Exception as exc:
                # Keep the batch and try again: nothing acknowledged is lost, and the
                # lease covers us while the store is away (a later refusal is correct).
                delay = min(STORE_RETRY_MAX_S, max(0.2, delay * 2))
                log.warning("complete failed (%s); retrying in %.1fs", exc, delay)
                self._completions[:0] = batch
                await asyncio.sleep(delay)
                self._completion_wake.set()
                continue
            for (_, fut), ok in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(ok)

    # -- heartbeat and maintenance ---------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            await self.heartbeat_once()

    async def read_pauses(self) -> None:
        """The engines an admin paused; their chapters are released, not run."""
        try:
            pauses = await self.backend.list_pauses()
        except Exception as exc:
            log.warning("reading pauses failed: %s", exc)
            return
        self.paused_engines = frozenset(p.engine for p in pauses if p.engine is not None)

    async def _check_drain(self) -> None:
        """An admin asked this worker to drain: stop claiming, finish (or, after the
        grace period, release) what it holds, and exit."""
        try:
            drain = await self.backend.take_drain(self.id)
        except Exception as exc:
            log.warning("reading the drain request failed: %s", exc)
            return
        if drain and not self.stopping:
            log.info("worker %s: drain requested; finishing what it holds", self.id)
            self.stop()

    async def heartbeat_once(self) -> None:
        await self.read_pauses()
        await self._check_drain()
        items = list(self._inflight.values())
        try:
            await self.backend.register_worker(self._info(items))
            if not items:
                return
            progress = {
                i.lease.task_id: round(i.progress, 3)
                for i in items
                if round(i.progress, 3) != i.reported
            }
            result = await self.backend.heartbeat(
                [i.lease for i in items], lease_s=self.settings.lease_s, progress=progress or None
            )
        except Exception as exc:
            log.warning("heartbeat failed: %s", exc)
            return
        for i in items:
            tid = i.lease.task_id
            if tid in progress:
                i.reported = progress[tid]
            if tid in result.cancelled:
                i.stop_reason = "cancelled"
            elif tid in result.lost:
                i.stop_reason = "lost"

    def _info(self, items: list[InFlight]) -> WorkerInfo:
        return WorkerInfo(
            id=self.id,
            host=socket.gethostname(),
            pid=os.getpid(),
            version=__version__,
            concurrency=self.concurrency,
            tasks=tuple(i.lease.task_id for i in items),
            started_at=self._started_at,
        )

    async def _maintenance_loop(self) -> None:
        """Every worker reaps: the operations are atomic, so many reapers are safe and
        a lone surviving worker still rescues its dead peers' tasks. At start and every
        ``gc_interval_s`` it also prunes and collects file garbage (temporary files of
        killed workers; a live worker's are locked and left alone)."""
        try:
            await maintenance.sweep_temp(self.storage)
        except Exception as exc:
            log.warning("sweeping temporary files failed: %s", exc)
        last_gc = float("-inf")  # prune and collect on the first round
        while True:
            await asyncio.sleep(self.settings.reap_interval_s)
            try:
                reaped = await self.backend.reap()
                if reaped.requeued or reaped.failed:
                    log.info("reaped %d expired leases (%d failed)", reaped.requeued, reaped.failed)
                if time.monotonic() - last_gc > self.settings.gc_interval_s:
                    last_gc = time.monotonic()
                    await maintenance.prune(self.backend, self.storage, self.settings)
                    await maintenance.collect_garbage(self.backend, self.storage)
            except Exception as exc:
                log.warning("maintenance failed: %s", exc)

    # -- shutdown --------------------------------------------------------------------

    async def _drain(self) -> None:
        """Let chapters in flight finish within the grace period, then release the rest."""
        if self._inflight:
            log.info(
                "waiting up to %.0fs for %d task(s) in flight",
                self.settings.shutdown_grace_s,
                len(self._inflight),
            )
        runners = [i.runner for i in self._inflight.values() if i.runner is not None]
        if runners:
            await asyncio.wait(runners, timeout=self.settings.shutdown_grace_s)
        left = list(self._inflight.values())
        for i in left:
            if i.runner is not None:
                i.runner.cancel()
        if left:
            await asyncio.gather(*(i.runner for i in left if i.runner), return_exceptions=True)
            try:
                n = await self.backend.release([i.lease for i in left])
                log.info("released %d task(s) for other workers", n)
            except Exception as exc:
                log.warning("release failed (%s); leases will expire", exc)


def install_signal_handlers(worker: Worker) -> None:
    """First SIGTERM/SIGINT: graceful stop. A second one: exit at once."""
    loop = asyncio.get_running_loop()

    def handle(signum: int) -> None:
        if worker.stopping:
            log.warning("second signal: exiting now; leases will expire")
            os._exit(1)
        log.info("signal %d: finishing work in flight, then exiting", signum)
        worker.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, handle, sig)
