"""The cap on unfinished jobs per user is the store's: it holds under concurrent
submissions (from one process or several), for batches and for retries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from tests.conformance.helpers import add, book, get, run_job
from ttsqueue.backends import Backend, BackendOptions, open_backend
from ttsqueue.backends.base import ActiveJobsLimit
from ttsqueue.models import EnqueueResult, JobStatus

CAP = 20


def capped(user: str = "alice", cap: int = CAP, **kw: object) -> object:
    return book(user, 1, max_active_jobs=cap, **kw)  # type: ignore[arg-type]


async def active(backend: Backend, user: str) -> int:
    """The user's unfinished jobs, as count_active() reads them and as stats() counts."""
    stats = await backend.stats(user_id=user)
    done = {s.value for s in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)}
    counted = sum(n for status, n in stats.jobs.items() if status not in done)
    assert await backend.count_active(user) == counted
    return counted


@pytest.fixture
async def instances(
    backend: Backend, backend_options: BackendOptions
) -> AsyncIterator[list[Backend]]:
    """The backend, plus a second instance on the same store where the store is shared
    (so that submissions also race between processes' connections)."""
    if not backend.capabilities.shared:
        yield [backend]
        return
    async with open_backend(backend.url, backend_options) as other:
        yield [backend, other]


async def _submit(backend: Backend, cap: int) -> EnqueueResult | ActiveJobsLimit:
    try:
        (result,) = await backend.enqueue([book("alice", 1, max_active_jobs=cap)])
    except ActiveJobsLimit as exc:
        return exc
    return result


async def test_thirty_concurrent_submissions_leave_exactly_the_cap_active(
    backend: Backend, instances: list[Backend]
) -> None:
    outcomes = await asyncio.gather(
        *(_submit(instances[i % len(instances)], CAP) for i in range(30))
    )
    made = [o for o in outcomes if isinstance(o, EnqueueResult)]
    refused = [o for o in outcomes if isinstance(o, ActiveJobsLimit)]
    assert len(made) == CAP and all(r.created for r in made)
    assert len(refused) == 30 - CAP
    assert all((e.limit, e.user_id) == (CAP, "alice") and e.active >= CAP for e in refused)
    assert await active(backend, "alice") == CAP
    assert (await backend.stats(user_id="alice")).jobs[JobStatus.QUEUED] == CAP


async def test_the_cap_is_per_user_and_finished_jobs_do_not_count(backend: Backend) -> None:
    first = await add(backend, book("alice", 1, max_active_jobs=2))
    await add(backend, book("alice", 1, max_active_jobs=2))
    with pytest.raises(ActiveJobsLimit) as info:
        await backend.enqueue([book("alice", 1, max_active_jobs=2)])
    assert (info.value.active, info.value.limit) == (2, 2)
    await add(backend, book("bob", 1, max_active_jobs=2))  # another user has room
    await add(backend, book("alice", 1))  # no cap (an admin's submission)
    assert await active(backend, "alice") == 3
    await backend.cancel(first.id)
    with pytest.raises(ActiveJobsLimit):  # still 2 unfinished
        await backend.enqueue([book("alice", 1, max_active_jobs=2)])
    await add(backend, book("alice", 1, max_active_jobs=3))
    assert await active(backend, "alice") == 3


async def test_count_active_follows_every_transition(backend: Backend) -> None:
    assert await backend.count_active("nobody") == 0
    later = await add(backend, book("alice", 1, run_at=time.time() + 3600))
    failing = await add(backend, book("alice", 1, max_attempts=1))
    assert await active(backend, "alice") == 2
    (task,) = await backend.claim(worker_id="w", limit=10, lease_s=60)
    assert task.job_id == failing.id and await active(backend, "alice") == 2
    assert await backend.fail(task.lease, error="boom", retry_at=None)
    assert await active(backend, "alice") == 1
    await backend.retry(failing.id)
    assert await active(backend, "alice") == 2
    await run_job(backend, failing.id)
    await backend.cancel(later.id)
    assert await active(backend, "alice") == 0
    assert await backend.count_active("bob") == 0


async def test_a_completed_job_frees_its_place(backend: Backend) -> None:
    job = await add(backend, book("alice", 1, max_active_jobs=1))
    with pytest.raises(ActiveJobsLimit):
        await backend.enqueue([book("alice", 1, max_active_jobs=1)])
    assert (await run_job(backend, job.id)).status is JobStatus.COMPLETED
    await add(backend, book("alice", 1, max_active_jobs=1))


async def test_a_batch_past_the_cap_inserts_nothing(backend: Backend) -> None:
    await add(backend, book("alice", 1, max_active_jobs=3))
    batch = [book("alice", 1, max_active_jobs=3) for _ in range(3)]
    with pytest.raises(ActiveJobsLimit) as info:
        await backend.enqueue(batch)
    assert (info.value.active, info.value.limit) == (3, 3)
    assert await active(backend, "alice") == 1
    for spec in batch:
        assert await backend.get(spec.id) is None
    results = await backend.enqueue(batch[:2])
    assert [r.created for r in results] == [True, True]
    assert await active(backend, "alice") == 3


async def test_a_matched_idempotency_key_does_not_count(backend: Backend) -> None:
    job = await add(backend, book("alice", 1, max_active_jobs=1, idempotency_key="k"))
    (again,) = await backend.enqueue([book("alice", 1, max_active_jobs=1, idempotency_key="k")])
    assert (again.created, again.job.id) == (False, job.id)
    batch = [book("alice", 1, max_active_jobs=2, idempotency_key="k2") for _ in range(3)]
    results = await backend.enqueue(batch)  # one insert, two matches within the batch
    assert [r.created for r in results] == [True, False, False]
    assert await active(backend, "alice") == 2


async def test_retry_counts_against_the_cap(backend: Backend) -> None:
    first = await add(backend, book("alice", 1, max_active_jobs=2))
    await backend.cancel(first.id)
    await add(backend, book("alice", 1, max_active_jobs=2))
    second = await add(backend, book("alice", 1, max_active_jobs=2))
    with pytest.raises(ActiveJobsLimit) as info:
        await backend.retry(first.id, user_id="alice", max_active_jobs=2)
    assert (info.value.active, info.value.limit) == (2, 2)
    assert (await get(backend, first.id)).status is JobStatus.CANCELLED
    assert (await backend.events(first.id))[-1].type == "job.cancelled"
    await backend.retry(first.id, max_active_jobs=None)  # no cap: an admin may
    assert await active(backend, "alice") == 3
    await backend.cancel(first.id)
    await backend.cancel(second.id)
    retried = await backend.retry(first.id, user_id="alice", max_active_jobs=2)
    assert retried.status is JobStatus.QUEUED
    assert await active(backend, "alice") == 2


async def test_concurrent_retries_and_submissions_keep_the_cap(
    backend: Backend, instances: list[Backend]
) -> None:
    old = [await add(backend, book("alice", 1)) for _ in range(10)]
    for job in old:
        await backend.cancel(job.id)

    async def retry(i: int, job_id: str) -> bool:
        try:
            await instances[i % len(instances)].retry(job_id, max_active_jobs=8)
        except ActiveJobsLimit:
            return False
        return True

    async def submit(i: int) -> bool:
        return isinstance(await _submit(instances[i % len(instances)], 8), EnqueueResult)

    outcomes = await asyncio.gather(
        *(retry(i, j.id) for i, j in enumerate(old)), *(submit(i) for i in range(10))
    )
    assert sum(outcomes) == 8
    assert await active(backend, "alice") == 8
