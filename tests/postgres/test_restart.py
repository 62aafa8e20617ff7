"""PostgreSQL restarts while workers are busy: they reconnect and finish the work."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import subprocess
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from tests.postgres import workers
from tests.postgres.helpers import book
from tests.stores import missing
from tests.stores.postgres import url_for
from ttsqueue.backends.base import StoreUnavailable
from ttsqueue.backends.postgres import PostgresBackend
from ttsqueue.models import JobStatus, QueueStats, TaskStatus

JOBS = 40
CHAPTERS = 9


def restart_postgres() -> None:
    versions = sorted(os.listdir("/etc/postgresql"))
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"],
        check=True,
        capture_output=True,
        timeout=60,
    )


async def stats_when_up(pg: PostgresBackend, deadline: float) -> QueueStats:
    while True:
        try:
            return await pg.stats()
        except StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_workers_finish_after_postgres_restarts_mid_processing(
    pg: PostgresBackend, schema: str
) -> None:
    if shutil.which("pg_ctlcluster") is None or not Path("/etc/postgresql").is_dir():
        missing("pg_ctlcluster is not available to restart PostgreSQL")
    specs = [book(f"user-{i % 3}", chapters=CHAPTERS, max_concurrency=50) for i in range(JOBS)]
    await pg.enqueue(specs)
    total = JOBS * (CHAPTERS + 1)
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + 100
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [
            loop.run_in_executor(pool, workers.run, url_for(schema), 5, 3.0, 0.01) for _ in range(2)
        ]
        while (await stats_when_up(pg, deadline)).tasks[TaskStatus.COMPLETED] < total // 5:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        await asyncio.to_thread(restart_postgres)
        results = await asyncio.wait_for(asyncio.gather(*futures), deadline - time.monotonic())
    completions = Counter(task for done in results for task in done)
    assert set(completions.values()) == {1}  # no task was accepted twice
    stats = await stats_when_up(pg, time.monotonic() + 20)
    assert stats.jobs[JobStatus.COMPLETED] == JOBS
    assert stats.tasks[TaskStatus.COMPLETED] == total
    # the backend that lived through the restart works normally again
    (again,) = await pg.enqueue([book("after", chapters=1)])
    assert again.created
