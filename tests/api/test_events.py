from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.api.conftest import ADMIN, ALICE, BOB, make_jwt, run_job, submit
from ttsqueue.api import streams
from ttsqueue.backends import Backend
from ttsqueue.models import Event
from ttsqueue.queue import Queue
from ttsqueue.storage import Storage


def parse_sse(text: str) -> list[dict[str, Any]]:
    frames = []
    for block in text.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith(":") or not line:
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "data" in fields:
            fields["data"] = json.loads(fields["data"])
            frames.append(fields)
    return frames


async def test_stream_of_a_finished_job_replays_every_event_and_ends(
    client: httpx.AsyncClient, backend: Backend, storage: Storage
) -> None:
    job_id = await submit(client, ALICE, n=2)
    await run_job(backend, storage, job_id)
    r = await client.get(f"/v1/jobs/{job_id}/events", headers=ALICE)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    frames = parse_sse(r.text)
    seqs = [int(f["id"]) for f in frames]
    assert seqs == list(range(1, len(seqs) + 1))
    types = [f["event"] for f in frames]
    assert types[0] == "job.queued"
    assert types[-1] == "job.completed"
    assert types.count("chapter.completed") == 2
    assert all(f["data"]["job_id"] == job_id and f["data"]["type"] == f["event"] for f in frames)

    resumed = await client.get(
        f"/v1/jobs/{job_id}/events", headers={**ALICE, "Last-Event-ID": str(seqs[2])}
    )
    assert [int(f["id"]) for f in parse_sse(resumed.text)] == seqs[3:]
    after = await client.get(f"/v1/jobs/{job_id}/events", params={"after": 1}, headers=ALICE)
    assert [int(f["id"]) for f in parse_sse(after.text)] == seqs[1:]
    past_the_end = await client.get(
        f"/v1/jobs/{job_id}/events", params={"after": seqs[-1]}, headers=ALICE
    )
    assert parse_sse(past_the_end.text) == []


async def test_live_stream_follows_the_job_to_completion(
    client: httpx.AsyncClient, backend: Backend, storage: Storage
) -> None:
    job_id = await submit(client, ALICE, n=3)
    reading = asyncio.create_task(client.get(f"/v1/jobs/{job_id}/events", headers=ALICE))
    await asyncio.sleep(0.2)  # the stream has sent the history and waits for live events
    assert not reading.done()
    await run_job(backend, storage, job_id)
    r = await asyncio.wait_for(reading, 30)
    frames = parse_sse(r.text)
    seqs = [int(f["id"]) for f in frames]
    assert seqs == list(range(1, len(seqs) + 1))  # in order, nothing twice, nothing lost
    assert frames[-1]["event"] == "job.completed"
    assert [f["event"] for f in frames].count("chapter.started") == 3


async def test_cancel_ends_a_live_stream(client: httpx.AsyncClient) -> None:
    job_id = await submit(client, ALICE, n=1)
    reading = asyncio.create_task(client.get(f"/v1/jobs/{job_id}/events", headers=ALICE))
    await asyncio.sleep(0.1)
    await client.delete(f"/v1/jobs/{job_id}", headers=ALICE)
    r = await asyncio.wait_for(reading, 30)
    assert [f["event"] for f in parse_sse(r.text)][-1] == "job.cancelled"


async def test_keep_alive_comments_are_sent_while_the_job_is_quiet(
    client: httpx.AsyncClient, backend: Backend, storage: Storage, monkeypatch: Any
) -> None:
    monkeypatch.setattr(streams, "KEEPALIVE_S", 0.05)
    job_id = await submit(client, ALICE, n=1)
    reading = asyncio.create_task(client.get(f"/v1/jobs/{job_id}/events", headers=ALICE))
    await asyncio.sleep(0.3)
    await run_job(backend, storage, job_id)
    r = await asyncio.wait_for(reading, 30)
    assert ": keep-alive" in r.text
    assert parse_sse(r.text)[-1]["event"] == "job.completed"


async def test_stream_of_unknown_or_foreign_job_is_404(client: httpx.AsyncClient) -> None:
    job_id = await submit(client, ALICE, n=1)
    assert (await client.get(f"/v1/jobs/{job_id}/events", headers=BOB)).status_code == 404


