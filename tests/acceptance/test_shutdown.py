"""SIGTERM: stop claiming, let chapters in flight finish within the grace period, give
the rest back without spending an attempt, exit 0."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from tests.acceptance.conftest import Cli, wait_until
from tests.acceptance.test_workers import read_job, write_book
from ttsqueue.backends import open_backend
from ttsqueue.models import EventType, TaskKind, TaskStatus

pytestmark = pytest.mark.slow


def running_tasks(cli: Cli, job_id: str) -> set[int]:
    job = read_job(cli, job_id)
    return {t.index for t in job.tasks if t.status is TaskStatus.RUNNING}


def event_types(cli: Cli, job_id: str) -> list[EventType]:
    async def run() -> list[EventType]:
        async with open_backend(cli.env["TTSQUEUE_DATABASE_URL"]) as backend:
            return [e.type for e in await backend.events(job_id)]

    return asyncio.run(run())


def test_sigterm_finishes_chapters_in_flight(cli: Cli, tmp_path: Path) -> None:
    write_book(tmp_path / "book.md", chapters=6, paragraphs=40)
    job_id = cli.run("submit", "book.md", "--format", "wav").strip()
    worker = cli.start("worker", "--concurrency", "1")
    wait_until(lambda: bool(running_tasks(cli, job_id)), 60, "a chapter to start")
    in_flight = running_tasks(cli, job_id)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0, cli.log_of(worker)

    job = read_job(cli, job_id)
    by_index = {t.index: t for t in job.tasks}
    for i in in_flight:  # finished, not abandoned
        assert by_index[i].status is TaskStatus.COMPLETED
    # nothing is left leased, and nothing new was claimed after the signal
    assert not [t for t in job.tasks if t.status is TaskStatus.RUNNING]
    synth = [t for t in job.tasks if t.kind is TaskKind.SYNTHESIZE]
    assert any(t.status is TaskStatus.PENDING and t.attempts == 0 for t in synth)


def test_sigterm_without_grace_releases_without_spending_an_attempt(
    cli: Cli, tmp_path: Path
) -> None:
    cli.extra_env["TTSQUEUE_SHUTDOWN_GRACE_S"] = "0"
    write_book(tmp_path / "book.md", chapters=3, paragraphs=120)
    job_id = cli.run("submit", "book.md", "--format", "wav").strip()
    worker = cli.start("worker", "--concurrency", "1")
    wait_until(lambda: bool(running_tasks(cli, job_id)), 60, "a chapter to start")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0, cli.log_of(worker)

    job = read_job(cli, job_id)
    assert not [t for t in job.tasks if t.status is TaskStatus.RUNNING]
    # the chapter in flight was given back at once, and its attempt is not counted
    assert EventType.TASK_RELEASED in event_types(cli, job_id)
    synth = [t for t in job.tasks if t.kind is TaskKind.SYNTHESIZE]
    assert all(t.status is TaskStatus.PENDING and t.attempts == 0 for t in synth), synth
