"""A store outage seen from the API: reads wait it out before answering 503, and live
event streams (SSE and WebSocket) keep going through it, on every store."""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI

from tests.api.conftest import ALICE, run_job, submit
from tests.api.test_events import FakeSocket, parse_sse
from tests.chaos.flaky import Flaky
from tests.stores import STORES
from ttsqueue import tts
from ttsqueue.api import streams
from ttsqueue.api.app import create_app
from ttsqueue.backends import Backend, BackendOptions
from ttsqueue.backends.base import Completion
from ttsqueue.models import TaskKind
from ttsqueue.queue import Queue
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage


@pytest.fixture(params=STORES)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    module = importlib.import_module(f"tests.stores.{request.param}")
    async with module.store(tmp_path, BackendOptions(event_poll_s=0.05)) as b:
        yield b


@pytest.fixture
def flaky(backend: Backend) -> Flaky:
    return Flaky(backend)


@pytest.fixture
def app(settings: Settings, flaky: Flaky) -> FastAPI:
    settings.store_retry_s = 2.0
    queue = Queue(
        cast(Backend, flaky), settings, check_voice=tts.check_voice, check_text=tts.check_text
    )
    return create_app(settings, queue=queue)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def outage(flaky: Flaky, seconds: float) -> None:
    flaky.go_down()
    await asyncio.sleep(seconds)
    flaky.come_up()


async def test_a_read_waits_out_a_short_outage(client: httpx.AsyncClient, flaky: Flaky) -> None:
    job_id = await submit(client, ALICE, n=1)
    back = asyncio.create_task(outage(flaky, 0.5))
    await asyncio.sleep(0.05)
    r = await client.get(f"/v1/jobs/{job_id}", headers=ALICE)
    assert r.status_code == 200, r.text
    assert flaky.refused >= 2  # it was tried while down, and again after
    await back


async def test_a_long_outage_is_a_503_after_the_retry_budget(
    client: httpx.AsyncClient, flaky: Flaky
) -> None:
    job_id = await submit(client, ALICE, n=1)
    flaky.go_down()
    started = asyncio.get_running_loop().time()
    r = await client.get(f"/v1/jobs/{job_id}", headers=ALICE)
    waited = asyncio.get_running_loop().time() - started
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "5"
    assert "unavailable" in r.json()["detail"][0]["msg"]
    assert 1.0 <= waited < 10.0  # about the 2 s budget, on a loaded machine too
    # a write is not repeated by the API: it answers at once
    refused = flaky.refused
    r = await client.post("/v1/jobs", json={"chapters": [{"text": "x"}]}, headers=ALICE)
    assert r.status_code == 503
    assert flaky.refused - refused == 1


async def finish_some(backend: Backend, storage: Storage, job_id: str, n: int) -> None:
    """Complete ``n`` chapters of the job (straight on the store, not through the API)."""
    tasks = await backend.claim(worker_id="w", limit=n, lease_s=60)
    assert [t.job_id for t in tasks] == [job_id] * n
    for task in tasks:
        assert task.kind is TaskKind.SYNTHESIZE
        path = storage.chapter_path(job_id, task.index, ".mp3")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 100)
        result = {"path": storage.relative(path), "duration_s": 1.0, "format": "mp3"}
        assert await backend.complete([Completion(task.lease, result)]) == [True]


async def test_an_sse_stream_keeps_going_through_outages(
    client: httpx.AsyncClient,
    flaky: Flaky,
    backend: Backend,
    storage: Storage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streams, "KEEPALIVE_S", 0.2)
    job_id = await submit(client, ALICE, n=4)
    reading = asyncio.create_task(client.get(f"/v1/jobs/{job_id}/events", headers=ALICE))
    await asyncio.sleep(0.3)
    await finish_some(backend, storage, job_id, 1)
    await asyncio.sleep(0.3)
    # the store goes away; work goes on elsewhere meanwhile
    flaky.go_down()
    await finish_some(backend, storage, job_id, 2)
    await asyncio.sleep(1.0)
    flaky.come_up()
    await asyncio.sleep(0.5)
    # and once more, right before the end
    flaky.go_down()
    await run_job(backend, storage, job_id)
    await asyncio.sleep(0.5)
    assert not reading.done()
    flaky.come_up()
    r = await asyncio.wait_for(reading, 60)
    frames = parse_sse(r.text)
    seqs = [int(f["id"]) for f in frames]
    assert seqs == list(range(1, len(seqs) + 1))  # nothing lost, nothing twice
    assert [f["event"] for f in frames].count("chapter.completed") == 4
    assert frames[-1]["event"] == "job.completed"
    assert ": keep-alive" in r.text  # the client heard from the stream during the outage
    assert seqs[-1] == len(await backend.events(job_id))


async def test_a_websocket_keeps_going_through_an_outage(
    client: httpx.AsyncClient, app: FastAPI, flaky: Flaky, backend: Backend, storage: Storage
) -> None:
    job_id = await submit(client, ALICE, n=3)
    ws = FakeSocket(app, "token=" + ALICE["Authorization"].split()[1] + f"&job_id={job_id}")
    assert (await ws.receive())["type"] == "websocket.accept"
    got: list[dict[str, Any]] = []

    async def read_until_done() -> None:
        while not got or got[-1]["type"] != "job.completed":
            msg = await asyncio.wait_for(ws.outgoing.get(), 60)
            assert msg["type"] == "websocket.send", msg
            got.append(json.loads(msg["text"]))

    reading = asyncio.create_task(read_until_done())
    await finish_some(backend, storage, job_id, 1)  # the socket sees these live
    await asyncio.sleep(0.3)
    flaky.go_down()
    await run_job(backend, storage, job_id)  # these happen while the socket cannot see
    await asyncio.sleep(1.0)
    flaky.come_up()
    await asyncio.wait_for(reading, 60)
    seqs = [e["seq"] for e in got]
    assert seqs == list(range(seqs[0], seqs[-1] + 1))  # from the first it saw, no gap
    assert [e["type"] for e in got].count("chapter.completed") == 3
    await ws.close()


async def test_a_job_that_ends_while_the_stream_starts_is_streamed_whole(
    client: httpx.AsyncClient, flaky: Flaky, backend: Backend, storage: Storage
) -> None:
    """The job finishes between the stream's first history read and its status check:
    the stream still sends every event, then ends."""
    job_id = await submit(client, ALICE, n=2)
    real_get = backend.get
    calls = 0

    async def get(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:  # the first is the route's ownership check, the second the stream's
            await run_job(backend, storage, job_id)
        return await real_get(*args, **kwargs)

    flaky.inner = _Patched(backend, get)  # type: ignore[assignment]
    r = await asyncio.wait_for(client.get(f"/v1/jobs/{job_id}/events", headers=ALICE), 30)
    assert calls == 2
    frames = parse_sse(r.text)
    assert [int(f["id"]) for f in frames] == [e.seq for e in await backend.events(job_id)]
    assert frames[-1]["event"] == "job.completed"


class _Patched:
    def __init__(self, inner: Backend, get: Any) -> None:
        self._inner = inner
        self.get = get

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