class FakeSocket:
    """A WebSocket client speaking raw ASGI to the app."""

    def __init__(self, app: Any, query: str, headers: list[tuple[bytes, bytes]] | None = None):
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "path": "/v1/ws",
            "raw_path": b"/v1/ws",
            "query_string": query.encode(),
            "headers": headers or [],
            "subprotocols": [],
            "server": ("test", 80),
            "client": ("127.0.0.1", 1234),
        }
        self.incoming.put_nowait({"type": "websocket.connect"})
        self.task = asyncio.create_task(app(scope, self.incoming.get, self.outgoing.put))

    async def receive(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.outgoing.get(), 10)

    async def close(self) -> None:
        await self.incoming.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self.task, 10)


async def test_websocket_streams_the_callers_events(client: httpx.AsyncClient, app: Any) -> None:
    ws = FakeSocket(app, "token=" + ALICE["Authorization"].split()[1])
    assert (await ws.receive())["type"] == "websocket.accept"
    await submit(client, BOB, n=1)  # not alice's: not sent to her
    job_id = await submit(client, ALICE, n=1)
    msg = await ws.receive()
    assert msg["type"] == "websocket.send"
    event = json.loads(msg["text"])
    assert (event["job_id"], event["type"], event["seq"]) == (job_id, "job.queued", 1)
    await ws.close()


async def test_websocket_admin_sees_all_and_header_auth_works(
    client: httpx.AsyncClient, app: Any
) -> None:
    ws = FakeSocket(app, "", [(b"authorization", ADMIN["Authorization"].encode())])
    assert (await ws.receive())["type"] == "websocket.accept"
    job_id = await submit(client, BOB, n=1)
    event = json.loads((await ws.receive())["text"])
    assert event["job_id"] == job_id
    assert event["user_id"] == "bob"
    await ws.close()


async def test_websocket_without_valid_token_is_closed(app: Any) -> None:
    for query in ("", "token=nope", "token=" + make_jwt("x", exp_in=-10)):
        ws = FakeSocket(app, query)
        msg = await ws.receive()
        assert msg["type"] == "websocket.close"
        assert msg["code"] == 1008
        await asyncio.wait_for(ws.task, 10)


def _dropping_subscription(queue: Queue, drop: Any) -> list[int]:
    """Make every subscription of ``queue`` lose the events ``drop(event)`` picks, as a
    store's pub/sub can when a connection blips; returns the seqs that went missing."""
    lost: list[int] = []
    subscribe = queue.subscribe

    async def leaky(user: Any, *, job_id: str | None = None) -> AsyncIterator[Event]:
        async for event in subscribe(user, job_id=job_id):
            if drop(event):
                lost.append(event.seq)
                continue
            yield event

    queue.subscribe = leaky  # type: ignore[method-assign]
    return lost


async def test_an_event_missing_from_the_subscription_is_filled_from_history(
    client: httpx.AsyncClient, backend: Backend, storage: Storage, queue: Queue, monkeypatch: Any
) -> None:
    monkeypatch.setattr(streams, "KEEPALIVE_S", 3600.0)
    monkeypatch.setattr(streams, "QUIET_S", 3600.0)  # only the gap can fill it
    lost = _dropping_subscription(queue, lambda e: e.type == "chapter.started")
    job_id = await submit(client, ALICE, n=3)
    reading = asyncio.create_task(client.get(f"/v1/jobs/{job_id}/events", headers=ALICE))
    await asyncio.sleep(0.3)  # history sent; every later event comes live
    assert not reading.done()
    await run_job(backend, storage, job_id)
    r = await asyncio.wait_for(reading, 30)
    frames = parse_sse(r.text)
    history = await backend.events(job_id, after=0, limit=1000)
    assert len(lost) == 3  # the subscription really lost the three chapter starts ...
    assert [int(f["id"]) for f in frames] == [e.seq for e in history]  # ... the stream did not
    assert [f["event"] for f in frames] == [e.type for e in history]
    assert [int(f["id"]) for f in frames] == list(range(1, len(history) + 1))


