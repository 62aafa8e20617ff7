"""saq (Redis) with a no-op job. Env: BENCH_REDIS_URL, BENCH_NAME (the queue name,
so every key is ``saq:<name>:...``)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from peer_common import main
from saq import Queue, Worker


class SaqPeer:
    default_concurrency = 10  # saq.Worker(concurrency=10) is the default
    tuned_concurrency = 50

    def __init__(self) -> None:
        self.queue: Any = None

    def _queue(self) -> Any:
        return Queue.from_url(os.environ["BENCH_REDIS_URL"], name=os.environ["BENCH_NAME"])

    async def open(self) -> None:
        self.queue = self._queue()
        await self.queue.connect()

    async def close(self) -> None:
        if self.queue is not None:
            await self.queue.disconnect()
            self.queue = None

    async def enqueue_one(self, payload: dict[str, Any]) -> None:
        await self.queue.enqueue("noop", payload=payload)

    async def enqueue_many(self, payloads: list[dict[str, Any]]) -> None:
        # saq has no batch insert: concurrent enqueues share the connection pool.
        await asyncio.gather(*(self.queue.enqueue("noop", payload=p) for p in payloads))

    async def run_worker(
        self, concurrency: int, on_job: Callable[[dict[str, Any]], None], stop: asyncio.Event
    ) -> None:
        queue = self._queue()

        async def noop(ctx: Any, *, payload: dict[str, Any]) -> None:
            on_job(payload)

        worker = Worker(queue, functions=[("noop", noop)], concurrency=concurrency)
        runner = asyncio.create_task(worker.start())
        await stop.wait()
        await worker.stop()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await queue.disconnect()

    async def pending(self) -> int:
        return int(await self.queue.count("incomplete"))


if __name__ == "__main__":
    main(SaqPeer())
