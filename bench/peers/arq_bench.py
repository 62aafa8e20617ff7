"""arq (Redis) with a no-op job. Env: BENCH_REDIS_URL, BENCH_NAME (the queue name).
arq keeps job keys under ``arq:job:``/``arq:result:`` whatever the queue name, so the
bench gives it a Redis db number of its own."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker, func
from peer_common import main


def _settings() -> RedisSettings:
    return RedisSettings.from_dsn(os.environ["BENCH_REDIS_URL"])


class ArqPeer:
    default_concurrency = 10  # arq.Worker(max_jobs=10) is the default
    tuned_concurrency = 50

    def __init__(self) -> None:
        self.pool: Any = None
        self.name = os.environ["BENCH_NAME"]

    async def open(self) -> None:
        self.pool = await create_pool(_settings(), default_queue_name=self.name)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()
            self.pool = None

    async def enqueue_one(self, payload: dict[str, Any]) -> None:
        await self.pool.enqueue_job("noop", payload)

    async def enqueue_many(self, payloads: list[dict[str, Any]]) -> None:
        # arq has no batch insert: concurrent enqueues share the connection pool.
        await asyncio.gather(*(self.pool.enqueue_job("noop", p) for p in payloads))

    async def run_worker(
        self, concurrency: int, on_job: Callable[[dict[str, Any]], None], stop: asyncio.Event
    ) -> None:
        async def noop(ctx: Any, payload: dict[str, Any]) -> None:
            on_job(payload)

        worker = Worker(
            functions=[func(noop, name="noop")],
            redis_settings=_settings(),
            queue_name=self.name,
            max_jobs=concurrency,
            handle_signals=False,
            keep_result=0,
        )
        runner = asyncio.create_task(worker.async_run())
        await stop.wait()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await worker.close()

    async def pending(self) -> int:
        return int(await self.pool.zcard(self.name))


if __name__ == "__main__":
    main(ArqPeer())
