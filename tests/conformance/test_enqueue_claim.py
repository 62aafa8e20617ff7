"""Enqueue, and the order in which claim hands out tasks."""

from __future__ import annotations

import time

import pytest

from tests.conformance.helpers import add, book, claim, claim_one, finish, get, poll, task
from ttsqueue.backends.base import Backend, BackendOptions
from ttsqueue.models import ClaimedTask, EventType, JobStatus, TaskKind, TaskStatus, task_id

NO_STARVATION = pytest.mark.parametrize(
    "backend_options", [BackendOptions(starvation_every=0, event_poll_s=0.05)]
)


async def test_enqueue_creates_a_queued_job_with_its_tasks(backend: Backend) -> None:
    spec = book("alice", 3, priority=4, max_attempts=5, author="Ann Author")
    (result,) = await backend.enqueue([spec])
    assert result.created
    job = result.job
    assert job.id == spec.id
    assert (job.user_id, job.status, job.priority) == ("alice", JobStatus.QUEUED, 4)
    assert (job.title, job.author, job.voice, job.output_format) == (
        spec.title,
        "Ann Author",
        spec.voice,
        spec.output_format,
    )
    assert (job.total_chapters, job.completed_chapters, job.progress_percent) == (3, 0, 0.0)
    assert job.error is None and job.result is None and job.finished_at is None

    stored = await get(backend, job.id)
    assert [(t.id, t.index, t.kind, t.status) for t in stored.tasks] == [
        (task_id(job.id, 0), 0, TaskKind.SYNTHESIZE, TaskStatus.PENDING),
        (task_id(job.id, 1), 1, TaskKind.SYNTHESIZE, TaskStatus.PENDING),
        (task_id(job.id, 2), 2, TaskKind.SYNTHESIZE, TaskStatus.PENDING),
        (task_id(job.id, 3), 3, TaskKind.ASSEMBLE, TaskStatus.WAITING),
    ]
    assert [t.title for t in stored.tasks[:3]] == ["Chapter 1", "Chapter 2", "Chapter 3"]
    assert all(t.attempts == 0 and t.max_attempts == 5 for t in stored.tasks)

    (event,) = await backend.events(job.id)
    assert (event.seq, event.type, event.job_id, event.user_id) == (
        1,
        EventType.QUEUED,
        job.id,
        "alice",
    )
    assert event.data == {"priority": 4, "total_chapters": 3}


async def test_batch_enqueue_returns_results_in_input_order(backend: Backend) -> None:
    specs = [book("alice", 1), book("bob", 2), book("alice", 3)]
    results = await backend.enqueue(specs)
    assert [r.job.id for r in results] == [s.id for s in specs]
    assert [r.job.total_chapters for r in results] == [1, 2, 3]
    assert all(r.created for r in results)


async def test_claim_leases_a_task_with_its_payload(backend: Backend) -> None:
    spec = book("alice", 2, max_attempts=4, output_format="mp3")
    job = await add(backend, spec)
    before = time.time()
    claimed = await claim_one(backend, worker="w-7", lease_s=30)

    assert claimed.job_id == job.id and claimed.user_id == "alice"
    assert (claimed.kind, claimed.index, claimed.attempt, claimed.max_attempts) == (
        TaskKind.SYNTHESIZE,
        0,
        1,
        4,
    )
    assert claimed.lease.task_id == task_id(job.id, 0)
    assert before + 29 <= claimed.lease_expires_at <= time.time() + 31
    assert claimed.payload == {
        "title": "Chapter 1",
        "text": "The text of chapter 1.",
        "voice": spec.voice.to_dict(),
        "output_format": "mp3",
    }

    job = await get(backend, job.id)
    assert job.status is JobStatus.PROCESSING
    assert job.started_at is not None
    assert job.current_chapter == 1
    assert job.progress_message == "Chapter 1 of 2: Chapter 1"
    t0 = task(job, 0)
    assert (t0.status, t0.attempts, t0.worker_id) == (TaskStatus.RUNNING, 1, "w-7")
    assert t0.started_at is not None
    assert task(job, 1).status is TaskStatus.PENDING

    types = [e.type for e in await backend.events(job.id)]
    assert types == [EventType.QUEUED, EventType.PROCESSING, EventType.CHAPTER_STARTED]
    started = (await backend.events(job.id, after=2))[0]
    assert started.data == {"index": 0, "title": "Chapter 1", "attempt": 1, "worker_id": "w-7"}


