"""A worker process for the stress test: claim in batches, complete, log what was
accepted; exit when nothing is left. Run as ``python -m tests.redis.stress_worker URL
WORKER_ID LOG [STALL_AFTER]``: with STALL_AFTER, once that many tasks are done it claims
one more batch, writes the ids to ``LOG.held`` and hangs (a worker frozen mid-task)."""

from __future__ import annotations

import asyncio
import sys

from ttsqueue.backends import BackendOptions, open_backend
from ttsqueue.backends.base import Completion

LEASE_S = 2.0
BATCH = 8


async def main(url: str, worker_id: str, log_path: str, stall_after: str = "0") -> None:
    stall, done_count = int(stall_after), 0
    async with open_backend(url, BackendOptions()) as backend:
        with open(log_path, "a", encoding="utf-8") as log:
            while True:
                tasks = await backend.claim(worker_id=worker_id, limit=BATCH, lease_s=LEASE_S)
                if stall and done_count >= stall and tasks:
                    with open(log_path + ".held", "w", encoding="utf-8") as held:
                        held.writelines(f"{t.lease.task_id}\n" for t in tasks)
                    await asyncio.sleep(3600)
                if not tasks:
                    stats = await backend.stats()
                    if not any(stats.tasks[s] for s in ("pending", "running", "waiting")):
                        return
                    await backend.wait_for_work(0.5)
                    continue
                done = await backend.complete(
                    [Completion(t.lease, {"path": t.lease.task_id}) for t in tasks]
                )
                log.writelines(
                    f"{t.lease.task_id}\n" for t, ok in zip(tasks, done, strict=True) if ok
                )
                log.flush()
                done_count += sum(done)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
