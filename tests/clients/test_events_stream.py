"""The event stream's reconnection, on a transport that drops connections mid-stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import httpx
import pytest

from ttsqueue.client import AsyncClient, Client, ClientError, JobStatus
from ttsqueue.client._calls import SseDecoder


def frame(seq: int, kind: str) -> bytes:
    data = {"job_id": "j1", "user_id": "u", "seq": seq, "type": kind, "data": {}, "at": 0}
    return f"id: {seq}\nevent: {kind}\ndata: {json.dumps(data)}\n\n".encode()


class Dropping(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Sends its chunks, then fails as a dropped connection does."""

    def __init__(self, chunks: list[bytes], drop: bool) -> None:
        self.chunks = chunks
        self.drop = drop

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.drop:
            raise httpx.ReadError("connection reset")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.drop:
            raise httpx.ReadError("connection reset")


class FlakyServer:
    """First connection: two events, then the connection drops. Second: closes with
    nothing new. Third: the rest, up to the terminal event (and one never to be read)."""

    def __init__(self) -> None:
        self.last_ids: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer tok"
        self.last_ids.append(request.headers.get("last-event-id"))
        n = len(self.last_ids)
        if n == 1:
            chunks = [b"retry: 10\n\n", frame(1, "job.queued") + frame(2, "job.processing")[:30]]
            chunks.append(frame(2, "job.processing")[30:])
            return httpx.Response(200, stream=Dropping(chunks, drop=True))
        if n == 2:
            # an empty stream: the client looks whether the job has ended (it has not)
            return httpx.Response(200, stream=Dropping([b": keep-alive\n\n"], drop=False))
        rest = frame(3, "chapter.completed") + frame(4, "job.completed") + frame(5, "late")
        return httpx.Response(200, stream=Dropping([rest], drop=False))


def patched(server: FlakyServer) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/events"), "job reads are patched out"
        return server(request)

    return httpx.MockTransport(handle)


def test_sync_stream_resumes_after_the_last_event(monkeypatch: pytest.MonkeyPatch) -> None:
    server = FlakyServer()
    client = Client("http://x", "tok", transport=patched(server))
    reads: list[str] = []

    def fake_get_job(job_id: str) -> object:
        reads.append(job_id)
        return SimpleNamespace(status=JobStatus.PROCESSING)

    monkeypatch.setattr(client, "get_job", fake_get_job)
    events = [(e.seq, e.type) for e in client.events("j1")]
    assert events == [
        (1, "job.queued"),
        (2, "job.processing"),
        (3, "chapter.completed"),
        (4, "job.completed"),
    ]
    assert server.last_ids == [None, "2", "2"]
    assert reads == ["j1"]


async def test_async_stream_resumes_after_the_last_event(monkeypatch: pytest.MonkeyPatch) -> None:
    server = FlakyServer()
    client = AsyncClient("http://x", "tok", transport=patched(server))

    async def fake_get_job(job_id: str) -> object:
        return SimpleNamespace(status=JobStatus.PROCESSING)

    monkeypatch.setattr(client, "get_job", fake_get_job)
    events = [e.seq async for e in client.events("j1", last_event_id=0)]
    assert events == [1, 2, 3, 4]
    assert server.last_ids == ["0", "2", "2"]


def test_a_5xx_is_retried_a_4xx_raised_and_retries_are_bounded() -> None:
    answers = [
        httpx.Response(503, headers={"Retry-After": "0"}, json={"detail": "busy"}),
        httpx.Response(403, json={"detail": [{"loc": [], "msg": "no", "type": "forbidden"}]}),
    ]
    calls: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return answers[len(calls) - 1]

    client = Client("http://x", transport=httpx.MockTransport(handle))
    with pytest.raises(ClientError) as refused:
        list(client.events("j1"))
    assert refused.value.status_code == 403 and refused.value.type == "forbidden"
    assert len(calls) == 2

    dropped: list[int] = []

    def drop(request: httpx.Request) -> httpx.Response:
        dropped.append(1)
        raise httpx.ConnectError("refused")

    flaky = Client("http://x", transport=httpx.MockTransport(drop))
    with pytest.raises(httpx.ConnectError):
        list(flaky.events("j1", max_retries=2, retry_s=0.001))
    assert len(dropped) == 3
    with pytest.raises(httpx.ConnectError):
        list(flaky.events("j1", reconnect=False))
    assert len(dropped) == 4


def test_the_decoder_follows_the_event_stream_format() -> None:
    decoder = SseDecoder()
    lines = ["retry: 1500", ": comment", "id: 7", "event: job.progress", "data: a", "data:b", ""]
    lines += ["data: no event name", "", "", "id: bad\0id", "data: c", ""]
    out = [m for m in map(decoder.feed, lines) if m is not None]
    assert out == [
        ("7", "job.progress", "a\nb"),
        ("7", "message", "no event name"),
        ("7", "message", "c"),
    ]
    assert decoder.retry_ms == 1500
