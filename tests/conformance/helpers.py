"""Spec builders and small drivers shared by the conformance suite."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ttsqueue.backends.base import Backend, Completion
from ttsqueue.models import Chapter, ClaimedTask, Job, JobSpec, TaskInfo, TaskKind

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
