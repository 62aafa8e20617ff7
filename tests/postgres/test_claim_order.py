"""The set-based claim and completion of the PostgreSQL store, against the reference.

Random workloads (users with different caps, priorities, multi-chapter books, batches
of every size, heartbeats with progress, completions and releases between claims) run
on the memory backend and on PostgreSQL side by side: every claim must hand out the
same tasks in the same order, and every job must end with the same state and the same
event history.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.postgres.conftest import open_pg
from ttsqueue.backends import Backend, BackendOptions, open_backend
from ttsqueue.backends.base import Completion
from ttsqueue.models import Chapter, ClaimedTask, Job, JobSpec

LEASE_S = 60.0


def _spec(rng: random.Random, n: int, users: int) -> JobSpec:
    user = f"user-{rng.randrange(users)}"
    chapters = rng.randint(1, 3)
    return JobSpec(
        id=f"job-{n:04d}",
        user_id=user,
        chapters=tuple(
            Chapter(title=f"Chapter {i + 1}", text=f"Text {n}.{i}.") for i in range(chapters)
        ),
        title=f"Book {n}",
        priority=rng.choice((0, 0, 5, 10)),
        max_concurrency=rng.randint(1, 4),
    )


def _job_state(job: Job) -> dict[str, Any]:
    return {
        "status": job.status,
        "completed": job.completed_chapters,
        "progress": job.progress_percent,
        "message": job.progress_message,
        "current": job.current_chapter,
        "attempts": job.attempts,
        "result": job.result,
        "tasks": [(t.id, t.status, t.attempts, t.progress, t.result) for t in job.tasks],
    }


async def _history(backend: Backend, job_id: str) -> list[tuple[int, str, Any]]:
    return [(e.seq, e.type.value, e.data) for e in await backend.events(job_id)]


async def _drive(seed: int, backends: tuple[Backend, Backend], users: int) -> None:
    rng = random.Random(seed)
    held: list[list[ClaimedTask]] = [[], []]
    made = 0
    for _ in range(40):
        action = rng.random()
        if action < 0.3:
            specs = [_spec(rng, made + i, users) for i in range(rng.randint(1, 4))]
            made += len(specs)
            for b in backends:
                await b.enqueue(specs)
        elif action < 0.7:
            limit = rng.randint(1, 9)
            got = [await b.claim(worker_id="w", limit=limit, lease_s=LEASE_S) for b in backends]
            assert [t.lease.task_id for t in got[1]] == [t.lease.task_id for t in got[0]]
            for side in (0, 1):
                held[side].extend(got[side])
        elif action < 0.8 and held[0]:
            progress = {t.lease.task_id: rng.choice((0.25, 0.5, 1.0)) for t in held[0][::2]}
            beats = [
                await b.heartbeat([t.lease for t in held[side]], lease_s=LEASE_S, progress=progress)
                for side, b in enumerate(backends)
            ]
            assert beats[1] == beats[0]
        elif held[0]:
            picks = sorted(rng.sample(range(len(held[0])), rng.randint(1, len(held[0]))))
            release = rng.random() < 0.2
            outcomes = []
            for side, b in enumerate(backends):
                chosen = [held[side][i] for i in picks]
                held[side] = [t for i, t in enumerate(held[side]) if i not in picks]
                if release:
                    outcomes.append(await b.release([t.lease for t in chosen]))
                else:
                    results = [{"path": t.lease.task_id, "duration_s": 1.5} for t in chosen]
                    outcomes.append(
                        await b.complete(
                            [Completion(t.lease, r) for t, r in zip(chosen, results, strict=True)]
                        )
                    )
            assert outcomes[1] == outcomes[0]
    for n in range(made):
        job_id = f"job-{n:04d}"
        ref, pg = await backends[0].get(job_id), await backends[1].get(job_id)
        assert ref is not None and pg is not None
        assert _job_state(pg) == _job_state(ref), job_id
        assert await _history(backends[1], job_id) == await _history(backends[0], job_id)


@pytest.mark.parametrize("starve", [5, 3, 0])
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(
    "users", [5, 15], ids=["few-users", "more-users-than-a-batch"]
)  # the claim only ranks the first `limit` users' queues: both sides of that bound
async def test_claims_and_completions_match_the_reference(
    schema: str, starve: int, seed: int, users: int
) -> None:
    options = BackendOptions(starvation_every=starve)
    async with open_backend("memory://", options) as ref:
        pg = await open_pg(schema, options)
        try:
            await _drive(seed * 100 + starve + users, (ref, pg), users)
        finally:
            await pg.close()
