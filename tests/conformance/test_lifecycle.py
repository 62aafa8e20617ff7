"""A job's life: chapters, assembly, retries, failure, release, cancel, retry, priority."""

from __future__ import annotations

import time

import pytest

from tests.conformance.helpers import (
    add,
    assemble_task,
    book,
    claim,
    claim_one,
    finish,
    get,
    poll,
    run_job,
    task,
)
from ttsqueue.backends.base import Backend, Completion, InvalidTransition, JobNotFound
from ttsqueue.models import ClaimedTask, EventType, JobStatus, TaskKind, TaskStatus


async def test_assemble_runs_only_after_the_last_chapter(backend: Backend) -> None:
    job = await add(backend, book("alice", 3))
    chapters = await claim(backend, limit=10)
    assert [t.kind for t in chapters] == [TaskKind.SYNTHESIZE] * 3
    await finish(backend, chapters[0], duration_s=2.0)
    await finish(backend, chapters[1], duration_s=2.0)
    job = await get(backend, job.id)
    assert (job.status, job.completed_chapters) == (JobStatus.PROCESSING, 2)
    assert job.progress_percent == pytest.approx(66.7)
    assert assemble_task(job).status is TaskStatus.WAITING
    assert await claim(backend) == []

    await finish(backend, chapters[2], duration_s=2.0)
    job = await get(backend, job.id)
    assert job.status is JobStatus.ASSEMBLING
    assert (job.completed_chapters, job.progress_percent) == (3, 99.0)
    assert job.progress_message == "Assembling audiobook"
    assert assemble_task(job).status is TaskStatus.PENDING

    assembling = await claim_one(backend)
    assert assembling.kind is TaskKind.ASSEMBLE
    assert (await get(backend, job.id)).status is JobStatus.ASSEMBLING
    book_file = {"path": "book.m4b", "duration_s": 6.0}
    assert await backend.complete([Completion(assembling.lease, book_file)]) == [True]

    job = await get(backend, job.id)
    assert job.status is JobStatus.COMPLETED
    assert (job.progress_percent, job.progress_message) == (100.0, "Completed")
    assert job.result == book_file
    assert job.finished_at is not None and job.error is None
    assert all(t.status is TaskStatus.COMPLETED for t in job.tasks)
    assert [e.type for e in await backend.events(job.id)][-2:] == [
        EventType.ASSEMBLING,
        EventType.COMPLETED,
    ]
    assert (await backend.events(job.id))[-1].data == {"result": book_file}


async def test_completion_stores_the_chapter_result(backend: Backend) -> None:
    job = await add(backend, book("alice", 2))
    a, b = await claim(backend, limit=2)
    assert await backend.complete(
        [
            Completion(a.lease, {"path": "1.wav", "duration_s": 3.5}),
            Completion(b.lease, {"path": "2.wav"}),
        ]
    ) == [True, True]
    job = await get(backend, job.id)
    assert task(job, 0).result == {"path": "1.wav", "duration_s": 3.5}
    assert task(job, 0).finished_at is not None
    done = [e.data for e in await backend.events(job.id) if e.type is EventType.CHAPTER_COMPLETED]
    assert done == [
        {"index": 0, "title": "Chapter 1", "duration_s": 3.5},
        {"index": 1, "title": "Chapter 2"},
    ]


async def fail_and_reclaim(backend: Backend, held: ClaimedTask, error: str) -> ClaimedTask:
    retry_at = time.time() + 0.3
    assert await backend.fail(held.lease, error=error, retry_at=retry_at)

    async def again() -> list[ClaimedTask]:
        return await claim(backend)

    (claimed,) = await poll(again)
    assert time.time() >= retry_at - 0.01, "claimed before its retry_at"
    return claimed


async def test_failed_runs_retry_until_max_attempts(backend: Backend) -> None:
    job = await add(backend, book("alice", 2, max_attempts=3))
    held, other = await claim(backend, limit=2)
    retry_at = time.time() + 30
    assert await backend.fail(held.lease, error="engine crashed", retry_at=retry_at)
    t0 = task(await get(backend, job.id), 0)
    assert (t0.status, t0.attempts, t0.error) == (TaskStatus.PENDING, 1, "engine crashed")
    retrying = (await backend.events(job.id))[-1]
    assert retrying.type is EventType.TASK_RETRYING
    assert retrying.data["index"] == 0 and retrying.data["attempt"] == 1
    assert retrying.data["error"] == "engine crashed"
    assert retrying.data["retry_at"] == pytest.approx(retry_at, abs=1e-3)
    assert await claim(backend) == []  # not before retry_at
    assert await backend.release([other.lease]) == 1


