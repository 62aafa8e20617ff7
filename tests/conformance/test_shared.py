"""Two backend instances on one store (for the stores that are shared): they are one
queue, with one claim order, one set of leases and one event stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from tests.conformance.helpers import (
    add,
    book,
    claim,
    claim_one,
    drain,
    get,
    poll,
    stop,
    subscribed,
)
from tests.skips import unsupported
from ttsqueue.backends import Backend, BackendOptions, open_backend
from ttsqueue.backends.base import Completion
from ttsqueue.models import ClaimedTask, Event, EventType, JobStatus

NO_STARVATION = pytest.mark.parametrize(
    "backend_options", [BackendOptions(starvation_every=0, event_poll_s=0.05)]
)


@pytest.fixture
async def sibling(backend: Backend, backend_options: BackendOptions) -> AsyncIterator[Backend]:
    """A second, independent instance opened on the same store as ``backend``."""
    unsupported(backend, "shared")
    async with open_backend(backend.url, backend_options) as other:
        yield other


async def test_claimers_on_two_instances_never_share_a_task(
    backend: Backend, sibling: Backend
) -> None:
    specs = [book(f"user-{i % 3}", 3) for i in range(20)]
    await backend.enqueue(specs[:10])
    await sibling.enqueue(specs[10:])
    claims = await drain([backend, sibling], specs, claimers=8, limit=3)
    assert set(claims.values()) == {1}
    for spec in specs:
        assert (await get(sibling, spec.id)).status is JobStatus.COMPLETED


async def test_one_idempotency_key_across_instances(backend: Backend, sibling: Backend) -> None:
    batches = await asyncio.gather(
        *(
            store.enqueue([book("alice", 1, idempotency_key="same")])
            for store in [backend, sibling] * 4
        )
    )
    results = [r for batch in batches for r in batch]
    assert sum(r.created for r in results) == 1
    assert len({r.job.id for r in results}) == 1


@NO_STARVATION
async def test_round_robin_is_kept_by_the_store(backend: Backend, sibling: Backend) -> None:
    await add(backend, book("alice", 4))
    assert (await claim_one(backend)).user_id == "alice"
    await add(sibling, book("bob", 4))
    users = [(await claim_one(store)).user_id for store in (sibling, backend, sibling, backend)]
    assert users == ["bob", "alice", "bob", "alice"]


async def test_a_lease_taken_over_elsewhere_fences_the_old_holder(
    backend: Backend, sibling: Backend
) -> None:
    job = await add(backend, book("alice", 1))
    first = await claim_one(backend, lease_s=0.3)

    async def takeover() -> list[ClaimedTask]:
        return await claim(sibling, worker="w2")

    (second,) = await poll(takeover)
    assert second.lease.token == first.lease.token + 1
    assert (await backend.heartbeat([first.lease], lease_s=30)).lost == {first.lease.task_id}
    assert await backend.complete([Completion(first.lease, {"path": "stale"})]) == [False]
    assert await sibling.complete([Completion(second.lease, {"path": "fresh"})]) == [True]
    assert (await get(backend, job.id)).tasks[0].result == {"path": "fresh"}


async def test_cancel_elsewhere_reaches_the_running_worker(
    backend: Backend, sibling: Backend
) -> None:
    job = await add(backend, book("alice", 2))
    held = await claim_one(backend)
    await sibling.cancel(job.id, user_id="alice")
    assert (await backend.heartbeat([held.lease], lease_s=30)).cancelled == {held.lease.task_id}
    assert await claim(backend) == []


async def test_events_reach_a_subscriber_on_another_instance(
    backend: Backend, sibling: Backend
) -> None:
    job = await add(backend, book("alice", 1))
    received: list[Event] = []
    consumer = await subscribed(sibling, received, job.id, producer=backend, job_id=job.id)
    try:
        await backend.cancel(job.id)

        async def got_cancel() -> bool:
            return bool(received) and received[-1].type is EventType.CANCELLED

        await poll(got_cancel)
    finally:
        await stop(consumer)
    first = received[0].seq
    assert [e.seq for e in received] == list(range(first, first + len(received)))


async def test_enqueue_elsewhere_wakes_a_waiting_worker(backend: Backend, sibling: Backend) -> None:
    # Every store wakes a waiter on new work: by a push where it can, else by polling.
    waiter = asyncio.create_task(sibling.wait_for_work(60))
    try:
        end = time.monotonic() + 20
        while not waiter.done():
            assert time.monotonic() < end, "wait_for_work did not wake on new work"
            await add(backend, book("alice", 1))
            await asyncio.wait({waiter}, timeout=0.5)
    finally:
        waiter.cancel()
