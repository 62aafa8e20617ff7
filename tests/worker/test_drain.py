"""Draining a worker: a real ``ttsqueue worker`` process is told to drain from the CLI,
sees it on its heartbeat tick, finishes what it holds and exits 0."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from ttsqueue.backends import open_backend
from ttsqueue.models import TaskStatus


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "TTSQUEUE_DATABASE_URL": f"sqlite:///{root / 'queue.db'}",
            "TTSQUEUE_DATA_DIR": str(root / "data"),
            "TTSQUEUE_HEARTBEAT_S": "0.3",
            "TTSQUEUE_POLL_INTERVAL_S": "0.2",
            "TTSQUEUE_LEASE_S": "10",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _cli(root: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "ttsqueue", *args],
        env=_env(root),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )
    assert (done.returncode == 0) is ok, done.stderr
    return done


async def _worker_ids(url: str) -> dict[int, str]:
    async with open_backend(url) as backend:
        return {w.pid: w.id for w in await backend.list_workers()}


async def _task_states(url: str, job_id: str) -> list[TaskStatus]:
    async with open_backend(url) as backend:
        job = await backend.get(job_id)
        assert job is not None
        return [t.status for t in job.tasks]


def test_a_drained_worker_finishes_and_exits_zero(tmp_path: Path) -> None:
    url = _env(tmp_path)["TTSQUEUE_DATABASE_URL"]
    _cli(tmp_path, "migrate")
    _cli(tmp_path, "worker-drain", "nobody", ok=False)  # no such live worker
    book = tmp_path / "book.md"
    book.write_text("".join(f"# Part {i}\n\nA short part, number {i}.\n\n" for i in range(6)))
    job_id = _cli(tmp_path, "submit", str(book), "--format", "wav").stdout.strip()

    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ttsqueue", "worker", "--concurrency", "1"],
        env=_env(tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 60
        while proc.pid not in (ids := asyncio.run(_worker_ids(url))):
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "the worker never registered"
            time.sleep(0.2)
        out = _cli(tmp_path, "worker-drain", ids[proc.pid]).stdout
        assert '"requested": true' in out
        assert proc.wait(60) == 0, (tmp_path / "worker.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
    text = (tmp_path / "worker.log").read_text()
    assert "drain requested" in text
    states = asyncio.run(_task_states(url, job_id))
    assert TaskStatus.RUNNING not in states  # what it held was finished or given back
    assert asyncio.run(_worker_ids(url)) == {}  # it unregistered
