"""Spec builders and small drivers shared by the conformance suite."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from ttsqueue.backends.base import Backend, Completion
from ttsqueue.models import Chapter, ClaimedTask, Event, Job, JobSpec, TaskInfo, TaskKind

T = TypeVar("T")

LEASE_S = 30.0  # long enough never to expire by accident on a loaded machine
DEADLINE_S = 15.0  # how long a poll waits for something that should happen "soon"


def book(
    user: str = "alice", chapters: int = 2, *, max_concurrency: int = 100, **kw: Any
) -> JobSpec:
    """A book of ``chapters`` short chapters titled "Chapter 1", "Chapter 2", ..."""
    return JobSpec(
        user_id=user,
        chapters=tuple(
            Chapter(title=f"Chapter {i + 1}", text=f"The text of chapter {i + 1}.")
            for i in range(chapters)
        ),
        title=kw.pop("title", f"A book by {user}"),
        max_concurrency=max_concurrency,
        **kw,
    )


async def add(backend: Backend, spec: JobSpec) -> Job:
    (result,) = await backend.enqueue([spec])
    assert result.created
    return result.job


async def claim(
    backend: Backend, *, limit: int = 100, worker: str = "w1", lease_s: float = LEASE_S
) -> list[ClaimedTask]:
    return await backend.claim(worker_id=worker, limit=limit, lease_s=lease_s)


async def claim_one(
    backend: Backend, *, worker: str = "w1", lease_s: float = LEASE_S
) -> ClaimedTask:
    claimed = await claim(backend, limit=1, worker=worker, lease_s=lease_s)
    assert len(claimed) == 1, "expected a runnable task"
    return claimed[0]


async def finish(backend: Backend, task: ClaimedTask, **result: Any) -> None:
    """Complete a claimed task with a small result; the store must accept it."""
    assert await backend.complete([Completion(task.lease, result or {"path": task.lease.task_id})])


async def run_job(backend: Backend, job_id: str) -> Job:
    """Claim and complete every task of the job (and only of it) until it is done."""
    for _ in range(1000):
        job = await backend.get(job_id)
        assert job is not None
        if job.status.terminal:
            return job
        claimed = await claim(backend)
        assert claimed, f"job {job_id} is {job.status} but nothing is runnable"
        for task in claimed:
            assert task.job_id == job_id
            await finish(backend, task, duration_s=1.5)
    raise AssertionError("the job never finished")


async def get(backend: Backend, job_id: str) -> Job:
    job = await backend.get(job_id)
    assert job is not None
    return job


def task(job: Job, index: int) -> TaskInfo:
    (found,) = [t for t in job.tasks if t.index == index]
    return found


def assemble_task(job: Job) -> TaskInfo:
    (found,) = [t for t in job.tasks if t.kind is TaskKind.ASSEMBLE]
    return found


async def poll(
    check: Callable[[], Awaitable[T | None]], *, deadline_s: float = DEADLINE_S, every: float = 0.05
) -> T:
    """Call ``check`` until it returns something other than None/empty, or fail."""
    end = time.monotonic() + deadline_s
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"condition not met within {deadline_s} s")
        await asyncio.sleep(every)


async def collect(backend: Backend, into: list[Event], **flt: str) -> None:
    async for event in backend.subscribe(**flt):
        into.append(event)


async def subscribed(
    backend: Backend,
    into: list[Event],
    probe_job: str,
    *,
    producer: Backend | None = None,
    **flt: str,
) -> asyncio.Task[None]:
    """Start a subscriber on ``backend`` and wait until it demonstrably receives events,
    by changing ``probe_job``'s priority (through ``producer``, default the same backend)
    until one arrives. Stop it with :func:`stop`."""
    consumer = asyncio.create_task(collect(backend, into, **flt))
    writer = producer or backend
    priority = 0

    async def live() -> bool:
        nonlocal priority
        priority += 1
        await writer.set_priority(probe_job, priority)
        await asyncio.sleep(0.05)
        return bool(into)

    await poll(live, every=0.1)
    return consumer


async def stop(consumer: asyncio.Task[None]) -> None:
    consumer.cancel()
    try:
        await consumer
    except asyncio.CancelledError:
        pass


async def drain(
    backends: Sequence[Backend], specs: Sequence[JobSpec], *, claimers: int, limit: int
) -> Counter[str]:
    """Run ``claimers`` concurrent claim → complete loops, spread over ``backends``, until
    every task of ``specs`` is done. Fails if two claimers ever hold one task at once;
    returns how often each task was claimed."""
    total = sum(len(s.chapters) + 1 for s in specs)  # every chapter and every assembly
    held: set[str] = set()
    claims: Counter[str] = Counter()
    overlaps: list[str] = []
    done = 0
    deadline = time.monotonic() + 4 * DEADLINE_S

    async def claimer(n: int) -> None:
        nonlocal done
        store = backends[n % len(backends)]
        while done < total and time.monotonic() < deadline:
            tasks = await store.claim(worker_id=f"w{n}", limit=limit, lease_s=60)
            if not tasks:
                await asyncio.sleep(0.01)
                continue
            for t in tasks:
                if t.lease.task_id in held:
                    overlaps.append(t.lease.task_id)
                held.add(t.lease.task_id)
                claims[t.lease.task_id] += 1
            await asyncio.sleep(0)  # let the other claimers run while these are held
            for t in tasks:
                held.discard(t.lease.task_id)
            results = await store.complete(
                [Completion(t.lease, {"worker": n, "kind": t.kind.value}) for t in tasks]
            )
            assert results == [True] * len(tasks)
            done += len(tasks)

    await asyncio.gather(*(claimer(n) for n in range(claimers)))
    assert overlaps == [], "a task was held by two claimers at once"
    assert done == total, "not every task was done in time"
    assert len(claims) == total
    return claims
