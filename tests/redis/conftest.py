from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.stores import missing, service_url
from tests.stores import redis as redis_store
from ttsqueue.backends import BackendOptions
from ttsqueue.backends.redis import RedisBackend


@pytest.fixture
def redis_url() -> str:
    return service_url("TTSQUEUE_TEST_REDIS_URL")


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    r = Redis.from_url(redis_url, decode_responses=True)
    try:
        await r.ping()
    except OSError as exc:
        missing(f"redis at {redis_url}: {exc}")
    yield r
    await r.aclose()


@pytest.fixture
async def prefix(client: Redis, redis_url: str) -> AsyncIterator[str]:
    """A fresh key prefix, whose keys are deleted afterwards."""
    name = redis_store.new_prefix()
    yield name
    await redis_store.delete_prefix(redis_url, name)


@pytest.fixture
async def rb(tmp_path: Path) -> AsyncIterator[RedisBackend]:
    """An open Redis backend on its own prefix."""
    async with redis_store.store(tmp_path, BackendOptions(event_poll_s=0.05)) as b:
        assert isinstance(b, RedisBackend)
        yield b


def backend_url(prefix: str, **params: object) -> str:
    return redis_store.url(prefix) + "".join(f"&{k}={v}" for k, v in params.items())
