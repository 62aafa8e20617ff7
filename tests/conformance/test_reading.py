"""What users and admins read: idempotent enqueue, get, list, stats, progress, events."""

from __future__ import annotations

import time

from tests.conformance.helpers import (
    add,
    book,
    claim,
    claim_one,
    finish,
    get,
    poll,
    stop,
    subscribed,
)
from ttsqueue.backends.base import Backend, Completion
from ttsqueue.models import Event, EventType, JobFilter, JobStatus


async def test_idempotency_key_returns_the_existing_job(backend: Backend) -> None:
    first = await add(backend, book("alice", 2, idempotency_key="book-1"))
    (again,) = await backend.enqueue([book("alice", 5, idempotency_key="book-1")])
    assert not again.created
    assert again.job.id == first.id and again.job.total_chapters == 2
    (theirs,) = await backend.enqueue([book("bob", 1, idempotency_key="book-1")])
    assert theirs.created and theirs.job.id != first.id
    stats = await backend.stats()
    assert stats.jobs[JobStatus.QUEUED] == 2
    assert len(await backend.events(first.id)) == 1


async def test_idempotency_key_within_one_batch(backend: Backend) -> None:
    specs = [
        book("alice", 1, idempotency_key="k"),
        book("alice", 3, idempotency_key="k"),
        book("bob", 1, idempotency_key="k"),
        book("alice", 1),
    ]
    results = await backend.enqueue(specs)
    assert [r.created for r in results] == [True, False, True, True]
    assert results[1].job.id == results[0].job.id == specs[0].id
    assert results[1].job.total_chapters == 1
    assert (await backend.stats()).jobs[JobStatus.QUEUED] == 3


async def test_get_is_scoped_to_its_owner(backend: Backend) -> None:
    job = await add(backend, book("alice", 2))
    mine = await backend.get(job.id, user_id="alice")
    assert mine is not None and mine.id == job.id and len(mine.tasks) == 3
    assert await backend.get(job.id, user_id="bob") is None
    assert await backend.get("no-such-job") is None
    assert await backend.get(job.id) is not None  # admins see every job


async def test_list_jobs_newest_first_scoped_and_filtered(backend: Backend) -> None:
    alice = [await add(backend, book("alice", 1)) for _ in range(4)]
    bob = await add(backend, book("bob", 1))
    await backend.cancel(alice[1].id)

    page = await backend.list_jobs(JobFilter(user_id="alice"), limit=10)
    assert [j.id for j in page.items] == sorted((j.id for j in alice), reverse=True)
    assert page.next_cursor is None
    assert all(j.tasks == () for j in page.items)

    everyone = await backend.list_jobs(JobFilter(), limit=10)
    assert {j.id for j in everyone.items} == {j.id for j in [*alice, bob]}

    cancelled = await backend.list_jobs(JobFilter(status=JobStatus.CANCELLED), limit=10)
    assert [j.id for j in cancelled.items] == [alice[1].id]
    queued = await backend.list_jobs(JobFilter(user_id="bob", status=JobStatus.QUEUED), limit=10)
    assert [j.id for j in queued.items] == [bob.id]
    nothing = await backend.list_jobs(JobFilter(user_id="carol"), limit=10)
    assert nothing.items == () and nothing.next_cursor is None


async def test_cursor_pagination_covers_every_job_exactly_once(backend: Backend) -> None:
    jobs = await backend.enqueue([book("alice", 1) for _ in range(7)])
    await add(backend, book("bob", 1))
    seen: list[str] = []
    sizes = []
    cursor = None
    for _ in range(10):
        page = await backend.list_jobs(JobFilter(user_id="alice"), limit=3, cursor=cursor)
        seen.extend(j.id for j in page.items)
        sizes.append(len(page.items))
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sizes == [3, 3, 1]
    assert seen == sorted((r.job.id for r in jobs), reverse=True)


async def test_the_last_page_has_no_cursor_even_when_full(backend: Backend) -> None:
    await backend.enqueue([book("alice", 1) for _ in range(4)])
    first = await backend.list_jobs(JobFilter(), limit=2)
    assert len(first.items) == 2 and first.next_cursor is not None
    second = await backend.list_jobs(JobFilter(), limit=2, cursor=first.next_cursor)
    assert len(second.items) == 2 and second.next_cursor is None


async def test_stats_count_every_status(backend: Backend) -> None:
    before = time.time()
    await add(backend, book("alice", 2))  # its tasks are the oldest pending
    after = time.time()
    await add(backend, book("bob", 1))
    await claim_one(backend)  # alice's first chapter (FIFO)
    cancelled = await add(backend, book("alice", 1))
    await backend.cancel(cancelled.id)
    await add(backend, book("alice", 1, run_at=time.time() + 3600))

    stats = await backend.stats()
    assert stats.jobs == {
        "queued": 1,
        "scheduled": 1,
        "processing": 1,
        "assembling": 0,
        "completed": 0,
        "failed": 0,
        "cancelled": 1,
    }
    assert stats.tasks == {
        "waiting": 3,
        "pending": 3,
        "running": 1,
        "completed": 0,
        "failed": 0,
        "cancelled": 2,
    }
    assert stats.users == 2
    assert stats.oldest_pending_at is not None
    assert before - 0.5 <= stats.oldest_pending_at <= after + 0.5

    alice = await backend.stats(user_id="alice")
    assert (alice.jobs["processing"], alice.jobs["queued"], alice.jobs["cancelled"]) == (1, 0, 1)
    assert alice.jobs["scheduled"] == 1 and alice.users == 1
    assert alice.tasks["pending"] == 2  # the chapter left of `waiting` and the scheduled one

    nobody = await backend.stats(user_id="carol")
    assert set(nobody.jobs.values()) == {0} and set(nobody.tasks.values()) == {0}
    assert (nobody.users, nobody.oldest_pending_at) == (0, None)


