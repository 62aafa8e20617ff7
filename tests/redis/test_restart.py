"""A private redis-server, restarted empty under a running backend: the backend keeps
working, says what happened and re-initialises (docs/redis.md)."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conformance.helpers import add, book, claim, poll, run_job
from tests.skips import need_program
from ttsqueue.backends import BackendOptions, open_backend
from ttsqueue.backends.base import StoreUnavailable
from ttsqueue.backends.redis import RedisBackend
from ttsqueue.models import Event, EventType, JobStatus

pytestmark = pytest.mark.slow


class Server:
    def __init__(self, tmp: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.tmp = tmp
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
            stdout=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_program("redis-server")
    srv = Server(tmp_path)
    srv.start()
    yield srv
    srv.stop()


async def opened(url: str) -> RedisBackend:
    async def attempt() -> RedisBackend | None:
        backend = open_backend(url, BackendOptions())
        try:
            await backend.open()
        except StoreUnavailable:
            return None
        assert isinstance(backend, RedisBackend)
        return backend

    return await poll(attempt)


async def test_a_restart_without_persistence_is_survived_and_reported(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    worker = await opened(server.url)
    api = await opened(server.url)
    try:
        lost = await add(api, book("alice", 2))
        (held,) = await claim(worker, limit=1)

        server.stop()
        with pytest.raises(StoreUnavailable):
            await worker.claim(worker_id="w1", limit=1, lease_s=30)
        with pytest.raises(StoreUnavailable):
            await api.get(lost.id)
        server.start()

        async def claim_again() -> bool:
            try:
                return await worker.claim(worker_id="w1", limit=1, lease_s=30) == []
            except StoreUnavailable:
                return False

        with caplog.at_level(logging.ERROR, logger="ttsqueue.backends.redis"):
            await poll(claim_again)
            await api.ping()
        assert "restarted without AOF persistence" in caplog.text
        assert await api.get(lost.id) is None
        assert (await worker.heartbeat([held.lease], lease_s=30)).lost == {held.lease.task_id}

        # New work flows again: the listeners reconnected, wake-ups and events arrive.
        # Pub/sub is a hint: a job whose events were published while the subscriber's
        # connection was still coming back is not seen here, so new jobs are added until
        # one's events arrive (under load the reconnection can lag the wake-up's).
        events = api.subscribe()
        seen: list[Event] = []

        async def collect() -> None:
            async for event in events:
                seen.append(event)

        collector = asyncio.create_task(collect())

        async def woken() -> bool:
            await worker.wait_for_work(0)  # forget wake-ups seen since the last claim
            waiter = asyncio.create_task(worker.wait_for_work(30))
            await asyncio.sleep(0.3)
            if waiter.done():  # woken by the reconnection itself: try again
                return False
            job = await add(api, book("bob", 1))
            await asyncio.wait_for(waiter, 10)
            assert (await run_job(worker, job.id)).status is JobStatus.COMPLETED
            return True

        await poll(woken, deadline_s=30)

        async def an_event_arrived() -> bool:
            if not seen:
                await add(api, book("carol", 1))
                await asyncio.sleep(1)
            return bool(seen)

        await poll(an_event_arrived, deadline_s=30)
        assert seen[0].type in (EventType.QUEUED, EventType.PROCESSING)
        collector.cancel()
    finally:
        await worker.close()
        await api.close()
