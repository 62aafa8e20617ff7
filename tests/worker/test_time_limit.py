"""Time limits: a chapter whose engine hangs is stopped — its pool process killed and
replaced — and retried; the timeout is the error the user sees.

The hung engine is real: the OpenAI-compatible engine, in the worker's own process
pool, calling a speech server that accepts the request and never answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ttsqueue import tts
from ttsqueue.backends import Backend, BackendOptions, open_backend
from ttsqueue.models import Chapter, ClaimedTask, EventType, Job, JobSpec, Lease, TaskKind, Voice
from ttsqueue.settings import Settings
from ttsqueue.tts.base import Speech
from ttsqueue.tts.wav import to_wav
from ttsqueue.worker import Worker
from ttsqueue.worker_pool import time_limit

LIMIT_S = 3.0


@dataclass
class HangingServer:
    url: str
    hang_first: int  # this many requests get no answer, ever
    requests: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.release = threading.Event()


def _handler(state: HangingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                state.requests += 1
                hang = state.requests <= state.hang_first
            if hang:
                state.release.wait(300)  # the test's end lets it go
                return
            body = to_wav(Speech(bytes(2 * 2400), 24000))  # 0.1 s of silence
            self.send_response(200)
            self.send_header("Content-Type", "audio/wav")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextlib.contextmanager
def _serve(hang_first: int) -> Iterator[HangingServer]:
    state = HangingServer(url="", hang_first=hang_first)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url="memory://",
        data_dir=tmp_path / "data",
        lease_s=30,
        heartbeat_s=0.2,
        reap_interval_s=0.5,
        poll_interval_s=0.1,
        retry_base_s=0.1,
        retry_max_s=0.2,
        task_timeout_base_s=LIMIT_S,
        task_timeout_per_kchar_s=0,
    )


@pytest.fixture
async def backend() -> Any:
    async with open_backend("memory://", BackendOptions(event_poll_s=0.05)) as b:
        yield b


def _use_server(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    # The pool's processes are spawned and read the engine's configuration from here;
    # the engine's own HTTP timeout is far past the limit, so only the limit stops it.
    monkeypatch.setenv("TTSQUEUE_OPENAI_BASE_URL", url)
    monkeypatch.setenv("TTSQUEUE_OPENAI_TIMEOUT_S", "600")
    monkeypatch.setattr(tts, "_engines", {})


async def _enqueue(backend: Backend, max_attempts: int) -> str:
    spec = JobSpec(
        user_id="alice",
        chapters=(Chapter(title="One", text="A short chapter the engine never reads."),),
        voice=Voice(engine="openai", name="alloy"),
        output_format="wav",
        max_attempts=max_attempts,
    )
    [result] = await backend.enqueue([spec])
    return result.job.id


async def _run_until_done(worker: Worker, backend: Backend, job_id: str, within: float) -> Job:
    running = asyncio.create_task(worker.run())
    deadline = time.monotonic() + within
    try:
        while True:
            job = await backend.get(job_id)
            assert job is not None
            if job.status.terminal:
                return job
            assert time.monotonic() < deadline, f"job still {job.status} after {within}s"
            assert not running.done(), "the worker stopped"
            await asyncio.sleep(0.1)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 60)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_hung_engine_is_killed_and_the_chapter_retried(
    backend: Backend, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _serve(hang_first=1) as server:
        _use_server(monkeypatch, server.url)
        job_id = await _enqueue(backend, max_attempts=3)
        worker = Worker(backend, settings, concurrency=1, worker_id="limit-w")
        hung_pids: list[int] = []

        async def watch() -> None:  # the pool process that took the hung call
            while not hung_pids:
                if server.requests >= 1 and worker._slots is not None:
                    hung_pids.extend(worker._slots.pids(0))
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        started = time.monotonic()
        job = await _run_until_done(worker, backend, job_id, within=120)
        watcher.cancel()

        assert job.status.value == "completed", job.error
        chapter = next(t for t in job.tasks if t.kind is TaskKind.SYNTHESIZE)
        assert chapter.attempts == 2
        assert server.requests == 2
        # Stopped at the limit, not at the engine's own 600 s HTTP timeout.
        assert time.monotonic() - started < 90
        assert worker._slots is not None and worker._slots.killed == 1
        assert hung_pids and not any(_alive(p) for p in hung_pids)

        events = await backend.events(job_id)
        retrying = [e for e in events if e.type is EventType.TASK_RETRYING]
        assert len(retrying) == 1
        assert "ran past its time limit of 3 s" in str(retrying[0].data)


async def test_a_chapter_that_always_hangs_fails_the_job_with_the_timeout(
    backend: Backend, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _serve(hang_first=10) as server:
        _use_server(monkeypatch, server.url)
        job_id = await _enqueue(backend, max_attempts=2)
        worker = Worker(backend, settings, concurrency=2, worker_id="limit-w2")
        job = await _run_until_done(worker, backend, job_id, within=120)

        assert job.status.value == "failed"
        assert job.error is not None
        assert "chapter 1 ran past its time limit of 3 s and was stopped" in job.error
        assert server.requests == 2
        assert worker._slots is not None and worker._slots.killed == 2


def _claimed(kind: TaskKind, engine: str, chars: int) -> ClaimedTask:
    return ClaimedTask(
        lease=Lease("t", 1),
        job_id="j",
        user_id="u",
        kind=kind,
        index=0,
        attempt=1,
        max_attempts=3,
        lease_expires_at=0.0,
        payload={"voice": {"engine": engine, "name": "x"}, "text": "a" * chars},
    )


def test_the_limit_scales_with_the_chapter_and_its_engine() -> None:
    s = Settings(
        task_timeout_base_s=10,
        task_timeout_per_kchar_s=2,
        task_timeout_per_kchar_by_engine={"openai": 20},
        assemble_timeout_s=100,
    )
    assert time_limit(_claimed(TaskKind.SYNTHESIZE, "espeak", 0), s) == 10
    assert time_limit(_claimed(TaskKind.SYNTHESIZE, "espeak", 5000), s) == 20
    assert time_limit(_claimed(TaskKind.SYNTHESIZE, "openai", 5000), s) == 110
    assert time_limit(_claimed(TaskKind.ASSEMBLE, "openai", 5000), s) == 110
