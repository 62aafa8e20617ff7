"""The Python client against the real app on the memory store, callers authenticated by
JWT: through httpx's ASGITransport (async), or served over HTTP by uvicorn in a thread
of the test process (sync)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from tests.api.conftest import SECRET, make_jwt
from ttsqueue import tts
from ttsqueue.api.app import create_app
from ttsqueue.backends import Backend, BackendOptions, open_backend
from ttsqueue.client import AsyncClient, Client
from ttsqueue.queue import Queue
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage

BASE = "http://tts.test"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="memory://",
        data_dir=tmp_path,
        jwt_secret=SECRET,
        default_format="mp3",
        max_chapters=10,
        max_chapter_chars=5000,
        max_book_chars=20000,
        submissions_per_minute=1000,
    )


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    async with open_backend("memory://", BackendOptions(event_poll_s=0.05)) as b:
        yield b


@pytest.fixture
def storage(settings: Settings) -> Storage:
    return Storage(settings.audio_dir)


@pytest.fixture
def app(settings: Settings, backend: Backend) -> FastAPI:
    queue = Queue(backend, settings, check_voice=tts.check_voice, check_text=tts.check_text)
    return create_app(settings, queue=queue)


def async_client(app: FastAPI, user: str, **claims: Any) -> AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return AsyncClient(BASE, make_jwt(user, **claims), transport=transport)


@pytest.fixture
async def alice(app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with async_client(app, "alice") as c:
        yield c


@pytest.fixture
async def bob(app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with async_client(app, "bob") as c:
        yield c


T = TypeVar("T")


@dataclass
class LiveServer:
    """The app served by uvicorn on a free port, in a thread with its own event loop."""

    url: str
    app: FastAPI
    loop: asyncio.AbstractEventLoop

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coro`` on the server's loop (where its store lives)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def backend(self) -> Backend:
        backend: Backend = self.app.state.api.queue.backend
        return backend

    def client(self, user: str, **claims: Any) -> Client:
        return Client(self.url, make_jwt(user, **claims))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    app = create_app(settings)  # opens its own store in its lifespan
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),))
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app, loop)
    finally:
        server.should_exit = True
        thread.join(30)
        loop.close()
