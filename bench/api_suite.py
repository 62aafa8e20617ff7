"""The API suite: requests/s and latency for POST /v1/jobs and GET /v1/jobs/{id} on the
embedded defaults (SQLite in a temporary directory), against ``ttsqueue api`` started as
a subprocess on a free port, with a key from ``ttsqueue token create``.

The load client is httpx async on loopback, a fixed number of requests from a fixed
number of concurrent connections, bounded in time. The per-user submission limits are
raised for the run (TTSQUEUE_SUBMISSIONS_PER_MINUTE, TTSQUEUE_MAX_ACTIVE_JOBS) so that
the server is measured rather than its rate limiter. No worker runs: jobs stay queued.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import latency_summary, log

CONNECTIONS = 16
BODY = {
    "title": "Bench",
    "chapters": [{"title": "Chapter 1", "text": "A short chapter for the API benchmark."}],
    "voice": {"engine": "noop", "name": "silence"},
    "output_format": "wav",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _ttsqueue() -> list[str]:
    return [sys.executable, "-m", "ttsqueue"]


async def _load(client: httpx.AsyncClient, count: int, limit_s: float, call: Any) -> dict[str, Any]:
    lat: list[float] = []
    errors = 0
    next_i = 0
    deadline = time.perf_counter() + limit_s

    async def one_connection() -> None:
        nonlocal next_i, errors
        while next_i < count and time.perf_counter() < deadline:
            i = next_i
            next_i += 1
            t = time.perf_counter()
            resp = await call(client, i)
            lat.append(time.perf_counter() - t)
            if resp.status_code >= 300:
                errors += 1

    t = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(CONNECTIONS)))
    elapsed = time.perf_counter() - t
    return {
        "requests": len(lat),
        "errors": errors,
        "seconds": elapsed,
        "per_s": len(lat) / elapsed,
        **latency_summary(lat),
    }


async def run(quick: bool) -> dict[str, Any]:
    count = 500 if quick else 3000
    limit_s = 20.0 if quick else 60.0
    tmp = Path(tempfile.mkdtemp(prefix="tq-bench-api-"))
    port = _free_port()
    env = dict(os.environ)
    env.update(
        TTSQUEUE_DATABASE_URL=f"sqlite:///{tmp / 'api.db'}",
        TTSQUEUE_DATA_DIR=str(tmp),
        TTSQUEUE_HOST="127.0.0.1",
        TTSQUEUE_PORT=str(port),
        TTSQUEUE_SUBMISSIONS_PER_MINUTE="100000000",
        TTSQUEUE_MAX_ACTIVE_JOBS="100000000",
        TTSQUEUE_LOG_LEVEL="WARNING",
    )
    token = (
        subprocess.run(
            [*_ttsqueue(), "token", "create", "--user", "bench"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    server = subprocess.Popen(
        [*_ttsqueue(), "api"],
        env=env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "api.log", "wb"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        headers = {"Authorization": f"Bearer {token}"}
        limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
        async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await client.get("/v1/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(
                        f"API did not start: {(tmp / 'api.log').read_text()[-2000:]}"
                    )
                await asyncio.sleep(0.1)
            ids: list[str] = []

            async def post(c: httpx.AsyncClient, i: int) -> httpx.Response:
                r = await c.post("/v1/jobs", json=BODY)
                if r.status_code < 300:
                    ids.append(r.json()["id"])
                return r

            async def get(c: httpx.AsyncClient, i: int) -> httpx.Response:
                return await c.get(f"/v1/jobs/{ids[i % len(ids)]}")

            for _ in range(20):  # warm up
                await post(client, 0)
            log(f"api: POST /v1/jobs x{count}")
            posted = await _load(client, count, limit_s, post)
            log(f"api: GET /v1/jobs/{{id}} x{count}")
            got = await _load(client, count, limit_s, get)
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "server": "ttsqueue api (1 process), SQLite store",
        "connections": CONNECTIONS,
        "post_jobs": posted,
        "get_job": got,
    }
