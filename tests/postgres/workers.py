"""A bare worker loop run in separate OS processes by the stress and restart tests:
claim a batch, 'run' it (no synthesis), complete it; retry with backoff while the
store is unavailable; stop when nothing is left unfinished."""

from __future__ import annotations

import asyncio
import os

from ttsqueue.backends import BackendOptions, open_backend
from ttsqueue.backends.base import Backend, Completion, StoreUnavailable

UNFINISHED = ("waiting", "pending", "running")


async def _open(url: str) -> Backend:
    delay = 0.1
    while True:
        backend = open_backend(url, BackendOptions())
        try:
            await backend.open()
            return backend
        except StoreUnavailable:
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)


async def work(url: str, *, batch: int, lease_s: float, task_s: float) -> list[str]:
    """Run until the queue is drained; return the ids of tasks this process completed."""
    backend = await _open(url)
    worker_id = f"stress-{os.getpid()}"
    done: list[str] = []
    delay = 0.05
    try:
        while True:
            try:
                claimed = await backend.claim(worker_id=worker_id, limit=batch, lease_s=lease_s)
                if not claimed:
                    stats = await backend.stats()
                    if sum(stats.tasks[s] for s in UNFINISHED) == 0:
                        return done
                    await backend.wait_for_work(0.5)
                    continue
                if task_s:
                    await asyncio.sleep(task_s * len(claimed))
                ok = await backend.complete(
                    [Completion(c.lease, {"path": c.lease.task_id}) for c in claimed]
                )
                done.extend(
                    c.lease.task_id for c, accepted in zip(claimed, ok, strict=True) if accepted
                )
                delay = 0.05
            except StoreUnavailable:
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)
    finally:
        await backend.close()


def run(url: str, batch: int, lease_s: float, task_s: float) -> list[str]:
    """Process entry point."""
    return asyncio.run(work(url, batch=batch, lease_s=lease_s, task_s=task_s))
