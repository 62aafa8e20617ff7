"""Queue-path throughput of one store: the real Worker with a no-op handler, in-process.

    python -m bench.worker_throughput URL JOBS CONCURRENCY

Enqueues JOBS one-chapter books (2 tasks each) from 50 users, then times the Worker
until every task is completed. Used for quick before/after comparisons of a store's hot
path; `make bench` is the full, side-by-side measurement. A PostgreSQL schema or Redis
prefix named in URL is left behind: use a throwaway one and drop it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.ours import TASKS_PER_JOB, facade, make_specs, noop_handler, settings_for
from ttsqueue.backends import open_backend
from ttsqueue.worker import Worker

BATCH = 500


async def measure(url: str, jobs: int, concurrency: int) -> float:
    settings = settings_for(url, Path(tempfile.mkdtemp()), concurrency)
    async with open_backend(url, settings.backend_options) as backend:
        specs = make_specs(facade(backend, settings), jobs)
        for i in range(0, jobs, BATCH):
            await backend.enqueue(specs[i : i + BATCH])
        worker = Worker(backend, settings, concurrency=concurrency, handler=noop_handler)
        tasks = jobs * TASKS_PER_JOB
        started = time.perf_counter()
        runner = asyncio.create_task(worker.run())
        while worker.completed < tasks:
            if runner.done():
                runner.result()
                raise RuntimeError(f"worker ended after {worker.completed} of {tasks} tasks")
            await asyncio.sleep(0.002)
        elapsed = time.perf_counter() - started
        worker.stop()
        await runner
    return tasks / elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("url")
    p.add_argument("jobs", type=int)
    p.add_argument("concurrency", type=int)
    args = p.parse_args()
    per_s = asyncio.run(measure(args.url, args.jobs, args.concurrency))
    print(f"{args.url.split(':')[0]} concurrency {args.concurrency}: {per_s:,.0f} tasks/s")


if __name__ == "__main__":
    main()
