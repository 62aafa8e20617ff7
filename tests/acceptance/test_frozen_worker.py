"""A worker frozen with SIGSTOP past its lease, then resumed with SIGCONT, on every
shared store: its chapter was taken over meanwhile, and its late heartbeat and late
completion are refused, so every chapter is accepted exactly once.

(The memory store lives in one process, so there is no second worker to take over.)
"""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.conftest import Cli, wait_until
from tests.acceptance.test_workers import assert_complete_book, write_book
from tests.stores import postgres as pg_store
from tests.stores import redis as redis_store
from tests.stores import service_url
from ttsqueue.backends import open_backend
from ttsqueue.backends.base import Completion
from ttsqueue.models import EventType, Job, Lease, TaskStatus

pytestmark = pytest.mark.slow

CLAIMED = re.compile(r"task (\S+) claimed: job (\S+), chapter \d+, attempt \d+, token (\d+)")


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cli]:
    store = str(request.param)
    if store == "sqlite":
        url = f"sqlite:///{tmp_path / 'queue.db'}"
    elif store == "postgres":
        schema = pg_store.new_schema()
        url = pg_store.url_for(schema)
    else:
        prefix = redis_store.new_prefix()
        url = redis_store.url(prefix)
    c = Cli(tmp_path, extra_env={"TTSQUEUE_DATABASE_URL": url})
    try:
        c.run("migrate")
        yield c
    finally:
        c.stop_all()
        if store == "postgres":
            asyncio.run(pg_store.drop_schema(schema))
        elif store == "redis":
            asyncio.run(redis_store.delete_prefix(service_url("TTSQUEUE_TEST_REDIS_URL"), prefix))


def read_job(cli: Cli, job_id: str) -> Job:
    async def run() -> Job:
        async with open_backend(cli.env["TTSQUEUE_DATABASE_URL"]) as backend:
            job = await backend.get(job_id)
            assert job is not None
            return job

    return asyncio.run(run())


def late_writes(cli: Cli, lease: Lease) -> tuple[list[bool], frozenset[str]]:
    """What the store answers the frozen worker's lease: a completion, then a heartbeat."""

    async def run() -> tuple[list[bool], frozenset[str]]:
        async with open_backend(cli.env["TTSQUEUE_DATABASE_URL"]) as backend:
            done = await backend.complete([Completion(lease, {"path": "late.wav"})])
            beat = await backend.heartbeat([lease], lease_s=60, progress={lease.task_id: 0.9})
            return done, frozenset(beat.lost)

    return asyncio.run(run())


def claims(log: str) -> dict[str, Lease]:
    return {m.group(1): Lease(m.group(1), int(m.group(3))) for m in CLAIMED.finditer(log)}


def test_a_frozen_worker_resumed_after_its_lease_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    write_book(tmp_path / "book.md", chapters=3, paragraphs=60)
    job_id = cli.run("submit", "book.md", "--format", "wav").strip()
    victim = cli.start("worker", "--concurrency", "1")

    held: dict[str, Lease] = {}

    def victim_is_reading() -> bool:
        held.update(claims(cli.log_of(victim)))
        running = {t.id for t in read_job(cli, job_id).tasks if t.status is TaskStatus.RUNNING}
        return bool(held.keys() & running)

    wait_until(victim_is_reading, 60, "the first worker to start a chapter")
    victim.send_signal(signal.SIGSTOP)  # frozen mid-chapter: no heartbeat, no writes
    try:
        (task_id,) = held.keys() & {
            t.id for t in read_job(cli, job_id).tasks if t.status is TaskStatus.RUNNING
        }
        stale = held[task_id]
        survivor = cli.start("worker", "--concurrency", "2")

        def taken_over() -> bool:
            task = next(t for t in read_job(cli, job_id).tasks if t.id == task_id)
            return task.attempts >= 2 and f"-{survivor.pid}-" in (task.worker_id or "")

        wait_until(taken_over, 60, "a second worker to take over the frozen worker's chapter")
        # While the new holder is still reading, the old lease writes nothing.
        done, lost = late_writes(cli, stale)
        assert done == [False], "a stale completion was accepted"
        assert lost == {task_id}, "a stale heartbeat was not told the lease is lost"
    finally:
        victim.send_signal(signal.SIGCONT)

    def victim_let_go() -> bool:
        log = cli.log_of(victim)
        return f"task {task_id} stopped: lost" in log or (
            f"task {task_id}: completion refused" in log
        )

    wait_until(victim_let_go, 60, "the resumed worker to hear that its lease is lost")
    cli.run("status", job_id, timeout=180)
    job = read_job(cli, job_id)
    assert_complete_book(cli, job, chapters=3)
    events = asyncio.run(_events(cli, job_id))
    done_chapters = sorted(e.data["index"] for e in events if e.type is EventType.CHAPTER_COMPLETED)
    assert done_chapters == [0, 1, 2]  # each chapter accepted exactly once
    task = next(t for t in job.tasks if t.id == task_id)
    assert f"-{survivor.pid}-" in (task.worker_id or "")
    for proc in (victim, survivor):
        proc.send_signal(signal.SIGTERM)
    for proc in (victim, survivor):
        assert proc.wait(30) == 0, cli.log_of(proc)


async def _events(cli: Cli, job_id: str) -> list[Any]:
    async with open_backend(cli.env["TTSQUEUE_DATABASE_URL"]) as backend:
        return await backend.events(job_id)
