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
from ttsqueue.models import EventType, JobStatus

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
        events = api.subscribe()

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
        first = await asyncio.wait_for(anext(events), 10)
        assert first.type in (EventType.QUEUED, EventType.PROCESSING)
        await events.aclose()  # type: ignore[attr-defined]
    finally:
        await worker.close()
        await api.close()
