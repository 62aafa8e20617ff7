"""Maintenance and registries: prune, reap, wake-ups, workers, API keys."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.conformance.helpers import add, book, claim, claim_one, finish, poll, run_job
from ttsqueue import maintenance
from ttsqueue.backends.base import Backend, BackendOptions, Capabilities, WorkerInfo
from ttsqueue.models import ApiKey, JobStatus, ReapResult
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage, write_atomic


async def test_open_store_answers_and_declares_capabilities(backend: Backend) -> None:
    await backend.ping()
    assert isinstance(backend.capabilities, Capabilities)
    assert await backend.reap() == ReapResult(requeued=0, failed=0)


async def test_prune_removes_only_old_finished_jobs(backend: Backend) -> None:
    done = await add(backend, book("alice", 1, idempotency_key="done"))
    await run_job(backend, done.id)
    failed = await add(backend, book("alice", 1))
    assert await backend.fail((await claim_one(backend)).lease, error="x", retry_at=None)
    cancelled = await add(backend, book("bob", 1))
    await backend.cancel(cancelled.id)
    running = await add(backend, book("bob", 2))
    await claim_one(backend)
    queued = await add(backend, book("carol", 1))
    finished_by = time.time()

    assert await backend.prune(older_than=finished_by - 3600) == []
    pruned = await backend.prune(older_than=finished_by + 1)
    assert sorted(pruned) == sorted([done.id, failed.id, cancelled.id])
    for gone in (done, failed, cancelled):
        assert await backend.get(gone.id) is None
        assert await backend.events(gone.id) == []
    for kept in (running, queued):
        assert await backend.get(kept.id) is not None
        assert await backend.events(kept.id) != []
    stats = await backend.stats()
    assert stats.jobs[JobStatus.PROCESSING] == 1 and stats.jobs[JobStatus.QUEUED] == 1
    assert stats.jobs[JobStatus.COMPLETED] == 0 and stats.tasks["cancelled"] == 0
    assert await backend.prune(older_than=time.time() + 1) == []

    (again,) = await backend.enqueue([book("alice", 1, idempotency_key="done")])
    assert again.created  # the pruned job no longer holds its key


def job_files(storage: Storage, job_id: str) -> None:
    """What a job leaves on disk: a cover, chapters (one half-written by a killed
    worker) and the book."""
    directory = storage.job_dir(job_id)
    write_atomic(directory / "cover.png", lambda p: p.write_bytes(b"png"))
    write_atomic(storage.chapter_path(job_id, 0, ".m4a"), lambda p: p.write_bytes(b"aac"))
    (directory / ".chapter-002.0123abcd.tmp.m4a").write_bytes(b"half")
    write_atomic(storage.book_path(job_id, ".m4b"), lambda p: p.write_bytes(b"book"))


async def test_prune_leaves_no_file_of_the_jobs_it_deletes(
    backend: Backend, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", retention_days=0)
    storage = Storage(settings.audio_dir)
    done = await add(backend, book("alice", 1))
    await run_job(backend, done.id)
    failed = await add(backend, book("alice", 2))
    assert await backend.fail((await claim_one(backend)).lease, error="x", retry_at=None)
    cancelled = await add(backend, book("bob", 2))
    await backend.cancel(cancelled.id)
    running = await add(backend, book("carol", 1))
    await claim_one(backend)
    for job in (done, failed, cancelled, running):
        job_files(storage, job.id)
    await asyncio.sleep(0.01)  # finished strictly before the cutoff

    pruned = await maintenance.prune(backend, storage, settings)

    assert sorted(pruned) == sorted([done.id, failed.id, cancelled.id])
    left = sorted(p.relative_to(storage.root).as_posix() for p in storage.root.rglob("*"))
    assert left == [running.id] + [
        f"{running.id}/{name}"
        for name in (".chapter-002.0123abcd.tmp.m4a", "book.m4b", "chapter-001.m4a", "cover.png")
    ]


async def test_existing_jobs_names_the_jobs_the_store_holds(backend: Backend) -> None:
    done = await add(backend, book("bob", 1))
    await run_job(backend, done.id)
    queued = await add(backend, book("alice", 1))
    assert await backend.existing_jobs([]) == set()
    asked = [queued.id, "no-such-job", done.id, queued.id]
    assert await backend.existing_jobs(asked) == {queued.id, done.id}
    await backend.prune(older_than=time.time() + 1)
    assert await backend.existing_jobs(asked) == {queued.id}


async def test_garbage_collection_removes_what_belongs_to_no_job(
    backend: Backend, tmp_path: Path
) -> None:
    storage = Storage(tmp_path / "audio")
    live = await add(backend, book("alice", 1))
    job_files(storage, live.id)
    job_files(storage, "no-such-job")  # e.g. pruned by a process that died before rmtree

    young = await maintenance.collect_garbage(backend, storage)  # default ages: all too new
    assert young.orphans == [] and young.temp_files == []
    collected = await maintenance.collect_garbage(
        backend, storage, orphan_min_age_s=0, temp_min_age_s=0
    )

    assert collected.orphans == ["no-such-job"]
    assert [p.name for p in collected.temp_files] == [".chapter-002.0123abcd.tmp.m4a"]
    assert sorted(p.name for p in storage.root.iterdir()) == [live.id]
    assert sorted(p.name for p in storage.job_dir(live.id).iterdir()) == [
        "book.m4b",
        "chapter-001.m4a",
        "cover.png",
    ]


async def test_wait_for_work_really_waits_when_nothing_happens(backend: Backend) -> None:
    # An idle worker must sleep until work comes or the timeout ends, not spin.
    await backend.wait_for_work(0.05)  # any listener is set up by now
    for timeout in (0.1, 0.4):
        start = time.monotonic()
        await backend.wait_for_work(timeout)
        assert time.monotonic() - start >= timeout - 0.02
    waiter = asyncio.create_task(backend.wait_for_work(60))
    try:
        done, _ = await asyncio.wait({waiter}, timeout=0.5)
        assert not done, "wait_for_work returned with no work in the store"
    finally:
        waiter.cancel()


async def wakes_on(backend: Backend, make_work: Callable[[], Awaitable[None]]) -> None:
    """Wait (with a long timeout) while ``make_work`` is repeated until the waiter wakes."""
    waiter = asyncio.create_task(backend.wait_for_work(60))
    try:
        end = time.monotonic() + 20
        while not waiter.done():
            assert time.monotonic() < end, "wait_for_work did not wake on new work"
            await make_work()
            await asyncio.wait({waiter}, timeout=0.5)
    finally:
        waiter.cancel()


async def test_wait_for_work_wakes_on_enqueue_and_release(backend: Backend) -> None:
    # Every store wakes a waiter on new work: by a push where it can, else by polling.
    async def enqueue() -> None:
        await add(backend, book("alice", 1))

    await wakes_on(backend, enqueue)

    async def release() -> None:
        for t in await claim(backend):
            await backend.release([t.lease])

    await wakes_on(backend, release)


def worker(worker_id: str, *tasks: str) -> WorkerInfo:
    return WorkerInfo(
        id=worker_id,
        host="host-1",
        pid=1234,
        version="0.1.0",
        concurrency=4,
        tasks=tasks,
        started_at=1_700_000_000.0,
    )


async def test_workers_registry(backend: Backend) -> None:
    before = time.time()
    await backend.register_worker(worker("w-b"))
    await backend.register_worker(worker("w-a", "job.0"))
    listed = await backend.list_workers()
    assert [w.id for w in listed] == ["w-a", "w-b"]
    a = listed[0]
    assert (a.host, a.pid, a.version, a.concurrency, a.tasks) == (
        "host-1",
        1234,
        "0.1.0",
        4,
        ("job.0",),
    )
    assert a.started_at == 1_700_000_000.0
    assert before - 0.5 <= a.last_seen_at <= time.time() + 0.5

    await backend.register_worker(worker("w-a", "job.1", "job.2"))
    assert (await backend.list_workers())[0].tasks == ("job.1", "job.2")
    await backend.unregister_worker("w-a")
    await backend.unregister_worker("never-registered")
    assert [w.id for w in await backend.list_workers()] == ["w-b"]


@pytest.mark.parametrize("backend_options", [BackendOptions(worker_ttl_s=0.3)])
async def test_a_silent_worker_drops_off_the_list(backend: Backend) -> None:
    await backend.register_worker(worker("w-1"))

    async def gone() -> bool:
        return await backend.list_workers() == []

    await poll(gone)
    await backend.register_worker(worker("w-1"))
    assert [w.id for w in await backend.list_workers()] == ["w-1"]


async def test_api_keys(backend: Backend) -> None:
    key = ApiKey(
        id="key-1",
        key_hash="ab" * 32,
        user_id="alice",
        premium=True,
        admin=False,
        label="laptop",
        created_at=1_700_000_000.0,
    )
    await backend.put_api_key(key)
    assert await backend.get_api_key("ab" * 32) == key
    assert await backend.get_api_key("cd" * 32) is None
    older = dataclasses.replace(key, id="key-0", key_hash="ef" * 32, created_at=1_600_000_000.0)
    await backend.put_api_key(older)
    assert await backend.list_api_keys() == [older, key]
    assert await backend.revoke_api_key("key-1") is True
    assert await backend.revoke_api_key("key-1") is False
    assert await backend.get_api_key("ab" * 32) is None
    assert await backend.list_api_keys() == [older]


async def test_finished_work_is_not_claimed_again(backend: Backend) -> None:
    job = await add(backend, book("alice", 1))
    await finish(backend, await claim_one(backend))
    await finish(backend, await claim_one(backend))
    assert await claim(backend) == []
    assert (await backend.stats()).tasks["completed"] == 2
    assert job.total_chapters == 1
