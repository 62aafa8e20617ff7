"""Audio belongs to its job: whatever path a job's row names, the API serves only files
inside that job's own directory. The row is edited directly in each store, as someone
with write access to the database could, to point at another user's audiobook."""

from __future__ import annotations

import importlib
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import ALICE, BOB, run_job, submit
from tests.stores import STORES
from tests.stores.postgres import statement
from ttsqueue import tts
from ttsqueue.api.app import create_app
from ttsqueue.backends import Backend, BackendOptions
from ttsqueue.backends.sqlfiles import queries
from ttsqueue.queue import Queue
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage


@pytest.fixture(params=STORES)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    module: Any = importlib.import_module(f"tests.stores.{request.param}")
    async with module.store(tmp_path / "store", BackendOptions(event_poll_s=0.05)) as backend:
        yield backend


@pytest.fixture
async def api(store: Backend, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    queue = Queue(store, settings, check_voice=tts.check_voice, check_text=tts.check_text)
    app = create_app(settings, queue=queue)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def tamper(backend: Backend, job_id: str, index: int | None, path: str) -> None:
    """Set the stored result path of a job (index None) or of one of its tasks, in the
    store itself, bypassing ttsqueue."""
    result = {"path": path, "duration_s": 1.5, "format": "mp3"}
    kind = type(backend).__name__
    if kind == "MemoryBackend":
        row: Any = backend._jobs[job_id]  # type: ignore[attr-defined]
        (row if index is None else row.tasks[index]).result = result
    elif kind == "SqliteBackend":
        sql = queries("sqlite", "testing.sql")
        with sqlite3.connect(backend.path) as db:  # type: ignore[attr-defined]
            name = "set_job_result" if index is None else "set_task_result"
            db.execute(sql[name], {"id": job_id, "idx": index, "result": json.dumps(result)})
    elif kind == "PostgresBackend":
        import psycopg

        from tests.stores import service_url
        from tests.stores.postgres import ENV

        schema = backend.schema  # type: ignore[attr-defined]
        async with await psycopg.AsyncConnection.connect(service_url(ENV), autocommit=True) as conn:
            name = "set_job_result" if index is None else "set_task_result"
            await conn.execute(
                statement(name, schema=schema),
                {"id": job_id, "idx": index, "result": json.dumps(result)},
            )
    elif kind == "RedisBackend":
        client: Any = backend.redis  # type: ignore[attr-defined]
        key = backend.keys.job(job_id)  # type: ignore[attr-defined]
        field = "result" if index is None else f"{index}.r"
        await client.hset(key + (":tasks" if index is not None else ""), field, json.dumps(result))
    else:
        raise AssertionError(f"no way to tamper with {kind}")


async def test_a_tampered_path_answers_404_on_every_store(
    api: httpx.AsyncClient, store: Backend, storage: Storage
) -> None:
    alice = await submit(api, ALICE, n=1)
    bob = await submit(api, BOB, n=1)
    for job_id in (alice, bob):
        await run_job(store, storage, job_id)
    own_book = (await api.get(f"/v1/jobs/{alice}/audio", headers=ALICE)).content
    bobs_book = (await api.get(f"/v1/jobs/{bob}/audio", headers=BOB)).content
    bobs_chapter = (await api.get(f"/v1/jobs/{bob}/chapters/1/audio", headers=BOB)).content
    assert own_book and bobs_book and bobs_chapter
    targets = [
        f"{bob}/book.mp3",  # another user's audiobook
        f"{bob}/chapter-001.mp3",
        f"{alice}/../{bob}/book.mp3",  # through the job's own directory
        f"{alice}",  # the directory itself
        "../../etc/passwd",
    ]
    for target in targets:
        await tamper(store, alice, None, target)
        await tamper(store, alice, 0, target)
        for url in (f"/v1/jobs/{alice}/audio", f"/v1/jobs/{alice}/chapters/1/audio"):
            r = await api.get(url, headers=ALICE)
            assert r.status_code == 404, (target, url, r.status_code)
            assert r.content != bobs_book and r.content != bobs_chapter
    # bob's files are intact and still his
    assert (await api.get(f"/v1/jobs/{bob}/audio", headers=BOB)).content == bobs_book


async def test_a_symlink_out_of_the_job_directory_answers_404(
    api: httpx.AsyncClient, store: Backend, storage: Storage
) -> None:
    alice = await submit(api, ALICE, n=1)
    bob = await submit(api, BOB, n=1)
    for job_id in (alice, bob):
        await run_job(store, storage, job_id)
    link = storage.job_dir(alice) / "link.mp3"
    link.symlink_to(storage.job_dir(bob) / "book.mp3")
    await tamper(store, alice, None, f"{alice}/link.mp3")
    assert (await api.get(f"/v1/jobs/{alice}/audio", headers=ALICE)).status_code == 404