async def test_the_last_attempt_fails_the_job(backend: Backend) -> None:
    job = await add(backend, book("alice", 3, max_attempts=3))
    first, sibling, third = await claim(backend, limit=3)
    held = await fail_and_reclaim(backend, first, "error 1")
    assert (held.lease.task_id, held.attempt) == (first.lease.task_id, 2)
    held = await fail_and_reclaim(backend, held, "error 2")
    assert held.attempt == 3
    assert (await get(backend, job.id)).attempts == 5  # every run of every task
    assert await backend.fail(held.lease, error="error 3", retry_at=time.time())

    job = await get(backend, job.id)
    assert (job.status, job.error) == (JobStatus.FAILED, "error 3")
    assert job.finished_at is not None
    assert task(job, 0).status is TaskStatus.FAILED and task(job, 0).error == "error 3"
    assert [t.status for t in job.tasks[1:]] == [TaskStatus.CANCELLED] * 3
    last = (await backend.events(job.id))[-1]
    assert (last.type, last.data) == (EventType.FAILED, {"error": "error 3", "index": 0})

    # the sibling still running learns it must stop, and may not write its result
    beat = await backend.heartbeat([sibling.lease, third.lease], lease_s=30)
    assert beat.cancelled == {sibling.lease.task_id, third.lease.task_id}
    assert not beat.extended and not beat.lost
    assert await backend.complete([Completion(sibling.lease, {"path": "x"})]) == [False]
    assert await claim(backend) == []


async def test_fail_without_retry_at_fails_the_job_at_once(backend: Backend) -> None:
    job = await add(backend, book("alice", 1, max_attempts=5))
    held = await claim_one(backend)
    assert await backend.fail(held.lease, error="bad text", retry_at=None)
    job = await get(backend, job.id)
    assert (job.status, job.error) == (JobStatus.FAILED, "bad text")


async def test_release_spends_no_attempt(backend: Backend) -> None:
    job = await add(backend, book("alice", 1, max_attempts=1))
    held = await claim_one(backend, worker="w1")
    assert await backend.release([held.lease]) == 1
    assert await backend.release([held.lease]) == 0  # already released
    t0 = task(await get(backend, job.id), 0)
    assert (t0.status, t0.attempts) == (TaskStatus.PENDING, 0)
    released = (await backend.events(job.id))[-1]
    assert (released.type, released.data) == (EventType.TASK_RELEASED, {"index": 0})

    again = await claim_one(backend, worker="w2")
    assert (again.attempt, again.lease.token) == (1, held.lease.token + 1)
    await finish(backend, again)


async def test_release_until_holds_the_task_back_without_spending_an_attempt(
    backend: Backend,
) -> None:
    """An engine that answers "retry after": the task waits, and no attempt is spent."""
    job = await add(backend, book("alice", 1, max_attempts=1))
    held = await claim_one(backend, worker="w1")
    run_at = time.time() + 0.5
    assert await backend.release([held.lease], run_at=run_at) == 1
    t0 = task(await get(backend, job.id), 0)
    assert (t0.status, t0.attempts) == (TaskStatus.PENDING, 0)
    assert (await backend.events(job.id))[-1].type is EventType.TASK_RELEASED
    assert await claim(backend) == []  # not before run_at

    async def again() -> list[ClaimedTask]:
        return await claim(backend, worker="w2")

    (claimed,) = await poll(again)
    assert time.time() >= run_at - 0.01, "claimed before its run_at"
    assert (claimed.attempt, claimed.lease.token) == (1, held.lease.token + 1)

    # a stale holder's release (with or without a time) changes nothing
    assert await backend.release([held.lease], run_at=time.time() + 3600) == 0
    beat = await backend.heartbeat([claimed.lease], lease_s=30)
    assert beat.extended == {claimed.lease.task_id}
    await finish(backend, claimed)
    assert (await get(backend, job.id)).status is JobStatus.ASSEMBLING


async def test_cancel_stops_pending_and_running_tasks(backend: Backend) -> None:
    job = await add(backend, book("alice", 3))
    running = await claim_one(backend)
    cancelled = await backend.cancel(job.id, user_id="alice")
    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.finished_at is not None
    job = await get(backend, job.id)
    assert job.status is JobStatus.CANCELLED
    assert all(t.status is TaskStatus.CANCELLED for t in job.tasks)
    assert (await backend.events(job.id))[-1].type is EventType.CANCELLED

    assert await claim(backend) == []
    beat = await backend.heartbeat([running.lease], lease_s=30)
    assert beat.cancelled == {running.lease.task_id}
    assert not beat.extended and not beat.lost
    assert await backend.complete([Completion(running.lease, {"path": "x"})]) == [False]
    assert await backend.fail(running.lease, error="x", retry_at=None) is False


