"""Many claimers and producers at once: each task is held by one worker at a time."""

from __future__ import annotations

import asyncio

from tests.conformance.helpers import book, drain, get
from ttsqueue.backends.base import Backend, Completion
from ttsqueue.models import JobStatus, TaskKind, TaskStatus


async def test_concurrent_claimers_never_share_a_task(backend: Backend) -> None:
    specs = [book(f"user-{i % 4}", 3) for i in range(20)]  # 60 chapters
    await backend.enqueue(specs)
    claims = await drain([backend], specs, claimers=8, limit=3)
    assert set(claims.values()) == {1}
    for spec in specs:
        job = await get(backend, spec.id)
        assert job.status is JobStatus.COMPLETED
        assert job.result is not None and job.result["kind"] == TaskKind.ASSEMBLE.value
    stats = await backend.stats()
    assert stats.jobs[JobStatus.COMPLETED] == len(specs)
    assert stats.tasks["completed"] == len(claims)


async def test_concurrent_enqueues_with_one_idempotency_key(backend: Backend) -> None:
    results = await asyncio.gather(
        *(backend.enqueue([book("alice", 2, idempotency_key="same")]) for _ in range(8))
    )
    flat = [r for batch in results for r in batch]
    assert sum(r.created for r in flat) == 1
    assert len({r.job.id for r in flat}) == 1
    assert (await backend.stats()).jobs[JobStatus.QUEUED] == 1


async def test_concurrent_cancel_and_complete_agree(backend: Backend) -> None:
    specs = [book("alice", 1) for _ in range(6)]
    await backend.enqueue(specs)
    claimed = await backend.claim(worker_id="w", limit=10, lease_s=60)
    assert len(claimed) == 6

    async def cancel(job_id: str) -> None:
        await backend.cancel(job_id)

    completing = backend.complete([Completion(t.lease, {"path": "x"}) for t in claimed])
    completed, *_ = await asyncio.gather(completing, *(cancel(s.id) for s in specs))
    assert isinstance(completed, list) and len(completed) == 6
    by_job = {t.job_id: ok for t, ok in zip(claimed, completed, strict=True)}
    for spec in specs:
        job = await get(backend, spec.id)
        assert job.status is JobStatus.CANCELLED
        chapter = job.tasks[0]
        if by_job[spec.id]:
            assert (chapter.status, job.completed_chapters) == (TaskStatus.COMPLETED, 1)
            assert chapter.result == {"path": "x"}
        else:
            assert (chapter.status, job.completed_chapters) == (TaskStatus.CANCELLED, 0)
            assert chapter.result is None
