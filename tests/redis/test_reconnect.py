"""Dropped connections: the client reconnects and sends the command again, and a script
whose first run may or may not have happened is never applied twice.

The test's own TCP proxy sits between the backend and Redis; it closes the connection
that carries a script's reply, after Redis ran the script, so the client sees a dropped
connection for a command that took effect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from tests.chaos.proxy import Proxy
from tests.conformance.helpers import add, book, claim, get
from tests.redis.conftest import backend_url
from tests.stores import service_url
from ttsqueue.backends import BackendOptions, open_backend
from ttsqueue.backends import redis as redis_module
from ttsqueue.backends.base import Completion
from ttsqueue.backends.redis import RedisBackend
from ttsqueue.models import EventType, JobFilter, JobStatus, TaskStatus


@pytest.fixture
def proxy(client: Redis) -> Iterator[Proxy]:
    target = urlsplit(service_url("TTSQUEUE_TEST_REDIS_URL"))
    with Proxy(target.hostname or "127.0.0.1", target.port or 6379) as p:
        yield p


@pytest.fixture
async def proxied(proxy: Proxy, prefix: str) -> AsyncIterator[RedisBackend]:
    url = backend_url(prefix)
    host = urlsplit(url).netloc.rpartition("@")[2]
    backend = open_backend(url.replace(host, f"127.0.0.1:{proxy.port}", 1), BackendOptions())
    assert isinstance(backend, RedisBackend)
    async with backend:
        yield backend


def sha(rb: RedisBackend, script: str) -> bytes:
    return str(rb._scripts[script].sha).encode()  # type: ignore[attr-defined]


async def test_the_first_command_on_a_dropped_connection_succeeds(
    proxied: RedisBackend, proxy: Proxy
) -> None:
    job = await add(proxied, book("alice", 2))
    before = proxy.connections
    proxy.drop_all()
    assert (await get(proxied, job.id)).status is JobStatus.QUEUED
    assert len(await claim(proxied, limit=1)) == 1
    assert proxy.connections > before  # it did reconnect


async def test_a_claim_whose_reply_was_lost_is_not_run_twice(
    proxied: RedisBackend, proxy: Proxy
) -> None:
    job = await add(proxied, book("alice", 4))
    proxy.swallow_reply_to(sha(proxied, "claim"))
    claimed = await claim(proxied, limit=2)
    assert proxy.swallowed == 1
    assert len(claimed) == 2
    job = await get(proxied, job.id)
    running = [t for t in job.tasks if t.status is TaskStatus.RUNNING]
    assert sorted(t.index for t in running) == sorted(c.index for c in claimed)
    assert (await proxied.stats()).tasks[TaskStatus.RUNNING] == 2


async def test_a_completion_whose_reply_was_lost_counts_once(
    proxied: RedisBackend, proxy: Proxy
) -> None:
    job = await add(proxied, book("alice", 2))
    (task,) = await claim(proxied, limit=1)
    proxy.swallow_reply_to(sha(proxied, "complete"))
    assert await proxied.complete([Completion(task.lease, {"path": "x", "duration_s": 1.0})])
    assert proxy.swallowed == 1
    job = await get(proxied, job.id)
    assert job.completed_chapters == 1
    done = [e for e in await proxied.events(job.id) if e.type is EventType.CHAPTER_COMPLETED]
    assert len(done) == 1
    assert (await proxied.stats()).tasks[TaskStatus.COMPLETED] == 1


async def test_an_enqueue_whose_reply_was_lost_creates_one_job(
    proxied: RedisBackend, proxy: Proxy
) -> None:
    proxy.swallow_reply_to(sha(proxied, "enqueue"))
    (result,) = await proxied.enqueue([book("alice", 3)])
    assert proxy.swallowed == 1
    assert result.created
    page = await proxied.list_jobs(JobFilter(user_id="alice"), limit=10)
    assert [j.id for j in page.items] == [result.job.id]
    assert (await proxied.stats()).tasks[TaskStatus.PENDING] == 3


async def test_without_the_kept_reply_the_resent_completion_is_refused(
    proxied: RedisBackend, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the kept reply prevents: the resent command runs again and, the task being
    completed already, is refused as stale; the worker would think it lost the chapter."""
    monkeypatch.setattr(redis_module, "ONCE", frozenset())
    await add(proxied, book("alice", 2))
    (task,) = await claim(proxied, limit=1)
    proxy.swallow_reply_to(sha(proxied, "complete"))
    assert await proxied.complete([Completion(task.lease, {"path": "x"})]) == [False]
    assert proxy.swallowed == 1
