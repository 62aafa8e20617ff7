"""The worker's own paths, in-process on the memory store: a failing chapter is
recorded with its error and retried with backoff until its last attempt; a heartbeat
that answers "cancelled" or "lost" stops the chapter in flight and nothing of it is
written; a refused completion counts for nothing; shutdown releases what is left."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.helpers import add, book
from ttsqueue import metrics
from ttsqueue.backends import Backend, BackendOptions, open_backend
from ttsqueue.models import EventType, Job, JobStatus, TaskKind, TaskStatus
from ttsqueue.settings import Settings
from ttsqueue.worker import InFlight, TaskStopped, Worker

Handler = Callable[[InFlight], Awaitable[dict[str, Any]]]


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    async with open_backend("memory://", BackendOptions(event_poll_s=0.05)) as b:
        yield b


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": "memory://",
        "data_dir": tmp_path,
        "lease_s": 30.0,
        "heartbeat_s": 0.1,
        "retry_base_s": 0.05,
        "retry_max_s": 0.2,
        "reap_interval_s": 0.1,
        "poll_interval_s": 0.05,
        "shutdown_grace_s": 5.0,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class Running:
    """A worker running in the background of a test, stopped (and awaited) at the end."""

    def __init__(self, backend: Backend, settings: Settings, handler: Handler) -> None:
        self.pool = ThreadPoolExecutor(2)
        self.worker = Worker(
            backend, settings, concurrency=1, pool=self.pool, worker_id="w-test", handler=handler
        )
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Worker:
        self.task = asyncio.create_task(self.worker.run())
        return self.worker

    async def __aexit__(self, *exc: object) -> None:
        self.worker.stop()
        assert self.task is not None
        await asyncio.wait_for(self.task, 30)
        self.pool.shutdown()


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def job_of(backend: Backend, job_id: str) -> Job:
    job = await backend.get(job_id)
    assert job is not None
    return job


async def succeed(item: InFlight) -> dict[str, Any]:
    return {"path": f"{item.claimed.job_id}/{item.claimed.index}.wav", "duration_s": 1.0}


async def test_a_failing_chapter_is_retried_with_backoff_then_fails_the_job(
    backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runs: list[tuple[int, float]] = []

    async def broken(item: InFlight) -> dict[str, Any]:
        runs.append((item.claimed.attempt, time.monotonic()))
        raise RuntimeError("the engine fell over " + "x" * 3000)

    before = {
        s.labels["final"]: s.value
        for s in metrics.TASKS_FAILED.collect()[0].samples
        if s.name.endswith("_total") and s.labels["kind"] == "synthesize"
    }
    job = await add(backend, book("alice", 1))
    with caplog.at_level(logging.WARNING, logger="ttsqueue.worker"):
        async with Running(backend, settings_for(tmp_path), broken) as worker:

            async def failed() -> bool:
                return (await job_of(backend, job.id)).status is JobStatus.FAILED

            await until(failed, "the job to fail")
    assert [attempt for attempt, _ in runs] == [1, 2, 3]  # max_attempts, then no more
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(runs)]
    assert all(gap >= 0.02 for gap in gaps), gaps  # backoff: half of 0.05, then of 0.1
    done = await job_of(backend, job.id)
    error = "RuntimeError: the engine fell over " + "x" * 3000
    assert done.error == error[:2000]  # the final error is kept, cut to 2000 characters
    chapter = next(t for t in done.tasks if t.kind is TaskKind.SYNTHESIZE)
    assert (chapter.status, chapter.attempts) == (TaskStatus.FAILED, 3)
    types = [e.type for e in await backend.events(job.id)]
    assert types.count(EventType.TASK_RETRYING) == 2
    assert types[-1] is EventType.FAILED
    assert (worker.failed, worker.completed) == (3, 0)
    assert "attempt 1/3 failed" in caplog.text and "(retry in" in caplog.text
    (last,) = [r.getMessage() for r in caplog.records if "attempt 3/3 failed" in r.getMessage()]
    assert "retry in" not in last  # the last attempt asks for no retry
    tid = chapter.id
    first = next(r.getMessage() for r in caplog.records if "attempt 1/3" in r.getMessage())
    assert first.startswith(f"task {tid} attempt 1/3 failed: RuntimeError: the engine fell over")
    retry_in = float(first.rsplit("(retry in ", 1)[1].rstrip("s)"))
    assert 0 <= retry_in <= 0.1  # the backoff, not a clock reading
    assert last == f"task {tid} attempt 3/3 failed: {error}"
    failed = {
        s.labels["final"]: s.value
        for s in metrics.TASKS_FAILED.collect()[0].samples
        if s.name.endswith("_total") and s.labels["kind"] == "synthesize"
    }
    assert failed["true"] - before.get("true", 0) == 1
    assert failed["false"] - before.get("false", 0) == 2


async def test_an_error_without_a_message_is_named_by_its_type(
    backend: Backend, tmp_path: Path
) -> None:
    async def silent(item: InFlight) -> dict[str, Any]:
        raise ValueError

    job = await add(backend, book("alice", 1, max_attempts=1))
    async with Running(backend, settings_for(tmp_path), silent):

        async def failed() -> bool:
            return (await job_of(backend, job.id)).status is JobStatus.FAILED

        await until(failed, "the job to fail")
    assert (await job_of(backend, job.id)).error == "ValueError"


async def wait_for_stop(item: InFlight) -> dict[str, Any]:
    """A chapter that reads until the store says stop, reporting progress as it goes."""
    while item.stop_reason is None:
        item.progress = min(0.9, item.progress + 0.01)
        await asyncio.sleep(0.01)
    raise TaskStopped(item.stop_reason)


async def test_a_heartbeat_answering_cancelled_stops_the_chapter(
    backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[InFlight] = []

    async def reading(item: InFlight) -> dict[str, Any]:
        seen.append(item)
        return await wait_for_stop(item)

    job = await add(backend, book("alice", 2))
    caplog.set_level(logging.INFO, logger="ttsqueue.worker")
    async with Running(backend, settings_for(tmp_path), reading) as worker:

        async def started() -> bool:
            return bool(seen) and (await job_of(backend, job.id)).progress_percent > 0

        await until(started, "the first chapter to report progress")
        await backend.cancel(job.id)

        async def stopped() -> bool:
            return not worker._inflight

        await until(stopped, "the chapter to stop")
    assert [i.stop_reason for i in seen] == ["cancelled"]
    assert f"task {seen[0].lease.task_id} stopped: cancelled" in caplog.text
    assert (worker.completed, worker.failed) == (0, 0)
    done = await job_of(backend, job.id)
    assert done.status is JobStatus.CANCELLED
    assert all(t.result is None for t in done.tasks)


async def test_a_heartbeat_answering_lost_stops_the_chapter_and_writes_nothing(
    backend: Backend, tmp_path: Path
) -> None:
    seen: list[InFlight] = []

    async def reading(item: InFlight) -> dict[str, Any]:
        seen.append(item)
        await asyncio.sleep(0.6)  # past the lease, with no heartbeat in between
        return await wait_for_stop(item)

    job = await add(backend, book("alice", 1))
    settings = settings_for(tmp_path, lease_s=0.2, heartbeat_s=0.8, reap_interval_s=60)
    async with Running(backend, settings, reading) as worker:
        await until(lambda: asyncio.sleep(0, bool(seen)), "the chapter to start")
        await asyncio.sleep(0.3)  # the lease has expired: another worker takes over
        (thief,) = await backend.claim(worker_id="thief", limit=1, lease_s=60)
        assert thief.lease.task_id == seen[0].lease.task_id

        async def stopped() -> bool:
            return not worker._inflight

        await until(stopped, "the chapter to stop")
    assert seen[0].stop_reason == "lost"
    assert (worker.completed, worker.failed) == (0, 0)
    task = next(t for t in (await job_of(backend, job.id)).tasks if t.id == thief.lease.task_id)
    assert (task.status, task.worker_id, task.attempts) == (TaskStatus.RUNNING, "thief", 2)


async def test_a_refused_completion_counts_for_nothing(
    backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stolen = asyncio.Event()

    async def slow(item: InFlight) -> dict[str, Any]:
        await stolen.wait()
        return await succeed(item)

    job = await add(backend, book("alice", 1))
    settings = settings_for(tmp_path, lease_s=0.2, heartbeat_s=60, reap_interval_s=60)
    with caplog.at_level(logging.WARNING, logger="ttsqueue.worker"):
        async with Running(backend, settings, slow) as worker:
            await asyncio.sleep(0.4)
            (thief,) = await backend.claim(worker_id="thief", limit=1, lease_s=60)
            stolen.set()

            async def finished() -> bool:
                return not worker._inflight

            await until(finished, "the chapter to finish")
    assert "completion refused (lease lost)" in caplog.text
    assert (worker.completed, worker.failed) == (0, 0)
    task = next(t for t in (await job_of(backend, job.id)).tasks if t.id == thief.lease.task_id)
    assert (task.status, task.result) == (TaskStatus.RUNNING, None)


async def test_progress_reaches_the_store_by_heartbeat(backend: Backend, tmp_path: Path) -> None:
    job = await add(backend, book("alice", 1))
    async with Running(backend, settings_for(tmp_path), wait_for_stop):

        async def reported() -> bool:
            return (await job_of(backend, job.id)).progress_percent >= 20

        await until(reported, "progress to be reported")
        await backend.cancel(job.id)


async def test_shutdown_releases_a_chapter_that_outlives_the_grace_period(
    backend: Backend, tmp_path: Path
) -> None:
    started = asyncio.Event()

    async def forever(item: InFlight) -> dict[str, Any]:
        started.set()
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    job = await add(backend, book("alice", 1))
    runner = Running(backend, settings_for(tmp_path, shutdown_grace_s=0.2), forever)
    async with runner as worker:
        await asyncio.wait_for(started.wait(), 20)
    assert not runner.task or runner.task.done()
    done = await job_of(backend, job.id)
    chapter = next(t for t in done.tasks if t.kind is TaskKind.SYNTHESIZE)
    assert (chapter.status, chapter.attempts) == (TaskStatus.PENDING, 0)  # no attempt spent
    assert EventType.TASK_RELEASED in [e.type for e in await backend.events(job.id)]
    assert (worker.completed, worker.failed) == (0, 0)


async def test_a_completed_book_counts_its_chapters_and_the_assembly(
    backend: Backend, tmp_path: Path
) -> None:
    job = await add(backend, book("alice", 3))
    async with Running(backend, settings_for(tmp_path), succeed) as worker:

        async def completed() -> bool:
            return (await job_of(backend, job.id)).status is JobStatus.COMPLETED

        await until(completed, "the job to complete")
    assert (worker.completed, worker.failed) == (4, 0)


async def test_a_failure_the_store_cannot_record_is_logged_and_left_to_the_lease(
    backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    async def store_down(*args: Any, **kwargs: Any) -> bool:
        raise ConnectionError("the store went away")

    async def broken(item: InFlight) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(backend, "fail", store_down)
    job = await add(backend, book("alice", 1))
    with caplog.at_level(logging.WARNING, logger="ttsqueue.worker"):
        async with Running(backend, settings_for(tmp_path), broken) as worker:

            async def logged() -> bool:
                return "could not record failure" in caplog.text

            await until(logged, "the failure to be logged")
    (task,) = [t for t in (await job_of(backend, job.id)).tasks if t.kind is TaskKind.SYNTHESIZE]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors[0] == f"could not record failure of {task.id}: the store went away"
    assert task.status is TaskStatus.RUNNING  # the lease expires; the reaper retries it
    assert worker.failed >= 1
