"""Limits per engine: concurrent chapters and calls a minute per worker, and an engine's
``Retry-After`` releasing the chapter until then without spending an attempt.

The worker runs for real (its own pool processes) against an OpenAI-compatible speech
server in the test that counts requests in flight and answers 429 when told to.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import pickle
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ttsqueue import tts
from ttsqueue.backends import Backend, BackendOptions, open_backend
from ttsqueue.models import Chapter, EventType, Job, JobSpec, TaskKind, Voice
from ttsqueue.settings import Settings
from ttsqueue.tts.base import EngineBusy, EngineError, Speech
from ttsqueue.tts.openai_http import MAX_RETRY_AFTER_S, OpenAIEngine, retry_after_s
from ttsqueue.tts.wav import to_wav
from ttsqueue.worker import Worker
from ttsqueue.worker_limits import EngineLimits


@dataclass
class Server:
    url: str = ""
    delay_s: float = 0.0
    busy: list[tuple[int, str | None]] = field(default_factory=list)  # answers to give first
    times: list[float] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(state: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.times.append(time.time())
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
                answer = state.busy.pop(0) if state.busy else None
            try:
                time.sleep(state.delay_s)
                if answer is not None:
                    status, retry_after = answer
                    headers = {"Content-Type": "application/json"}
                    if retry_after is not None:
                        headers["Retry-After"] = retry_after
                    return self._reply(status, b'{"error": "slow down"}', headers)
                body = to_wav(Speech(bytes(2 * 2400), 24000))
                self._reply(200, body, {"Content-Type": "audio/wav"})
            finally:
                with state.lock:
                    state.in_flight -= 1

    return Handler


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    state = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    # the worker's pool processes are spawned and configure the engine from here
    monkeypatch.setenv("TTSQUEUE_OPENAI_BASE_URL", state.url)
    monkeypatch.setattr(tts, "_engines", {})
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    async with open_backend("memory://", BackendOptions(event_poll_s=0.05)) as b:
        yield b


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        database_url="memory://",
        data_dir=tmp_path / "data",
        lease_s=30,
        heartbeat_s=0.2,
        reap_interval_s=0.5,
        poll_interval_s=0.1,
        retry_base_s=0.1,
        retry_max_s=0.2,
        **extra,
    )


async def _enqueue(backend: Backend, chapters: int, max_attempts: int) -> str:
    spec = JobSpec(
        user_id="alice",
        chapters=tuple(Chapter(title=f"C{i}", text=f"Chapter {i}.") for i in range(chapters)),
        voice=Voice(engine="openai", name="alloy"),
        output_format="wav",
        max_attempts=max_attempts,
        max_concurrency=10,
    )
    [result] = await backend.enqueue([spec])
    return result.job.id


async def _run(worker: Worker, backend: Backend, job_id: str, within: float = 120) -> Job:
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


async def test_a_429_with_retry_after_releases_the_chapter_and_spends_no_attempt(
    backend: Backend, server: Server, tmp_path: Path
) -> None:
    server.busy = [(429, "2")]
    # One attempt only: had the 429 spent it, the job would fail.
    job_id = await _enqueue(backend, chapters=1, max_attempts=1)
    worker = Worker(backend, _settings(tmp_path), concurrency=1, worker_id="busy-w")
    job = await _run(worker, backend, job_id)

    assert job.status.value == "completed", job.error
    chapter = next(t for t in job.tasks if t.kind is TaskKind.SYNTHESIZE)
    assert (chapter.attempts, chapter.error) == (1, None)
    assert len(server.times) == 2
    assert server.times[1] - server.times[0] >= 1.9  # not before Retry-After
    types = [e.type for e in await backend.events(job_id)]
    assert EventType.TASK_RELEASED in types
    assert EventType.TASK_RETRYING not in types


async def test_a_503_without_retry_after_is_an_ordinary_failure(
    backend: Backend, server: Server, tmp_path: Path
) -> None:
    server.busy = [(503, None)]
    job_id = await _enqueue(backend, chapters=1, max_attempts=1)
    worker = Worker(backend, _settings(tmp_path), concurrency=1, worker_id="busy-w2")
    job = await _run(worker, backend, job_id)
    assert job.status.value == "failed"
    assert job.error is not None and "speech server answered 503" in job.error


async def test_engine_concurrency_caps_the_chapters_in_flight(
    backend: Backend, server: Server, tmp_path: Path
) -> None:
    server.delay_s = 0.4
    job_id = await _enqueue(backend, chapters=4, max_attempts=1)
    settings = _settings(tmp_path, engine_concurrency={"openai": 1})
    worker = Worker(backend, settings, concurrency=3, worker_id="cap-w")
    job = await _run(worker, backend, job_id)
    assert job.status.value == "completed", job.error
    assert len(server.times) == 4
    assert server.max_in_flight == 1


async def test_without_a_cap_the_same_chapters_overlap(
    backend: Backend, server: Server, tmp_path: Path
) -> None:
    """The control for the test above: the cap, not the machine, kept them apart."""
    server.delay_s = 1.0
    job_id = await _enqueue(backend, chapters=3, max_attempts=1)
    worker = Worker(backend, _settings(tmp_path), concurrency=3, worker_id="nocap-w")
    job = await _run(worker, backend, job_id)
    assert job.status.value == "completed", job.error
    assert server.max_in_flight >= 2


async def test_calls_per_minute_space_the_calls() -> None:
    limits = EngineLimits({}, {"openai": 600})  # 10 a second, a burst of 50
    started = time.monotonic()
    await limits.before_calls("openai", 50)
    assert time.monotonic() - started < 0.5  # the burst goes at once
    await limits.before_calls("openai", 10)
    assert time.monotonic() - started >= 0.9
    other = time.monotonic()
    await limits.before_calls("espeak", 1000)  # no limit set
    assert time.monotonic() - other < 0.5


async def test_a_held_engine_sends_its_other_chapters_back() -> None:
    limits = EngineLimits({}, {})
    limits.hold("openai", time.time() + 5)
    with pytest.raises(EngineBusy) as busy:
        await limits.before_calls("openai", 1)
    assert 4 <= busy.value.retry_after_s <= 5
    await limits.before_calls("espeak", 1)


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after_s("7") == 7
    assert retry_after_s(" 1.5 ") == 1.5
    assert retry_after_s("-3") == 0
    assert retry_after_s("999999999") == MAX_RETRY_AFTER_S
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    wait = retry_after_s(date)
    assert wait is not None and 28 <= wait <= 31
    for bad in (None, "", "soon", "nan", "inf"):
        assert retry_after_s(bad) is None


def test_engine_busy_crosses_the_process_pool(server: Server) -> None:
    server.busy = [(429, "12")]
    engine = OpenAIEngine(server.url)
    with pytest.raises(EngineBusy) as busy:
        engine.synthesize("Hello.", Voice(engine="openai", name="alloy"))
    copy = pickle.loads(pickle.dumps(busy.value))
    assert isinstance(copy, EngineBusy) and isinstance(copy, EngineError)
    assert (str(copy), copy.retry_after_s) == (str(busy.value), 12)
    assert "429" in str(copy)
    with contextlib.suppress(Exception):
        engine.close()


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_with_retry_after_are_busy_as_seconds_or_a_date(
    server: Server, status: int
) -> None:
    later = email.utils.formatdate(time.time() + 90, usegmt=True)
    server.busy = [(status, "30"), (status, later), (500, "30")]
    engine = OpenAIEngine(server.url)
    voice = Voice(engine="openai", name="alloy")
    with pytest.raises(EngineBusy) as seconds:
        engine.synthesize("Hello.", voice)
    assert seconds.value.retry_after_s == 30
    with pytest.raises(EngineBusy) as dated:
        engine.synthesize("Hello.", voice)
    assert 85 <= dated.value.retry_after_s <= 91
    with pytest.raises(EngineError) as plain:  # a 500 is never "busy"
        engine.synthesize("Hello.", voice)
    assert not isinstance(plain.value, EngineBusy)
    engine.close()


async def test_a_paused_engine_is_not_called_and_its_chapter_runs_after_resume(
    backend: Backend, server: Server, tmp_path: Path
) -> None:
    await backend.pause("openai")
    # One attempt only: had the pause spent it, the job would fail.
    job_id = await _enqueue(backend, chapters=1, max_attempts=1)
    worker = Worker(backend, _settings(tmp_path), concurrency=1, worker_id="paused-w")
    running = asyncio.create_task(worker.run())
    try:
        deadline = time.monotonic() + 60
        while EventType.TASK_RELEASED not in [e.type for e in await backend.events(job_id)]:
            assert time.monotonic() < deadline, "the paused chapter was never released"
            assert not running.done(), "the worker stopped"
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # several heartbeats and claims: still nothing called
        assert server.times == []
        assert worker.paused_engines == {"openai"}
        job = await backend.get(job_id)
        assert job is not None and not job.status.terminal
    finally:
        worker.stop()
        await asyncio.wait_for(running, 60)

    assert await backend.resume("openai")
    worker = Worker(backend, _settings(tmp_path), concurrency=1, worker_id="resumed-w")
    job = await _run(worker, backend, job_id)
    assert job.status.value == "completed", job.error
    chapter = next(t for t in job.tasks if t.kind is TaskKind.SYNTHESIZE)
    assert (chapter.attempts, chapter.error) == (1, None)
    assert len(server.times) == 1