async def test_heartbeat_progress_updates_the_job(backend: Backend) -> None:
    job = await add(backend, book("alice", 4))
    a, b = await claim(backend, limit=2)
    beat = await backend.heartbeat([a.lease, b.lease], lease_s=30, progress={a.lease.task_id: 0.5})
    assert beat.extended == {a.lease.task_id, b.lease.task_id}
    job = await get(backend, job.id)
    assert job.progress_percent == 12.5
    assert (job.current_chapter, job.progress_message) == (2, "Chapter 2 of 4: Chapter 2")
    assert job.tasks[0].progress == 0.5
    event = (await backend.events(job.id))[-1]
    assert event.type is EventType.PROGRESS
    assert event.data == {
        "progress_percent": 12.5,
        "progress_message": "Chapter 2 of 4: Chapter 2",
        "current_chapter": 2,
    }
    count = len(await backend.events(job.id))
    await backend.heartbeat([a.lease], lease_s=30, progress={a.lease.task_id: 0.5})
    assert len(await backend.events(job.id)) == count  # unchanged progress: no event

    await finish(backend, a)
    await backend.heartbeat([b.lease], lease_s=30, progress={b.lease.task_id: 0.5})
    assert (await get(backend, job.id)).progress_percent == 37.5


async def test_heartbeat_without_progress_keeps_the_progress(backend: Backend) -> None:
    job = await add(backend, book("alice", 2))
    a, b = await claim(backend, limit=2)
    await backend.heartbeat([a.lease, b.lease], lease_s=30, progress={a.lease.task_id: 0.5})
    count = len(await backend.events(job.id))
    # the worker only reports progress that changed: silence about a task keeps its value
    await backend.heartbeat([a.lease, b.lease], lease_s=30, progress={b.lease.task_id: 0.25})
    after = await get(backend, job.id)
    assert [t.progress for t in after.tasks[:2]] == [0.5, 0.25]
    assert after.progress_percent == 37.5
    await backend.heartbeat([a.lease, b.lease], lease_s=30)
    assert (await get(backend, job.id)).progress_percent == 37.5
    assert len(await backend.events(job.id)) == count + 1  # one job.progress for b's change


async def test_events_of_a_whole_lifecycle_in_order(backend: Backend) -> None:
    job = await add(backend, book("alice", 2))
    a, b = await claim(backend, limit=2, worker="w1")
    await backend.heartbeat([a.lease], lease_s=30, progress={a.lease.task_id: 0.5})
    assert await backend.complete(
        [Completion(a.lease, {"duration_s": 1.0}), Completion(b.lease, {"duration_s": 2.0})]
    ) == [True, True]
    await finish(backend, await claim_one(backend), path="book.m4b")

    events = await backend.events(job.id)
    assert [e.type for e in events] == [
        EventType.QUEUED,
        EventType.PROCESSING,
        EventType.CHAPTER_STARTED,
        EventType.CHAPTER_STARTED,
        EventType.PROGRESS,
        EventType.CHAPTER_COMPLETED,
        EventType.CHAPTER_COMPLETED,
        EventType.ASSEMBLING,
        EventType.COMPLETED,
    ]
    assert [e.seq for e in events] == list(range(1, 10))
    assert all(e.job_id == job.id and e.user_id == "alice" for e in events)
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert events[-1].data == {"result": {"path": "book.m4b"}}

    assert [e.seq for e in await backend.events(job.id, after=6)] == [7, 8, 9]
    assert [e.seq for e in await backend.events(job.id, after=2, limit=3)] == [3, 4, 5]
    assert await backend.events(job.id, after=9) == []
    assert await backend.events("no-such-job") == []


async def test_subscribe_to_one_job(backend: Backend) -> None:
    job = await add(backend, book("alice", 1))
    other = await add(backend, book("alice", 1))
    received: list[Event] = []
    consumer = await subscribed(backend, received, job.id, job_id=job.id)
    try:
        await backend.set_priority(other.id, 7)
        await backend.cancel(job.id)

        async def got_cancel() -> bool:
            return bool(received) and received[-1].type is EventType.CANCELLED

        await poll(got_cancel)
    finally:
        await stop(consumer)
    assert all(e.job_id == job.id for e in received)
    first = received[0].seq
    assert [e.seq for e in received] == list(range(first, first + len(received)))
    stored = await backend.events(job.id, after=first - 1)
    assert [(e.seq, e.type, e.data) for e in received] == [(e.seq, e.type, e.data) for e in stored]


async def test_subscribe_to_one_user(backend: Backend) -> None:
    mine = await add(backend, book("alice", 1))
    theirs = await add(backend, book("bob", 1))
    received: list[Event] = []
    consumer = await subscribed(backend, received, mine.id, user_id="alice")
    try:
        await backend.set_priority(theirs.id, 3)
        held = await claim(backend, limit=10)
        assert {t.job_id for t in held} == {mine.id, theirs.id}

        async def got_started() -> bool:
            return any(e.type is EventType.CHAPTER_STARTED for e in received)

        await poll(got_started)
    finally:
        await stop(consumer)
    assert {e.user_id for e in received} == {"alice"}
    assert {e.job_id for e in received} == {mine.id}
    assert received[-1].type is EventType.CHAPTER_STARTED
