"""Four real worker processes drain 2,000 tasks; one freezes holding a batch and is
killed. Every task is completed exactly once and none is lost: the frozen batch is taken
over once its leases expire."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conformance.helpers import book
from tests.redis.conftest import backend_url
from ttsqueue.backends import BackendOptions, open_backend

pytestmark = pytest.mark.slow

WORKERS = 4
JOBS = 200
CHAPTERS = 9  # 200 jobs x (9 chapters + 1 assembly) = 2,000 tasks
ROOT = Path(__file__).resolve().parents[2]


def logged(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


async def test_four_processes_complete_every_task_exactly_once(prefix: str, tmp_path: Path) -> None:
    url = backend_url(prefix)
    async with open_backend(url, BackendOptions()) as backend:
        specs = [book(f"user-{i % 7}", CHAPTERS, max_concurrency=50) for i in range(JOBS)]
        for start in range(0, JOBS, 50):
            await backend.enqueue(specs[start : start + 50])
        every = {f"{s.id}.{i}" for s in specs for i in range(CHAPTERS + 1)}
        assert len(every) == 2000

        logs = [tmp_path / f"w{n}.log" for n in range(WORKERS)]
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.redis.stress_worker",
                url,
                f"w{n}",
                str(log),
                "40" if n == 0 else "0",
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            for n, log in enumerate(logs)
        ]
        try:
            # Worker 0 freezes holding a batch; kill it hard: others must take it over.
            held_log = Path(f"{logs[0]}.held")
            deadline = time.monotonic() + 60
            while not logged(held_log) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            held = logged(held_log)
            assert held, "worker 0 never froze"
            procs[0].send_signal(signal.SIGKILL)
            codes = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), 100)
        finally:
            for p in procs:
                if p.returncode is None:
                    p.kill()
                    await p.wait()
        assert codes[0] == -signal.SIGKILL
        assert codes[1:] == [0] * (WORKERS - 1)

        accepted = Counter(t for log in logs for t in logged(log))
        assert max(accepted.values()) == 1, "a task was completed twice"
        assert set(accepted) <= every
        stats = await backend.stats()
        assert stats.tasks["completed"] == 2000
        assert stats.jobs["completed"] == JOBS
        assert set(accepted) == every, "a completion was lost"
        for task_id in held:
            job = await backend.get(task_id.rsplit(".", 1)[0])
            assert job is not None
            (task,) = [t for t in job.tasks if t.id == task_id]
            assert task.attempts == 2 and task.worker_id != "w0"
