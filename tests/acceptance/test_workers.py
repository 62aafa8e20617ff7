"""A book through the real CLI and real worker processes, including a worker killed
with SIGKILL in the middle of a chapter."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.acceptance.conftest import Cli, free_port, wait_until
from ttsqueue.audio.encode import probe_duration
from ttsqueue.backends import open_backend
from ttsqueue.models import EventType, Job, JobStatus, TaskKind, TaskStatus

pytestmark = pytest.mark.slow

PARAGRAPH = (
    "The keeper climbed the stairs at dusk and wound the clock with a brass key. "
    "Every morning it was exactly nine minutes slow, and nobody knew why. "
)


def write_book(path: Path, chapters: int, paragraphs: int) -> None:
    parts = ["# A Test Book\n"]
    for i in range(1, chapters + 1):
        parts.append(f"## Chapter {i}: Part {i}\n")
        parts.append("\n\n".join(f"{PARAGRAPH} Paragraph {p}." for p in range(paragraphs)))
    path.write_text("\n\n".join(parts), encoding="utf-8")


def read_job(cli: Cli, job_id: str) -> Job:
    async def run() -> Job:
        async with open_backend(cli.env["TTSQUEUE_DATABASE_URL"]) as backend:
            job = await backend.get(job_id)
            assert job is not None
            return job

    return asyncio.run(run())


def chapter_events(cli: Cli, job_id: str) -> list[int]:
    async def run() -> list[int]:
        async with open_backend(cli.env["TTSQUEUE_DATABASE_URL"]) as backend:
            events = await backend.events(job_id)
            return [e.data["index"] for e in events if e.type is EventType.CHAPTER_COMPLETED]

    return asyncio.run(run())


def assert_complete_book(cli: Cli, job: Job, chapters: int) -> None:
    assert job.status is JobStatus.COMPLETED, job.error
    assert job.progress_percent == 100.0
    audio = cli.data_dir / "audio"
    synth = [t for t in job.tasks if t.kind is TaskKind.SYNTHESIZE]
    assert [t.index for t in synth] == list(range(chapters))
    assert all(t.status is TaskStatus.COMPLETED for t in job.tasks)
    files = sorted((audio / job.id).glob("chapter-*"))
    expected = [f"chapter-{i:03d}" for i in range(1, chapters + 1)]
    assert [f.name.split(".")[0] for f in files] == expected
    assert not list((audio / job.id).glob(".*tmp*")), "temporary files left behind"
    durations = [probe_duration(f) for f in files]
    assert all(d > 1.0 for d in durations)
    assert job.result is not None
    book = audio / str(job.result["path"])
    total = probe_duration(book)
    assert total == pytest.approx(sum(durations), rel=0.01)
    assert len(job.result["chapters"]) == chapters


def test_two_workers_read_a_book(cli: Cli, tmp_path: Path) -> None:
    write_book(tmp_path / "book.md", chapters=5, paragraphs=3)
    job_id = cli.run("submit", "book.md", "--format", "m4b").strip()
    ports = [free_port(), free_port()]
    workers = [
        cli.start("worker", "--concurrency", "2", "--metrics-port", str(port)) for port in ports
    ]

    status = cli.run("status", job_id, timeout=120)
    assert "completed" in status

    job = read_job(cli, job_id)
    assert_complete_book(cli, job, chapters=5)
    assert sorted(chapter_events(cli, job_id)) == list(range(5))
    # each worker serves its own counters; together they read every chapter once
    done = {"synthesize": 0.0, "assemble": 0.0}
    for port in ports:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "ttsqueue_tasks_completed_total":
                    done[sample.labels["kind"]] += sample.value
    assert done == {"synthesize": 5.0, "assemble": 1.0}
    # both worker processes exist and shut down cleanly on SIGTERM
    for w in workers:
        w.send_signal(signal.SIGTERM)
    for w in workers:
        assert w.wait(30) == 0, cli.log_of(w)


def test_sigkill_mid_chapter_loses_nothing(cli: Cli, tmp_path: Path) -> None:
    write_book(tmp_path / "book.md", chapters=5, paragraphs=40)
    job_id = cli.run("submit", "book.md", "--format", "wav").strip()
    victim = cli.start("worker", "--concurrency", "2")

    def victim_is_reading() -> bool:
        job = read_job(cli, job_id)
        return any(
            t.status is TaskStatus.RUNNING and t.worker_id and f"-{victim.pid}-" in t.worker_id
            for t in job.tasks
        )

    wait_until(victim_is_reading, 60, "the first worker to start a chapter")
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(10) == -signal.SIGKILL
    killed = read_job(cli, job_id)
    assert killed.status is JobStatus.PROCESSING
    assert any(t.status is TaskStatus.RUNNING for t in killed.tasks)

    survivor = cli.start("worker", "--concurrency", "2")
    cli.run("status", job_id, timeout=180)
    job = read_job(cli, job_id)
    assert_complete_book(cli, job, chapters=5)
    # each chapter was accepted exactly once, whoever read it
    assert sorted(chapter_events(cli, job_id)) == list(range(5))
    # the chapter the victim held was run again (a second attempt)
    assert any(t.attempts >= 2 for t in job.tasks)
    survivor.send_signal(signal.SIGTERM)
    assert survivor.wait(30) == 0, cli.log_of(survivor)
