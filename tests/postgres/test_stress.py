"""Four worker processes drain 2,000 tasks: each completes exactly once, none is lost."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import pytest

from tests.postgres import workers
from tests.postgres.helpers import book
from tests.stores.postgres import url_for
from ttsqueue.backends.postgres import PostgresBackend
from ttsqueue.models import JobStatus, TaskStatus

PROCESSES = 4
JOBS = 200
CHAPTERS = 9  # + one assemble task per job: 2,000 tasks


@pytest.mark.slow
async def test_four_processes_complete_every_task_exactly_once(
    pg: PostgresBackend, schema: str
) -> None:
    specs = [book(f"user-{i % 7}", chapters=CHAPTERS, max_concurrency=50) for i in range(JOBS)]
    for start in range(0, JOBS, 50):
        await pg.enqueue(specs[start : start + 50])
    url = url_for(schema)
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(PROCESSES, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [
            loop.run_in_executor(pool, workers.run, url, 10, 30.0, 0.0) for _ in range(PROCESSES)
        ]
        results = await asyncio.wait_for(asyncio.gather(*futures), 100)
    completions = Counter(task for done in results for task in done)
    assert len(completions) == JOBS * (CHAPTERS + 1)
    assert set(completions.values()) == {1}
    assert sum(1 for done in results if done) >= 2  # the work was really shared
    stats = await pg.stats()
    assert stats.jobs[JobStatus.COMPLETED] == JOBS
    assert stats.tasks[TaskStatus.COMPLETED] == JOBS * (CHAPTERS + 1)
    for spec in specs[:5]:
        job = await pg.get(spec.id)
        assert job is not None and job.status is JobStatus.COMPLETED
        assert all(t.attempts == 1 for t in job.tasks)
