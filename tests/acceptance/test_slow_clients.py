"""Slow clients against the real `ttsqueue api` (uvicorn) over real sockets: a request
whose headers or body do not arrive within TTSQUEUE_REQUEST_TIMEOUT_S (plus a second
per 16 KiB sent) is answered 408 and closed, and 50 of them delay nobody else
meanwhile."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import jwt
import pytest

from tests.acceptance.conftest import Cli, free_port, wait_until

pytestmark = pytest.mark.slow

TIMEOUT_S = 3.0
SECRET = "slow-client-test-secret-long-enough-for-hs256"


def _token() -> str:
    return jwt.encode({"sub": "alice", "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")


async def _open(port: int, data: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if data:
        writer.write(data)
        await writer.drain()
    return reader, writer


async def _closed_after(
    reader: asyncio.StreamReader, started: float, limit: float
) -> tuple[float, bytes]:
    """Read until the server closes; when that happened (seconds since ``started``) and
    what it sent."""
    got = await asyncio.wait_for(reader.read(), timeout=limit)
    return time.monotonic() - started, got


async def _trickle(writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
    """One byte of body every 0.4 s: never idle, never done."""
    while not stop.is_set():
        try:
            writer.write(b"x")
            await writer.drain()
        except (ConnectionError, RuntimeError):
            return
        await asyncio.sleep(0.4)


async def _drain(response: httpx.Response) -> None:
    async for _ in response.aiter_bytes():
        pass


async def _scenario(port: int) -> None:
    auth = f"Authorization: Bearer {_token()}\r\n".encode()
    body = json.dumps({"chapters": [{"title": "One", "text": "Hello there."}]}).encode()
    partial_headers = b"POST /v1/jobs HTTP/1.1\r\nHost: t\r\n" + auth
    partial_body = (
        b"POST /v1/jobs HTTP/1.1\r\nHost: t\r\n"
        + auth
        + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body[:10]
    )
    trickled = (
        b"POST /v1/jobs HTTP/1.1\r\nHost: t\r\n"
        + auth
        + b"Content-Type: text/plain\r\nContent-Length: 100000\r\n\r\n"
    )
    started = time.monotonic()
    kinds = [b"", partial_headers, partial_body, trickled] * 13  # 52 slow connections
    conns = await asyncio.gather(*(_open(port, data) for data in kinds))
    stop = asyncio.Event()
    trickling = [
        asyncio.create_task(_trickle(w, stop))
        for (_, w), k in zip(conns, kinds, strict=True)
        if k is trickled
    ]
    waits = [asyncio.create_task(_closed_after(r, started, TIMEOUT_S + 20)) for r, _ in conns]

    # meanwhile everyone else is served at once
    headers = {"Authorization": f"Bearer {_token()}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        slowest = 0.0
        while time.monotonic() - started < TIMEOUT_S - 0.5:
            t0 = time.monotonic()
            r = await client.get("/v1/health")
            assert r.status_code == 200
            r = await client.post(
                "/v1/jobs", content=body, headers={**headers, "Content-Type": "application/json"}
            )
            assert r.status_code == 201, r.text
            slowest = max(slowest, time.monotonic() - t0)
            await asyncio.sleep(0.1)
        assert slowest < 1.0, f"a request took {slowest:.2f}s while slow clients were connected"
        assert not any(w.done() for w in waits), "a slow client was cut before its deadline"

        # a response longer than the deadline is not cut: the request itself was complete
        job = r.json()["id"]
        forever = httpx.Timeout(10, read=None)
        async with client.stream(
            "GET", f"/v1/jobs/{job}/events", headers=headers, timeout=forever
        ) as events:
            assert events.status_code == 200
            reading = asyncio.create_task(_drain(events))
            done, _ = await asyncio.wait([reading], timeout=TIMEOUT_S + 1)
            assert not done, "the event stream was closed at the request deadline"
            reading.cancel()

    try:
        outcomes = await asyncio.gather(*waits)
    finally:
        stop.set()
        await asyncio.gather(*trickling)
        for _, writer in conns:
            writer.close()
    for (when, got), kind in zip(outcomes, kinds, strict=True):
        assert TIMEOUT_S * 0.9 <= when <= TIMEOUT_S + 10, when
        assert got.startswith(b"HTTP/1.1 408 "), (kind[:20], got[:80])


async def _keep_alive(port: int) -> None:
    """On a kept-alive connection the next request gets its own deadline, counted from
    its first byte."""
    reader, writer = await _open(port, b"GET /v1/health HTTP/1.1\r\nHost: t\r\n\r\n")
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200 "), head
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        await asyncio.sleep(1.0)  # idle, within uvicorn's keep-alive
        writer.write(b"GET /v1/health HTTP/1.1\r\nHo")
        await writer.drain()
        when, got = await _closed_after(reader, time.monotonic(), TIMEOUT_S + 10)
        assert got.startswith(b"HTTP/1.1 408 "), got
        assert TIMEOUT_S * 0.9 <= when, when
    finally:
        writer.close()


async def _steady_upload(port: int) -> None:
    """A body sent steadily, well above the minimum rate, may take longer than the
    deadline: 160 KiB at 32 KiB/s."""
    body = json.dumps({"chapters": [{"text": "Hello."}]}).encode() + b" " * (160 * 1024)
    head = (
        b"POST /v1/jobs HTTP/1.1\r\nHost: t\r\n"
        + f"Authorization: Bearer {_token()}\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    reader, writer = await _open(port, head)
    started = time.monotonic()
    try:
        for k in range(0, len(body), 8192):
            writer.write(body[k : k + 8192])
            await writer.drain()
            await asyncio.sleep(0.25)
        assert time.monotonic() - started > TIMEOUT_S
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n"), 10)
        assert answer.startswith(b"HTTP/1.1 201 "), answer
    finally:
        writer.close()


def test_slow_clients_are_cut_off_and_delay_nobody(cli: Cli) -> None:
    port = free_port()
    cli.extra_env.update(
        {
            "TTSQUEUE_PORT": str(port),
            "TTSQUEUE_JWT_SECRET": SECRET,
            "TTSQUEUE_REQUEST_TIMEOUT_S": str(TIMEOUT_S),
            "TTSQUEUE_SUBMISSIONS_PER_MINUTE": "1000",
            "TTSQUEUE_MAX_ACTIVE_JOBS": "1000",
        }
    )
    api = cli.start("api")

    def up() -> bool:
        assert api.poll() is None, cli.log_of(api)
        try:
            return httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, 60, "the API to start")
    asyncio.run(_scenario(port))
    asyncio.run(_keep_alive(port))
    asyncio.run(_steady_upload(port))
    assert api.poll() is None
    assert "Traceback" not in cli.log_of(api), cli.log_of(api)
