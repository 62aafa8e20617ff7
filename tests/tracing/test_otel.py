"""Tracing with the otel extra: one book is one trace, from the API request through
enqueue, claim, synthesis and assembly; the context crosses to the worker only through
the store (the job's ``traceparent``). Spans are read from the SDK's in-memory exporter.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.api.conftest import ALICE, SECRET, book
from ttsqueue import tracing, tts
from ttsqueue.api.app import create_app
from ttsqueue.backends import Backend, BackendOptions, open_backend
from ttsqueue.queue import Queue
from ttsqueue.settings import Settings
from ttsqueue.worker import Worker

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracing.configure(True, provider)
    try:
        yield memory
    finally:
        tracing.disable()
        provider.shutdown()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="memory://",
        data_dir=tmp_path,
        jwt_secret=SECRET,
        default_format="mp3",
        heartbeat_s=0.2,
        poll_interval_s=0.1,
        tracing=True,
    )


def _trace(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.trace_id, "032x")


async def test_one_book_is_one_trace_from_the_request_to_the_audiobook(
    exporter: InMemorySpanExporter, settings: Settings, tmp_path: Path
) -> None:
    async with open_backend("memory://", BackendOptions(event_poll_s=0.05)) as backend:
        queue = Queue(backend, settings, check_voice=tts.check_voice, check_text=tts.check_text)
        app = create_app(settings, queue=queue)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            headers = {**ALICE, "traceparent": CALLER}
            r = await client.post("/v1/jobs", json=book(2), headers=headers)
            assert r.status_code == 201, r.text
            job_id = r.json()["id"]
            other = await client.post("/v1/jobs", json=book(1), headers=ALICE)
            assert other.status_code == 201

        stored = await backend.get(job_id)
        assert stored is not None
        carried = str(stored.metadata[tracing.TRACEPARENT])
        assert carried.split("-")[1] == CALLER_TRACE

        # The worker runs in a context of its own: the trace reaches it only through the
        # store, as it would in another process.
        await asyncio.create_task(
            _run_worker(backend, settings, job_id), context=contextvars.Context()
        )

    spans = exporter.get_finished_spans()
    mine = [s for s in spans if _trace(s) == CALLER_TRACE]
    names = sorted(s.name for s in mine)
    assert names == sorted(
        [
            "POST /v1/jobs",
            "ttsqueue.enqueue",
            "ttsqueue.claim",
            "ttsqueue.claim",
            "ttsqueue.claim",
            "ttsqueue.synthesize",
            "ttsqueue.synthesize",
            "ttsqueue.assemble",
        ]
    ), names
    by_name = {s.name: s for s in mine}
    request, enqueue = by_name["POST /v1/jobs"], by_name["ttsqueue.enqueue"]
    assert (
        request.parent is not None
        and format(request.parent.span_id, "016x") == CALLER.split("-")[2]
    )
    assert request.attributes is not None
    assert request.attributes["http.response.status_code"] == 201
    assert enqueue.parent is not None and request.context is not None
    assert enqueue.parent.span_id == request.context.span_id
    assert enqueue.attributes is not None and enqueue.attributes["ttsqueue.job_id"] == job_id
    for s in mine:
        if s.name.startswith(("ttsqueue.claim", "ttsqueue.synthesize", "ttsqueue.assemble")):
            assert s.parent is not None and enqueue.context is not None
            assert s.parent.span_id == enqueue.context.span_id, s.name
            assert s.attributes is not None and s.attributes["ttsqueue.job_id"] == job_id
    chapters = sorted(
        int(s.attributes["ttsqueue.chapter"])  # type: ignore[index,arg-type]
        for s in mine
        if s.name == "ttsqueue.synthesize"
    )
    assert chapters == [1, 2]

    # the other book (no caller context) is a trace of its own
    others = {_trace(s) for s in spans if _trace(s) != CALLER_TRACE}
    assert len(others) == 1


async def _run_worker(backend: Backend, settings: Settings, job_id: str) -> None:
    with ThreadPoolExecutor(2) as pool:
        worker = Worker(backend, settings, concurrency=2, pool=pool, worker_id="trace-w")
        running = asyncio.create_task(worker.run())
        deadline = time.monotonic() + 60
        try:
            while True:
                job = await backend.get(job_id)
                assert job is not None
                if job.status.terminal:
                    assert job.status.value == "completed", job.error
                    return
                assert time.monotonic() < deadline, "the book did not finish"
                await asyncio.sleep(0.1)
        finally:
            worker.stop()
            await running


def test_tracing_needs_the_extra_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if not installed
    with pytest.raises(RuntimeError, match=r"pip install 'ttsqueue\[otel\]'"):
        tracing.configure(True)
    assert not tracing.enabled()