async def test_a_lost_final_event_is_recovered_on_keep_alive(
    client: httpx.AsyncClient, backend: Backend, storage: Storage, queue: Queue, monkeypatch: Any
) -> None:
    monkeypatch.setattr(streams, "KEEPALIVE_S", 0.2)
    # Nothing follows the last event, so no gap shows: only re-reading the history on a
    # quiet keep-alive period can finish the stream.
    lost = _dropping_subscription(queue, lambda e: e.type == "job.completed")
    job_id = await submit(client, ALICE, n=2)
    reading = asyncio.create_task(client.get(f"/v1/jobs/{job_id}/events", headers=ALICE))
    await asyncio.sleep(0.3)
    assert not reading.done()
    await run_job(backend, storage, job_id)
    r = await asyncio.wait_for(reading, 30)
    frames = parse_sse(r.text)
    history = await backend.events(job_id, after=0, limit=1000)
    assert lost == [history[-1].seq]
    assert [int(f["id"]) for f in frames] == list(range(1, len(history) + 1))
    assert frames[-1]["event"] == "job.completed"


async def test_exactly_one_missing_event_is_filled_and_nothing_else_is_sent(
    client: httpx.AsyncClient, backend: Backend, storage: Storage, queue: Queue, monkeypatch: Any
) -> None:
    monkeypatch.setattr(streams, "KEEPALIVE_S", 3600.0)
    monkeypatch.setattr(streams, "QUIET_S", 3600.0)
    lost = _dropping_subscription(queue, lambda e: e.type == "job.processing")
    job_id = await submit(client, ALICE, n=2)
    reading = asyncio.create_task(client.get(f"/v1/jobs/{job_id}/events", headers=ALICE))
    await asyncio.sleep(0.3)
    await run_job(backend, storage, job_id)
    r = await asyncio.wait_for(reading, 30)
    history = await backend.events(job_id, after=0, limit=1000)
    assert len(lost) == 1
    assert [int(f["id"]) for f in parse_sse(r.text)] == [e.seq for e in history]
    assert "keep-alive" not in r.text  # nothing was quiet for KEEPALIVE_S


async def test_events_delivered_twice_are_sent_once(
    client: httpx.AsyncClient, backend: Backend, storage: Storage, queue: Queue, monkeypatch: Any
) -> None:
    monkeypatch.setattr(streams, "KEEPALIVE_S", 3600.0)
    monkeypatch.setattr(streams, "QUIET_S", 3600.0)
    subscribe = queue.subscribe

    async def echoing(user: Any, *, job_id: str | None = None) -> AsyncIterator[Event]:
        async for event in subscribe(user, job_id=job_id):
            yield event
            yield event  # at-least-once delivery

    queue.subscribe = echoing  # type: ignore[method-assign]
    job_id = await submit(client, ALICE, n=2)
    reading = asyncio.create_task(client.get(f"/v1/jobs/{job_id}/events", headers=ALICE))
    await asyncio.sleep(0.3)
    await run_job(backend, storage, job_id)
    r = await asyncio.wait_for(reading, 30)
    history = await backend.events(job_id, after=0, limit=1000)
    assert [int(f["id"]) for f in parse_sse(r.text)] == [e.seq for e in history]
    assert "keep-alive" not in r.text


async def test_a_long_history_is_read_page_by_page(
    client: httpx.AsyncClient, backend: Backend, storage: Storage, monkeypatch: Any
) -> None:
    monkeypatch.setattr(streams, "HISTORY_PAGE", 3)
    job_id = await submit(client, ALICE, n=4)
    await run_job(backend, storage, job_id)
    history = await backend.events(job_id, after=0, limit=1000)
    assert len(history) > 3 * 3  # several pages, the last one partial or empty
    r = await client.get(f"/v1/jobs/{job_id}/events", headers=ALICE)
    assert [int(f["id"]) for f in parse_sse(r.text)] == [e.seq for e in history]
    resumed = await client.get(f"/v1/jobs/{job_id}/events", params={"after": 2}, headers=ALICE)
    assert [int(f["id"]) for f in parse_sse(resumed.text)] == [e.seq for e in history[2:]]


