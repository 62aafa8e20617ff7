"""pgqueuer (PostgreSQL) with a no-op job. Env: BENCH_PG_DSN; PGQUEUER_SCHEMA and
PGQUEUER_PREFIX keep its objects and channel in a scratch schema."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from typing import Any

import asyncpg
from peer_common import main
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import Job
from pgqueuer.qm import QueueManager
from pgqueuer.queries import Queries


class PgqueuerPeer:
    default_concurrency = 10  # QueueManager.run(batch_size=10) is the default
    tuned_concurrency = 100

    def __init__(self) -> None:
        self.conn: Any = None
        self.q: Queries | None = None

    async def open(self) -> None:
        self.conn = await asyncpg.connect(os.environ["BENCH_PG_DSN"])
        self.q = Queries(AsyncpgDriver(self.conn))
        if not await self.q.schema_is_installed():
            await self.q.install()

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()
            self.conn = None

    async def enqueue_one(self, payload: dict[str, Any]) -> None:
        assert self.q is not None
        await self.q.enqueue("noop", json.dumps(payload).encode())

    async def enqueue_many(self, payloads: list[dict[str, Any]]) -> None:
        assert self.q is not None
        await self.q.enqueue(
            ["noop"] * len(payloads),
            [json.dumps(p).encode() for p in payloads],
            [0] * len(payloads),
        )

    async def run_worker(
        self, concurrency: int, on_job: Callable[[dict[str, Any]], None], stop: asyncio.Event
    ) -> None:
        conn = await asyncpg.connect(os.environ["BENCH_PG_DSN"])
        qm = QueueManager(Queries(AsyncpgDriver(conn)))

        @qm.entrypoint("noop")
        async def noop(job: Job) -> None:
            on_job(json.loads(job.payload or b"{}"))

        async def stopper() -> None:
            await stop.wait()
            qm.shutdown.set()

        watcher = asyncio.create_task(stopper())
        try:
            await qm.run(batch_size=concurrency)
        finally:
            watcher.cancel()
            await conn.close()

    async def pending(self) -> int:
        assert self.q is not None
        return sum(s.count for s in await self.q.queue_size())


if __name__ == "__main__":
    main(PgqueuerPeer())
