"""``python -m bench.hostile``: hostile submissions against a real ``ttsqueue api``.

Starts the API (SQLite, a scratch directory, a free port) in a subprocess and times what
a hostile caller costs it: a 45 KB Markdown line of ``*a `` (answered, while
``/v1/health`` is polled beside it), the same body from a user already at the
active-jobs cap (429), a 1 KB EPUB whose spine names one document 2,000 times and a
25 KB EPUB holding one 16 MiB file (both refused). Prints one line per case; with
``--python`` another interpreter (another checkout's environment) can be measured.
A status of 0 means no answer within the client's 120 s.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import jwt

SECRET = "bench-hostile-secret-that-is-long-enough-0123456789"
MARKDOWN = ("# Title\n\n" + "*a " * 15000).encode()
CONTAINER = (
    '<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
    '<rootfiles><rootfile full-path="c.opf" media-type="application/oebps-package+xml"/>'
    "</rootfiles></container>"
)


def _opf(refs: int) -> str:
    return (
        '<package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata/>'
        '<manifest><item id="a" href="a.xhtml" media-type="application/xhtml+xml"/></manifest>'
        "<spine>" + '<itemref idref="a"/>' * refs + "</spine></package>"
    )


def epub(refs: int, document: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", CONTAINER)
        z.writestr("c.opf", _opf(refs))
        z.writestr("a.xhtml", document)
    return buffer.getvalue()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _token(sub: str) -> dict[str, str]:
    claims = {"sub": sub, "exp": int(time.time()) + 3600}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


async def _health_max(client: httpx.AsyncClient, stop: asyncio.Event) -> float:
    worst = 0.0
    while not stop.is_set():
        t = time.perf_counter()
        await client.get("/v1/health")
        worst = max(worst, time.perf_counter() - t)
        await asyncio.sleep(0.005)
    return worst


async def _post(
    client: httpx.AsyncClient, user: str, headers: dict[str, str] | None = None, **kwargs: Any
) -> tuple[int, float]:
    t = time.perf_counter()
    try:
        response = await client.post(
            "/v1/jobs", headers={**_token(user), **(headers or {})}, **kwargs
        )
    except httpx.TimeoutException:
        return 0, time.perf_counter() - t  # no answer within the client's timeout
    return response.status_code, time.perf_counter() - t


async def _cases(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        for _ in range(100):
            try:
                if (await client.get("/v1/health")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        text = {"content": MARKDOWN, "headers": {"Content-Type": "text/markdown"}}
        await _post(client, "warmup", **text)
        stop = asyncio.Event()
        health = asyncio.create_task(_health_max(client, stop))
        await asyncio.sleep(0.05)
        status, seconds = await _post(client, "reader", **text)
        stop.set()
        worst = await health
        print(
            f"45 KB Markdown '*a ': {status} in {seconds * 1000:.0f} ms; "
            f"slowest /v1/health meanwhile {worst * 1000:.0f} ms"
        )
        for _ in range(2):  # the cap is 2 in this server
            await _post(client, "capped", json={"chapters": [{"title": "", "text": "Hi."}]})
        status, seconds = await _post(client, "capped", **text)
        print(f"same body, user at the active-jobs cap: {status} in {seconds * 1000:.0f} ms")
        cases = {
            "1 KB EPUB, spine names one document 2,000 times": epub(
                2000, b"<p>" + b"word " * 20_000 + b"</p>"
            ),
            "25 KB EPUB holding one 16 MiB file": epub(1, b"<p>a</p>" * (2 << 20)),
        }
        for name, data in cases.items():
            files = {"file": ("book.epub", data, "application/epub+zip")}
            status, seconds = await _post(client, "reader", files=files)
            print(f"{name} ({len(data)} bytes): {status} in {seconds * 1000:.0f} ms")


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__)
    p.add_argument("--python", default=sys.executable, help="the interpreter running the API")
    args = p.parse_args()
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "TTSQUEUE_DATABASE_URL": f"sqlite:///{Path(tmp) / 'q.db'}",
            "TTSQUEUE_DATA_DIR": tmp,
            "TTSQUEUE_JWT_SECRET": SECRET,
            "TTSQUEUE_MAX_ACTIVE_JOBS": "2",
            "TTSQUEUE_SUBMISSIONS_PER_MINUTE": "1000",
            "TTSQUEUE_MAX_BODY_BYTES": str(8 << 20),
            "TTSQUEUE_LOG_LEVEL": "WARNING",
        }
        env["TTSQUEUE_HOST"], env["TTSQUEUE_PORT"] = "127.0.0.1", str(port)
        cmd = [args.python, "-m", "ttsqueue", "api"]
        server = subprocess.Popen(cmd, env=env, cwd=tmp)
        try:
            asyncio.run(_cases(f"http://127.0.0.1:{port}"))
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:  # still parsing in a thread
                server.kill()
                server.wait()


if __name__ == "__main__":
    main()