async def test_claim_respects_limit_and_returns_nothing_when_idle(backend: Backend) -> None:
    assert await claim(backend) == []
    await add(backend, book("alice", 5))
    first = await claim(backend, limit=2)
    second = await claim(backend, limit=10)
    assert len(first) == 2 and len(second) == 3
    ids = [t.lease.task_id for t in first + second]
    assert len(set(ids)) == 5
    assert await claim(backend, limit=10) == []  # the assemble task waits for the chapters


async def test_assemble_payload_describes_the_book(backend: Backend) -> None:
    job = await add(backend, book("alice", 2, author="Ann", output_format="m4b"))
    for t in await claim(backend):
        await finish(backend, t)
    assembled = await claim_one(backend)
    assert (assembled.kind, assembled.index, assembled.job_id) == (TaskKind.ASSEMBLE, 2, job.id)
    assert assembled.payload == {
        "title": job.title,
        "author": "Ann",
        "output_format": "m4b",
        "chapter_titles": ["Chapter 1", "Chapter 2"],
    }


@NO_STARVATION
async def test_higher_priority_is_claimed_first(backend: Backend) -> None:
    low = await add(backend, book("alice", 1, priority=0))
    high = await add(backend, book("bob", 1, priority=9))
    mid = await add(backend, book("carol", 1, priority=5))
    order = [(await claim_one(backend)).job_id for _ in range(3)]
    assert order == [high.id, mid.id, low.id]


@NO_STARVATION
async def test_fifo_within_one_priority(backend: Backend) -> None:
    jobs = [await add(backend, book("alice", 2)) for _ in range(3)]
    order = [(await claim_one(backend)).lease.task_id for _ in range(6)]
    assert order == [task_id(j.id, i) for j in jobs for i in range(2)]


async def test_fifo_within_one_priority_in_a_single_claim(backend: Backend) -> None:
    jobs = [await add(backend, book("alice", 2)) for _ in range(2)]
    order = [t.lease.task_id for t in await claim(backend, limit=4)]
    assert order == [task_id(j.id, i) for j in jobs for i in range(2)]


async def test_a_single_chapter_is_not_stuck_behind_a_big_backlog(backend: Backend) -> None:
    big = await add(backend, book("alice", 10))
    small = await add(backend, book("bob", 1))
    first_two = await claim(backend, limit=2)
    assert {t.job_id for t in first_two} == {big.id, small.id}


@NO_STARVATION
async def test_round_robin_between_users(backend: Backend) -> None:
    for user in ("alice", "bob", "carol"):
        await add(backend, book(user, 3))
    users = [t.user_id for t in await claim(backend, limit=9)]
    assert users == ["alice", "bob", "carol"] * 3


@NO_STARVATION
async def test_round_robin_remembers_who_was_served_across_claims(backend: Backend) -> None:
    await add(backend, book("alice", 4))
    assert (await claim_one(backend)).user_id == "alice"
    await add(backend, book("bob", 4))
    # bob was never served, alice just was: bob goes first although alice's work is older
    assert [(await claim_one(backend)).user_id for _ in range(4)] == [
        "bob",
        "alice",
        "bob",
        "alice",
    ]


@NO_STARVATION
async def test_priority_outranks_fairness(backend: Backend) -> None:
    await add(backend, book("alice", 1, priority=0))
    await add(backend, book("bob", 3, priority=5))
    assert [t.user_id for t in await claim(backend, limit=4)] == ["bob", "bob", "bob", "alice"]


