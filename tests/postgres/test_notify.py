"""LISTEN/NOTIFY: idle workers wake on an enqueue from another process, and events
reach subscribers of every instance."""

from __future__ import annotations

import asyncio
import time

from tests.postgres.helpers import book
from ttsqueue.backends.base import Completion
from ttsqueue.backends.postgres import PostgresBackend
from ttsqueue.models import EventType


async def test_wait_for_work_returns_soon_after_an_enqueue_elsewhere(
    pg: PostgresBackend, pg2: PostgresBackend
) -> None:
    assert await pg.claim(worker_id="w", limit=1, lease_s=30) == []

    async def timed_wait() -> float:
        start = time.monotonic()
        await pg.wait_for_work(10)
        return time.monotonic() - start

    waiter = asyncio.create_task(timed_wait())
    await asyncio.sleep(0.2)  # the waiter is parked
    assert not waiter.done()
    await pg2.enqueue([book()])
    elapsed = await asyncio.wait_for(waiter, 15)
    assert elapsed < 5.0  # far below the 10 s timeout: a notification, not the poll
    assert len(await pg.claim(worker_id="w", limit=5, lease_s=30)) == 2


async def test_wait_for_work_times_out_without_work(pg: PostgresBackend) -> None:
    assert await pg.claim(worker_id="w", limit=1, lease_s=30) == []
    start = time.monotonic()
    await pg.wait_for_work(0.3)
    assert time.monotonic() - start >= 0.25


async def test_subscribers_of_another_instance_get_events_in_order(
    pg: PostgresBackend, pg2: PostgresBackend
) -> None:
    stream = pg.subscribe(user_id="alice")
    (result,) = await pg2.enqueue([book("alice", chapters=1)])
    await pg2.enqueue([book("bob", chapters=1)])  # filtered out
    claimed = await pg2.claim(worker_id="w", limit=1, lease_s=30)
    await pg2.complete([Completion(claimed[0].lease, {"path": "x", "duration_s": 1.5})])
    seen = []
    async with asyncio.timeout(10):
        while len(seen) < 5:
            seen.append(await anext(stream))
    await stream.aclose()  # type: ignore[attr-defined]
    assert {e.user_id for e in seen} == {"alice"}
    assert [e.seq for e in seen] == [1, 2, 3, 4, 5]
    assert [e.type for e in seen] == [
        EventType.QUEUED,
        EventType.PROCESSING,
        EventType.CHAPTER_STARTED,
        EventType.CHAPTER_COMPLETED,
        EventType.ASSEMBLING,
    ]
    assert seen[3].data == {"index": 0, "title": "Chapter 0", "duration_s": 1.5}
    assert seen == (await pg.events(result.job.id))[:5]


async def test_an_event_too_large_for_notify_is_fetched_by_id(
    pg: PostgresBackend, pg2: PostgresBackend
) -> None:
    (result,) = await pg2.enqueue([book("alice", chapters=1)])
    stream = pg.subscribe(job_id=result.job.id)
    (chapter,) = await pg2.claim(worker_id="w", limit=1, lease_s=30)
    await pg2.complete([Completion(chapter.lease, {"path": "x"})])
    (assemble,) = await pg2.claim(worker_id="w", limit=1, lease_s=30)
    big = {"path": "book.m4b", "notes": "x" * 20_000}
    await pg2.complete([Completion(assemble.lease, big)])
    async with asyncio.timeout(10):
        while (event := await anext(stream)).type is not EventType.COMPLETED:
            pass
    await stream.aclose()  # type: ignore[attr-defined]
    assert event.data == {"result": big}


async def test_events_of_a_large_statement_all_reach_a_subscriber_in_order(
    pg: PostgresBackend, pg2: PostgresBackend
) -> None:
    # one statement appends more events than one notification names (300)
    stream = pg.subscribe(user_id="carol")
    made = await pg2.enqueue([book("carol", chapters=1) for _ in range(650)])
    seen = []
    async with asyncio.timeout(20):
        while len(seen) < len(made):
            seen.append(await anext(stream))
    await stream.aclose()  # type: ignore[attr-defined]
    assert [e.job_id for e in seen] == [r.job.id for r in made]
    assert {e.type for e in seen} == {EventType.QUEUED}
    assert [e.id for e in seen] == sorted(e.id for e in seen)


async def test_wait_for_work_returns_when_a_finished_task_frees_its_owners_cap(
    pg: PostgresBackend, pg2: PostgresBackend
) -> None:
    await pg2.enqueue([book("dora", chapters=2, max_concurrency=1)])
    (first,) = await pg2.claim(worker_id="a", limit=5, lease_s=30)
    assert await pg.claim(worker_id="b", limit=5, lease_s=30) == []  # dora is at her cap

    async def timed_wait() -> float:
        start = time.monotonic()
        await pg.wait_for_work(10)
        return time.monotonic() - start

    waiter = asyncio.create_task(timed_wait())
    await asyncio.sleep(0.2)  # the waiter is parked
    assert not waiter.done()
    await pg2.complete([Completion(first.lease, {"path": "x"})])
    elapsed = await asyncio.wait_for(waiter, 15)
    assert elapsed < 5.0  # far below the 10 s timeout: a notification, not the poll
    assert len(await pg.claim(worker_id="b", limit=5, lease_s=30)) == 1
