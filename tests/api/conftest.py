"""The API on the in-memory backend, called in-process through httpx."""

from __future__ import annotations

import importlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.stores import STORES
from ttsqueue import tts
from ttsqueue.api.app import create_app
from ttsqueue.backends import Backend, BackendOptions, open_backend
from ttsqueue.backends.base import Completion
from ttsqueue.models import TaskKind
from ttsqueue.queue import Queue
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage

SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"


def make_jwt(sub: str, *, secret: str = SECRET, exp_in: float | None = 3600, **claims: Any) -> str:
    payload: dict[str, Any] = {"sub": sub, **claims}
    if exp_in is not None:
        payload["exp"] = int(time.time() + exp_in)
    return jwt.encode(payload, secret, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ALICE = bearer(make_jwt("alice"))
BOB = bearer(make_jwt("bob"))
ADMIN = bearer(make_jwt("root", role="service_role"))


def book(n: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "title": "The Test Book",
        "author": "A. Writer",
        "chapters": [
            {"title": f"Part {i + 1}", "text": f"Text of part {i + 1}."} for i in range(n)
        ],
        **extra,
    }


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="memory://",
        data_dir=tmp_path,
        jwt_secret=SECRET,
        default_format="mp3",
        max_body_bytes=64 * 1024,
        max_chapters=10,
        max_chapter_chars=5000,
        max_book_chars=20000,
    )


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    async with open_backend("memory://", BackendOptions(event_poll_s=0.05)) as b:
        yield b


@pytest.fixture
def queue(backend: Backend, settings: Settings) -> Queue:
    return Queue(backend, settings, check_voice=tts.check_voice, check_text=tts.check_text)


@pytest.fixture
def app(settings: Settings, queue: Queue) -> FastAPI:
    return create_app(settings, queue=queue)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture(params=STORES)
async def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """Each store in turn (for behaviour the API must show the same on every store)."""
    module = importlib.import_module(f"tests.stores.{request.param}")
    async with module.store(tmp_path, BackendOptions(event_poll_s=0.05)) as b:
        yield b


@pytest.fixture
async def store_client(
    store_backend: Backend, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API on ``store_backend``."""
    queue = Queue(store_backend, settings, check_voice=tts.check_voice, check_text=tts.check_text)
    transport = httpx.ASGITransport(app=create_app(settings, queue=queue))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
def storage(settings: Settings) -> Storage:
    return Storage(settings.audio_dir)


async def submit(client: httpx.AsyncClient, headers: dict[str, str], **extra: Any) -> str:
    r = await client.post("/v1/jobs", json=book(**extra), headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def run_job(backend: Backend, storage: Storage, job_id: str, fmt: str = "mp3") -> None:
    """Play the worker: claim every task of the job, write its file, complete it."""
    for _ in range(20):
        job = await backend.get(job_id)
        assert job is not None
        if job.status.terminal:
            return
        for task in await backend.claim(worker_id="test-worker", limit=50, lease_s=60):
            if task.kind is TaskKind.SYNTHESIZE:
                path = storage.chapter_path(task.job_id, task.index, f".{fmt}")
                data = f"chapter {task.index} audio ".encode() * 50
                out_fmt = fmt
            else:
                path = storage.book_path(task.job_id, ".m4b" if fmt == "m4b" else f".{fmt}")
                data = bytes(range(256)) * 8
                out_fmt = fmt
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            result = {"path": storage.relative(path), "duration_s": 1.5, "format": out_fmt}
            assert await backend.complete([Completion(task.lease, result)]) == [True]
    raise AssertionError("the job did not finish")