@pytest.mark.parametrize("backend_options", [BackendOptions(starvation_every=5)])
async def test_lower_priority_gets_one_slot_in_five(backend: Backend) -> None:
    low = await add(backend, book("free-user", 30, priority=0))
    await add(backend, book("premium", 1, priority=10))
    picks = []
    for _ in range(20):
        await add(backend, book("premium", 1, priority=10))  # higher priority keeps arriving
        claimed = await claim_one(backend)
        picks.append(claimed.job_id == low.id)
        await finish(backend, claimed)
    assert [i for i, is_low in enumerate(picks, start=1) if is_low] == [5, 10, 15, 20]


@NO_STARVATION
async def test_without_starvation_slots_priority_is_strict(backend: Backend) -> None:
    low = await add(backend, book("free-user", 5, priority=0))
    for _ in range(12):
        await add(backend, book("premium", 1, priority=10))
        claimed = await claim_one(backend)
        assert claimed.job_id != low.id
        await finish(backend, claimed)


async def test_per_user_concurrency_cap(backend: Backend) -> None:
    await add(backend, book("alice", 5, max_concurrency=2))
    first = await claim(backend, limit=5)
    assert len(first) == 2
    assert await claim(backend, limit=5) == []
    await finish(backend, first[0])
    (third,) = await claim(backend, limit=5)  # completing freed exactly one slot
    assert third.lease.task_id not in {t.lease.task_id for t in first}
    assert await claim(backend, limit=5) == []


async def test_the_cap_does_not_hold_back_other_users(backend: Backend) -> None:
    await add(backend, book("alice", 5, max_concurrency=1))
    await add(backend, book("bob", 3, max_concurrency=3))
    claimed = await claim(backend, limit=10)
    assert sorted(t.user_id for t in claimed) == ["alice", "bob", "bob", "bob"]


async def test_the_cap_comes_from_the_most_recent_job(backend: Backend) -> None:
    await add(backend, book("alice", 4, max_concurrency=1))
    await add(backend, book("alice", 4, max_concurrency=3))
    assert len(await claim(backend, limit=10)) == 3
    await add(backend, book("alice", 1, max_concurrency=1))
    assert await claim(backend, limit=10) == []  # 3 running, cap now 1


async def test_delayed_job_is_scheduled_until_run_at(backend: Backend) -> None:
    # A job due in an hour: the checks before run_at hold however slow the machine is.
    far_at = time.time() + 3600
    far = await add(backend, book("bob", 1, run_at=far_at))
    assert far.status is JobStatus.SCHEDULED
    assert far.run_at == pytest.approx(far_at, abs=1e-3)
    (event,) = await backend.events(far.id)
    assert event.type is EventType.SCHEDULED
    assert event.data["run_at"] == pytest.approx(far_at, abs=1e-3)
    assert await claim(backend) == []
    assert (await backend.reap()).requeued == 0
    assert (await get(backend, far.id)).status is JobStatus.SCHEDULED

    # A job due soon is queued once its time has come.
    run_at = time.time() + 0.3
    job = await add(backend, book("alice", 1, run_at=run_at))
    assert job.status is JobStatus.SCHEDULED

    async def due() -> bool:
        return time.time() > run_at + 0.05

    await poll(due)
    await backend.reap()
    job = await get(backend, job.id)
    assert job.status is JobStatus.QUEUED
    assert [e.type for e in await backend.events(job.id)] == [
        EventType.SCHEDULED,
        EventType.QUEUED,
    ]
    assert (await claim_one(backend)).job_id == job.id
    assert (await get(backend, far.id)).status is JobStatus.SCHEDULED


async def test_delayed_task_becomes_claimable_without_reap(backend: Backend) -> None:
    job = await add(backend, book("alice", 1, run_at=time.time() + 0.3))

    async def claimed() -> list[ClaimedTask]:
        return await claim(backend)

    (got,) = await poll(claimed)
    assert got.job_id == job.id
    assert (await get(backend, job.id)).status is JobStatus.PROCESSING


async def test_run_at_in_the_past_is_queued_at_once(backend: Backend) -> None:
    job = await add(backend, book("alice", 1, run_at=time.time() - 60))
    assert job.status is JobStatus.QUEUED
    assert (await claim_one(backend)).job_id == job.id
