"""Leases, their expiry and takeover, and fencing tokens."""

from __future__ import annotations

import asyncio
import time

from tests.conformance.helpers import add, book, claim, claim_one, get, poll, task
from ttsqueue.backends.base import Backend, Completion
from ttsqueue.models import ClaimedTask, EventType, JobStatus, Lease, TaskStatus

SHORT_LEASE_S = 0.3


async def wait_expired(claimed: ClaimedTask) -> None:
    """Sleep until the claim's lease is over (by a margin, for stores with their own clock)."""
    delay = claimed.lease_expires_at + 0.1 - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


async def test_expired_lease_is_taken_over_by_the_next_claim(backend: Backend) -> None:
    job = await add(backend, book("alice", 1))
    first = await claim_one(backend, worker="w1", lease_s=SHORT_LEASE_S)

    async def takeover() -> list[ClaimedTask]:
        return await claim(backend, worker="w2")

    (second,) = await poll(takeover)
    assert second.lease.task_id == first.lease.task_id
    assert second.lease.token == first.lease.token + 1
    assert second.attempt == 2

    stored = task(await get(backend, job.id), 0)
    assert (stored.status, stored.worker_id, stored.attempts) == (TaskStatus.RUNNING, "w2", 2)
    types = [e.type for e in await backend.events(job.id)]
    assert types[-2:] == [EventType.TASK_RETRYING, EventType.CHAPTER_STARTED]
    retrying = (await backend.events(job.id))[-2]
    assert retrying.data["error"] == "lease expired"
    assert retrying.data["index"] == 0

    beat = await backend.heartbeat([first.lease], lease_s=30)
    assert beat.lost == {first.lease.task_id} and not beat.extended and not beat.cancelled
    assert await backend.complete([Completion(first.lease, {"path": "stale"})]) == [False]
    assert await backend.complete([Completion(second.lease, {"path": "fresh"})]) == [True]
    assert task(await get(backend, job.id), 0).result == {"path": "fresh"}


async def test_heartbeat_keeps_a_task_from_being_taken_over(backend: Backend) -> None:
    await add(backend, book("alice", 1))
    held = await claim_one(backend, worker="w1", lease_s=SHORT_LEASE_S)
    beat = await backend.heartbeat([held.lease], lease_s=30)
    assert beat.extended == {held.lease.task_id}
    assert not beat.lost and not beat.cancelled
    await wait_expired(held)
    assert await claim(backend, worker="w2") == []
    result = await backend.reap()
    assert (result.requeued, result.failed) == (0, 0)


async def test_an_expired_lease_is_still_held_until_taken_back(backend: Backend) -> None:
    job = await add(backend, book("alice", 1))
    held = await claim_one(backend, lease_s=0.2)
    await wait_expired(held)
    assert await backend.complete([Completion(held.lease, {"path": "late but fine"})]) == [True]
    assert task(await get(backend, job.id), 0).status is TaskStatus.COMPLETED


async def test_reap_requeues_an_expired_task_keeping_the_error(backend: Backend) -> None:
    job = await add(backend, book("alice", 1, max_attempts=3))
    held = await claim_one(backend, lease_s=SHORT_LEASE_S)
    await wait_expired(held)
    result = await backend.reap()
    assert (result.requeued, result.failed) == (1, 0)
    t0 = task(await get(backend, job.id), 0)
    assert (t0.status, t0.attempts, t0.error) == (TaskStatus.PENDING, 1, "lease expired")
    assert (await get(backend, job.id)).status is JobStatus.PROCESSING
    again = await claim_one(backend, worker="w2")
    assert again.lease.token == held.lease.token + 1


async def test_reap_fails_a_task_that_used_its_last_attempt(backend: Backend) -> None:
    job = await add(backend, book("alice", 2, max_attempts=1))
    held = await claim_one(backend, lease_s=SHORT_LEASE_S)
    await wait_expired(held)
    result = await backend.reap()
    assert (result.requeued, result.failed) == (0, 1)
    job = await get(backend, job.id)
    assert (job.status, job.error) == (JobStatus.FAILED, "lease expired")
    assert [t.status for t in job.tasks] == [
        TaskStatus.FAILED,
        TaskStatus.CANCELLED,
        TaskStatus.CANCELLED,
    ]
    assert (await backend.events(job.id))[-1].type is EventType.FAILED


async def test_claim_fails_an_expired_task_that_used_its_last_attempt(backend: Backend) -> None:
    job = await add(backend, book("alice", 1, max_attempts=1))
    held = await claim_one(backend, lease_s=SHORT_LEASE_S)
    await wait_expired(held)
    assert await claim(backend, worker="w2") == []
    job = await get(backend, job.id)
    assert (job.status, job.error) == (JobStatus.FAILED, "lease expired")


async def test_a_stale_token_changes_nothing(backend: Backend) -> None:
    job = await add(backend, book("alice", 2))
    first = await claim_one(backend, worker="w1", lease_s=SHORT_LEASE_S)
    await wait_expired(first)
    second = await claim_one(backend, worker="w2")
    assert second.lease.task_id == first.lease.task_id
    before = await get(backend, job.id)
    events_before = await backend.events(job.id)

    stale = first.lease
    made_up = Lease(second.lease.task_id, second.lease.token + 7)
    for lease in (stale, made_up):
        assert await backend.complete([Completion(lease, {"path": "x"})]) == [False]
        assert await backend.fail(lease, error="boom", retry_at=None) is False
        assert await backend.fail(lease, error="boom", retry_at=time.time()) is False
        assert await backend.release([lease]) == 0
        beat = await backend.heartbeat([lease], lease_s=60, progress={lease.task_id: 0.5})
        assert beat.lost == {lease.task_id} and not beat.extended

    assert await get(backend, job.id) == before
    assert await backend.events(job.id) == events_before


async def test_a_task_completes_only_once(backend: Backend) -> None:
    job = await add(backend, book("alice", 2))
    held = await claim_one(backend)
    assert await backend.complete(
        [Completion(held.lease, {"path": "a"}), Completion(held.lease, {"path": "b"})]
    ) == [True, False]
    assert await backend.complete([Completion(held.lease, {"path": "c"})]) == [False]
    job = await get(backend, job.id)
    assert task(job, 0).result == {"path": "a"}
    assert job.completed_chapters == 1


async def test_heartbeat_reports_a_released_task_as_lost(backend: Backend) -> None:
    await add(backend, book("alice", 1))
    held = await claim_one(backend)
    assert await backend.release([held.lease]) == 1
    beat = await backend.heartbeat([held.lease], lease_s=30)
    assert beat.lost == {held.lease.task_id}
    assert not beat.extended and not beat.cancelled


async def test_heartbeat_answers_for_each_lease(backend: Backend) -> None:
    await add(backend, book("alice", 3))
    a, b, c = await claim(backend, limit=3)
    assert await backend.release([c.lease]) == 1
    beat = await backend.heartbeat(
        [a.lease, b.lease, c.lease, Lease("no-such-task", 1)], lease_s=30
    )
    assert beat.extended == {a.lease.task_id, b.lease.task_id}
    assert beat.lost == {c.lease.task_id, "no-such-task"}
    assert beat.cancelled == frozenset()
