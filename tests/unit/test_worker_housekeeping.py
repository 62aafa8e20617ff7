"""A worker's maintenance loop prunes finished jobs with their audio and collects the
files of no job, while it works."""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conformance.helpers import book, run_job
from ttsqueue.backends import open_backend
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage, write_atomic
from ttsqueue.worker import Worker


def aged(*paths: Path) -> None:
    old = time.time() - 7200  # past every age guard
    for path in paths:
        os.utime(path, (old, old))


async def test_maintenance_prunes_and_collects_while_the_worker_runs(tmp_path: Path) -> None:
    settings = Settings(
        database_url="memory://",
        data_dir=tmp_path,
        retention_days=0,
        reap_interval_s=0.05,
        gc_interval_s=0.1,
    )
    storage = Storage(settings.audio_dir)
    async with open_backend(settings.database_url) as backend:
        (done,) = await backend.enqueue([book("alice", 1)])
        await run_job(backend, done.job.id)
        write_atomic(storage.book_path(done.job.id, ".m4b"), lambda p: p.write_bytes(b"book"))
        orphan = storage.job_dir("job-of-no-store")
        write_atomic(orphan / "chapter-001.m4a", lambda p: p.write_bytes(b"aac"))
        debris = orphan.parent / done.job.id / ".chapter-002.0123abcd.tmp.m4a"
        debris.write_bytes(b"half")
        aged(orphan, orphan / "chapter-001.m4a", debris)

        with ThreadPoolExecutor(1) as pool:
            worker = Worker(backend, settings, concurrency=1, pool=pool, worker_id="w-gc")
            running = asyncio.create_task(worker.run())
            try:
                deadline = time.monotonic() + 30
                while any(storage.root.iterdir()):
                    assert time.monotonic() < deadline, list(storage.root.rglob("*"))
                    await asyncio.sleep(0.05)
            finally:
                worker.stop()
                await running
        assert await backend.get(done.job.id) is None
