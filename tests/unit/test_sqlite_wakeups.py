"""SQLite cannot push: wait_for_work polls the file's change counter. It must wake for
new work from another process, and not for the heartbeats every busy worker commits."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from ttsqueue.backends import BackendOptions, open_backend
from ttsqueue.models import Chapter, JobSpec

OPTIONS = BackendOptions(event_poll_s=0.02)


def book(user: str, chapters: int, *, cap: int = 2, run_at: float | None = None) -> JobSpec:
    return JobSpec(
        user_id=user,
        chapters=tuple(Chapter(f"c{i}", "text") for i in range(chapters)),
        max_concurrency=cap,
        run_at=run_at,
    )


async def test_heartbeats_do_not_wake_a_waiter_but_new_work_does(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    async with open_backend(url, OPTIONS) as busy, open_backend(url, OPTIONS) as idle:
        await busy.enqueue([book("ann", 2, cap=1)])
        (task,) = await busy.claim(worker_id="busy", limit=5, lease_s=60)  # ann is now capped
        waiter = asyncio.create_task(idle.wait_for_work(60))
        for _ in range(10):
            await busy.heartbeat([task.lease], lease_s=60, progress={task.lease.task_id: 0.1})
            await asyncio.sleep(0.03)
        assert not waiter.done(), "woke although nothing could be claimed"
        await busy.enqueue([book("bob", 1)])
        await asyncio.wait_for(waiter, 10)
        assert [t.user_id for t in await idle.claim(worker_id="idle", limit=5, lease_s=60)] == [
            "bob"
        ]


async def test_a_delayed_task_falling_due_wakes_a_waiter(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    async with open_backend(url, OPTIONS) as backend:
        due = time.time() + 0.3
        await backend.enqueue([book("ann", 1, run_at=due)])
        async with open_backend(url, OPTIONS) as waiter:
            await asyncio.wait_for(waiter.wait_for_work(60), 10)
        assert time.time() >= due
        assert len(await backend.claim(worker_id="w", limit=5, lease_s=60)) == 1
