from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.stores import missing, service_url
from ttsqueue.backends import Backend, BackendOptions, open_backend
from ttsqueue.backends.base import StoreUnavailable
from ttsqueue.backends.keys import Keys


def url(prefix: str) -> str:
    base = service_url("TTSQUEUE_TEST_REDIS_URL")
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}prefix={prefix}"


async def delete_prefix(base_url: str, prefix: str) -> None:
    """Delete this prefix's keys only (SCAN MATCH + UNLINK): the db is shared."""
    from redis.asyncio import Redis

    client = Redis.from_url(base_url)
    try:
        batch: list[bytes] = []
        async for name in client.scan_iter(match=Keys(prefix).pattern(), count=1000):
            batch.append(name)
            if len(batch) >= 500:
                await client.unlink(*batch)
                batch.clear()
        if batch:
            await client.unlink(*batch)
    finally:
        await client.aclose()


def new_prefix() -> str:
    return f"tqtest-{secrets.token_hex(6)}"


@asynccontextmanager
async def store(tmp_path: Path, options: BackendOptions) -> AsyncIterator[Backend]:
    prefix = new_prefix()
    base = service_url("TTSQUEUE_TEST_REDIS_URL")
    backend = open_backend(url(prefix), options)
    try:
        await backend.open()
    except StoreUnavailable as exc:  # the service is down: skip locally, fail under CI
        missing(f"redis at {base}: {exc}")
    try:
        yield backend
    finally:
        await backend.close()
        await delete_prefix(base, prefix)
