"""Several worker processes, each with its own SqliteBackend, sharing one file."""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.queues
import multiprocessing.synchronize
import queue
import sqlite3
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ttsqueue.backends import BackendOptions, open_backend
from ttsqueue.backends.base import Completion
from ttsqueue.models import Chapter, JobSpec, JobStatus, TaskStatus

WORKERS = 4
JOBS = 100
CHAPTERS = 3  # + 1 assemble task: 400 tasks in all

if TYPE_CHECKING:
    Report = multiprocessing.queues.Queue[tuple[str, list[str]]]


def _work(
    url: str,
    name: str,
    start: multiprocessing.synchronize.Barrier,
    out: Report,
) -> None:
    start.wait(60)

    async def main() -> list[str]:
        done: list[str] = []
        async with open_backend(url, BackendOptions(event_poll_s=0.02)) as backend:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                claimed = await backend.claim(worker_id=name, limit=4, lease_s=60)
                if not claimed:
                    stats = await backend.stats()
                    if stats.jobs[JobStatus.COMPLETED] == JOBS:
                        break
                    await backend.wait_for_work(0.05)
                    continue
                ok = await backend.complete([Completion(c.lease, {"by": name}) for c in claimed])
                done += [
                    c.lease.task_id for c, accepted in zip(claimed, ok, strict=True) if accepted
                ]
        return done

    out.put((name, asyncio.run(main())))


def _collect(
    out: Report,
    procs: Sequence[multiprocessing.process.BaseProcess],
) -> list[tuple[str, list[str]]]:
    """Every worker's report; fail at once when a worker died without one."""
    found: list[tuple[str, list[str]]] = []
    deadline = time.monotonic() + 110
    while len(found) < len(procs) and time.monotonic() < deadline:
        try:
            found.append(out.get(timeout=0.5))
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            assert not dead, f"a worker process died (exit codes {dead})"
    return found


@pytest.mark.slow
async def test_four_processes_complete_every_task_exactly_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    specs = [
        JobSpec(
            user_id=f"user{i % 7}",
            priority=i % 3,
            chapters=tuple(Chapter(f"ch{k}", "text") for k in range(CHAPTERS)),
            max_concurrency=50,
        )
        for i in range(JOBS)
    ]
    async with open_backend(url) as backend:
        await backend.enqueue(specs)

    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(WORKERS)
    out = ctx.Queue()
    procs = [ctx.Process(target=_work, args=(url, f"w{i}", start, out)) for i in range(WORKERS)]
    for p in procs:
        p.start()
    results = dict(await asyncio.to_thread(_collect, out, procs))
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0] * WORKERS

    completed = Counter(t for done in results.values() for t in done)
    assert len(completed) == JOBS * (CHAPTERS + 1)
    assert set(completed.values()) == {1}, "a task was completed twice"
    assert sum(1 for done in results.values() if done) >= 2, "the work was shared"

    async with open_backend(url) as backend:
        stats = await backend.stats()
        assert stats.jobs[JobStatus.COMPLETED] == JOBS
        assert stats.tasks[TaskStatus.COMPLETED] == JOBS * (CHAPTERS + 1)
        for spec in specs[:10]:
            events = await backend.events(spec.id)
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
            job = await backend.get(spec.id)
            assert job is not None and all(t.attempts == 1 for t in job.tasks)
    with sqlite3.connect(tmp_path / "shared.db") as conn:
        claims = conn.execute("SELECT value FROM counters WHERE name = 'claims'").fetchone()[0]
        running = conn.execute("SELECT sum(running), sum(pending) FROM users").fetchone()
    assert claims == JOBS * (CHAPTERS + 1)
    assert tuple(running) == (0, 0)