async def test_cancel_refuses_finished_jobs_and_strangers(backend: Backend) -> None:
    job = await add(backend, book("alice", 1))
    with pytest.raises(JobNotFound):
        await backend.cancel(job.id, user_id="mallory")
    with pytest.raises(JobNotFound):
        await backend.cancel("no-such-job")
    assert (await get(backend, job.id)).status is JobStatus.QUEUED

    await run_job(backend, job.id)
    with pytest.raises(InvalidTransition) as info:
        await backend.cancel(job.id, user_id="alice")
    assert info.value.job.status is JobStatus.COMPLETED

    other = await add(backend, book("alice", 1))
    await backend.cancel(other.id)  # an admin (no user) may cancel anyone's job
    with pytest.raises(InvalidTransition):
        await backend.cancel(other.id)


async def test_retry_redoes_only_unfinished_chapters(backend: Backend) -> None:
    job = await add(backend, book("alice", 3, max_attempts=2))
    first, second = await claim(backend, limit=2)
    await finish(backend, first, duration_s=1.0)
    assert await backend.fail(second.lease, error="boom", retry_at=None)
    assert (await get(backend, job.id)).status is JobStatus.FAILED

    retried = await backend.retry(job.id, user_id="alice")
    assert (retried.status, retried.error, retried.finished_at) == (JobStatus.QUEUED, None, None)
    job = await get(backend, job.id)
    assert task(job, 0).status is TaskStatus.COMPLETED
    assert task(job, 0).result == {"duration_s": 1.0}
    for index in (1, 2):
        info = task(job, index)
        assert (info.status, info.attempts, info.error) == (TaskStatus.PENDING, 0, None)
    assert assemble_task(job).status is TaskStatus.WAITING
    assert (await backend.events(job.id))[-1].type is EventType.RETRIED

    redone = await claim(backend, limit=10)
    assert sorted(t.index for t in redone) == [1, 2]
    assert all(t.attempt == 1 for t in redone)
    for t in redone:
        await finish(backend, t)
    job = await run_job(backend, job.id)
    assert (job.status, job.completed_chapters) == (JobStatus.COMPLETED, 3)


async def test_retry_after_cancel_during_assembly_runs_only_the_assembly(
    backend: Backend,
) -> None:
    job = await add(backend, book("alice", 2))
    for t in await claim(backend):
        await finish(backend, t)
    await backend.cancel(job.id)
    await backend.retry(job.id)
    job = await get(backend, job.id)
    assert job.status is JobStatus.QUEUED
    assert assemble_task(job).status is TaskStatus.PENDING
    assert (await claim_one(backend)).kind is TaskKind.ASSEMBLE


async def test_retry_refuses_unfinished_jobs_and_strangers(backend: Backend) -> None:
    done = await add(backend, book("alice", 1))
    await run_job(backend, done.id)
    with pytest.raises(InvalidTransition) as info:
        await backend.retry(done.id)
    assert info.value.job.status is JobStatus.COMPLETED
    job = await add(backend, book("alice", 1))
    with pytest.raises(InvalidTransition):
        await backend.retry(job.id)
    await backend.cancel(job.id)
    with pytest.raises(JobNotFound):
        await backend.retry(job.id, user_id="mallory")
    with pytest.raises(JobNotFound):
        await backend.retry("no-such-job")
    assert (await get(backend, job.id)).status is JobStatus.CANCELLED


async def test_set_priority_changes_claim_order(backend: Backend) -> None:
    low = await add(backend, book("alice", 1, priority=1))
    high = await add(backend, book("bob", 1, priority=5))
    changed = await backend.set_priority(low.id, 9)
    assert changed.priority == 9
    assert (await get(backend, low.id)).priority == 9
    event = (await backend.events(low.id))[-1]
    assert (event.type, event.data) == (EventType.PRIORITY_CHANGED, {"priority": 9})
    assert (await claim_one(backend)).job_id == low.id
    assert (await claim_one(backend)).job_id == high.id

    with pytest.raises(JobNotFound):
        await backend.set_priority("no-such-job", 3)
    await backend.cancel(high.id)
    with pytest.raises(InvalidTransition):
        await backend.set_priority(high.id, 3)
