"""An SSE follower on a real network store keeps its stream while the API's connections
to the store are dropped or cut off (the test's own TCP proxy), and sees every event
once, in order, to the end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tests.api.conftest import ALICE, SECRET, book, run_job
from tests.api.test_events import FakeSocket, parse_sse
from tests.api.test_outage import finish_some
from tests.chaos.proxy import Proxy
from tests.stores import postgres as pg_store
from tests.stores import redis as redis_store
from tests.stores import service_url
from ttsqueue import tts
from ttsqueue.api import streams
from ttsqueue.api.app import create_app
from ttsqueue.backends import Backend, BackendOptions, open_backend
from ttsqueue.queue import Queue
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage

ENV = {"postgres": "TTSQUEUE_TEST_POSTGRES_URL", "redis": "TTSQUEUE_TEST_REDIS_URL"}


@pytest.fixture(params=["postgres", "redis"])
async def direct(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """The store, opened directly: the test's stand-in for the workers."""
    module = pg_store if request.param == "postgres" else redis_store
    async with module.store(tmp_path, BackendOptions(event_poll_s=0.05)) as b:
        yield b


@pytest.fixture
def proxy(direct: Backend) -> Iterator[Proxy]:
    kind = "postgres" if "postgres" in type(direct).__name__.lower() else "redis"
    target = urlsplit(service_url(ENV[kind]))
    with Proxy(target.hostname or "127.0.0.1", target.port or 0) as p:
        yield p


@pytest.fixture
async def app(direct: Backend, proxy: Proxy, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The API on the store through the proxy."""
    url = str(direct.url)  # type: ignore[attr-defined]
    host = urlsplit(url).netloc.rpartition("@")[2]
    through = open_backend(url.replace(host, f"127.0.0.1:{proxy.port}", 1), BackendOptions())
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="memory://",
        data_dir=tmp_path,
        jwt_secret=SECRET,
        default_format="mp3",
    )
    async with through:
        queue = Queue(through, settings, check_voice=tts.check_voice, check_text=tts.check_text)
        yield create_app(settings, queue=queue)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_an_sse_follower_keeps_its_stream_through_store_faults(
    client: httpx.AsyncClient,
    direct: Backend,
    proxy: Proxy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the stream reads the store often, so that reads fail while it is cut off (for
    # longer than the Redis client's own retries)
    monkeypatch.setattr(streams, "QUIET_S", 0.3)
    storage = Storage(tmp_path / "audio")
    r = await client.post("/v1/jobs", json=book(4), headers=ALICE)
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    reading = asyncio.create_task(client.get(f"/v1/jobs/{job_id}/events", headers=ALICE))
    await asyncio.sleep(0.5)
    await finish_some(direct, storage, job_id, 1)
    await asyncio.sleep(0.5)
    proxy.drop_all()  # every connection of the API process, once
    await finish_some(direct, storage, job_id, 1)
    await asyncio.sleep(1.0)
    proxy.cut()  # the store unreachable for six seconds
    await finish_some(direct, storage, job_id, 1)
    await asyncio.sleep(6.0)
    assert not reading.done()
    proxy.heal()
    await asyncio.sleep(0.5)
    proxy.drop_all()
    await run_job(direct, storage, job_id)
    r = await asyncio.wait_for(reading, 60)
    frames = parse_sse(r.text)
    assert [int(f["id"]) for f in frames] == [e.seq for e in await direct.events(job_id)]
    assert frames[-1]["event"] == "job.completed"
    assert [f["event"] for f in frames].count("chapter.completed") == 4


async def test_a_websocket_keeps_going_through_store_faults(
    client: httpx.AsyncClient,
    app: FastAPI,
    direct: Backend,
    proxy: Proxy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streams, "QUIET_S", 0.3)
    storage = Storage(tmp_path / "audio")
    r = await client.post("/v1/jobs", json=book(3), headers=ALICE)
    job_id = r.json()["id"]
    ws = FakeSocket(app, "token=" + ALICE["Authorization"].split()[1] + f"&job_id={job_id}")
    assert (await ws.receive())["type"] == "websocket.accept"
    got: list[dict[str, Any]] = []

    async def read_until_done() -> None:
        while not got or got[-1]["type"] != "job.completed":
            msg = await asyncio.wait_for(ws.outgoing.get(), 60)
            assert msg["type"] == "websocket.send", msg
            got.append(json.loads(msg["text"]))

    reading = asyncio.create_task(read_until_done())
    await finish_some(direct, storage, job_id, 1)
    await asyncio.sleep(0.5)
    proxy.drop_all()
    proxy.cut()
    await finish_some(direct, storage, job_id, 1)
    await asyncio.sleep(6.0)
    proxy.heal()
    await run_job(direct, storage, job_id)
    await asyncio.wait_for(reading, 60)
    seqs = [e["seq"] for e in got]
    assert seqs == list(range(seqs[0], seqs[-1] + 1))
    assert seqs[-1] == len(await direct.events(job_id))
    await ws.close()