async def test_a_stream_carries_only_its_own_jobs_events(
    client: httpx.AsyncClient, backend: Backend, storage: Storage
) -> None:
    # The streamed job waits (scheduled) while another of the same user's jobs runs.
    job_id = await submit(client, ALICE, n=1, run_at=time.time() + 3600)
    reading = asyncio.create_task(client.get(f"/v1/jobs/{job_id}/events", headers=ALICE))
    await asyncio.sleep(0.3)
    other = await submit(client, ALICE, n=1)
    await run_job(backend, storage, other)
    await asyncio.sleep(0.3)
    await client.delete(f"/v1/jobs/{job_id}", headers=ALICE)
    frames = parse_sse((await asyncio.wait_for(reading, 30)).text)
    assert {f["data"]["job_id"] for f in frames} == {job_id}
    assert [f["event"] for f in frames] == ["job.scheduled", "job.cancelled"]


async def test_resuming_past_the_history_of_a_running_job_waits_for_live_events(
    client: httpx.AsyncClient, backend: Backend, storage: Storage
) -> None:
    job_id = await submit(client, ALICE, n=1)
    (queued,) = await backend.events(job_id, after=0, limit=10)
    reading = asyncio.create_task(
        client.get(f"/v1/jobs/{job_id}/events", params={"after": queued.seq}, headers=ALICE)
    )
    await asyncio.sleep(0.3)
    assert not reading.done()  # nothing new yet: the stream stays open
    await run_job(backend, storage, job_id)
    frames = parse_sse((await asyncio.wait_for(reading, 30)).text)
    assert frames[0]["id"] == str(queued.seq + 1)
    assert frames[-1]["event"] == "job.completed"


async def test_keep_alive_is_an_sse_comment_frame(
    client: httpx.AsyncClient, backend: Backend, storage: Storage, monkeypatch: Any
) -> None:
    monkeypatch.setattr(streams, "KEEPALIVE_S", 0.05)
    job_id = await submit(client, ALICE, n=1)
    reading = asyncio.create_task(client.get(f"/v1/jobs/{job_id}/events", headers=ALICE))
    await asyncio.sleep(0.3)
    await run_job(backend, storage, job_id)
    text = (await asyncio.wait_for(reading, 30)).text
    blocks = text.split("\n\n")
    assert ": keep-alive" in blocks
    assert all(b.startswith(("retry: ", "id: ", ": keep-alive")) for b in blocks if b)


async def test_websocket_refuses_a_non_bearer_authorization(app: Any) -> None:
    token = ALICE["Authorization"].split()[1]
    ws = FakeSocket(app, "", [(b"authorization", f"Basic {token}".encode())])
    msg = await ws.receive()
    assert (msg["type"], msg["code"]) == ("websocket.close", 1008)
    await asyncio.wait_for(ws.task, 10)


async def test_a_job_that_finishes_between_the_reads_still_ends_with_its_last_event(
    client: httpx.AsyncClient, backend: Backend, storage: Storage, monkeypatch: Any
) -> None:
    job_id = await submit(client, ALICE, n=1)
    await run_job(backend, storage, job_id)
    history = await backend.events(job_id, after=0, limit=1000)
    real_events = backend.events
    reads = [0]

    async def first_read_misses_the_end(jid: str, **kw: Any) -> list[Event]:
        # As if the history was read just before the job's last event was written.
        reads[0] += 1
        got = await real_events(jid, **kw)
        return [e for e in got if e.seq != history[-1].seq] if reads[0] == 1 else got

    monkeypatch.setattr(backend, "events", first_read_misses_the_end)
    r = await client.get(f"/v1/jobs/{job_id}/events", headers=ALICE)
    frames = parse_sse(r.text)
    assert [int(f["id"]) for f in frames] == [e.seq for e in history]
    assert frames[-1]["event"] == "job.completed"


async def test_a_subscription_that_fails_ends_the_stream_cleanly(
    client: httpx.AsyncClient, queue: Queue
) -> None:
    async def broken(user: Any, *, job_id: str | None = None) -> AsyncIterator[Event]:
        raise RuntimeError("the store went away")
        yield  # pragma: no cover - makes this an async generator

    queue.subscribe = broken  # type: ignore[method-assign]
    job_id = await submit(client, ALICE, n=1)
    r = await asyncio.wait_for(client.get(f"/v1/jobs/{job_id}/events", headers=ALICE), 30)
    assert r.status_code == 200
    # what there was is sent; the client resumes with Last-Event-ID
    assert [f["event"] for f in parse_sse(r.text)] == ["job.queued"]
