"""ttsqueue's side of the queue suite: the real Queue, backends and Worker, a no-op voice.

A job is one chapter plus its assemble task (2 tasks). Jobs come from 50 users on the
free tier (2 running chapters each), so claims go through the round-robin path. The
worker runs in its own OS process (``python -m bench.ours worker ...``), except on the
memory store, which lives in one process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ttsqueue.backends import Backend, open_backend
from ttsqueue.models import Chapter, JobSpec, User, Voice
from ttsqueue.queue import BookRequest, Queue
from ttsqueue.settings import Settings
from ttsqueue.tts import check_voice
from ttsqueue.worker import InFlight, Worker

USERS = 50
MODES = ("queue", "pipeline")
TASKS_PER_JOB = 2
READY = "READY"
NOOP = Voice(engine="noop", name="silence")


def settings_for(url: str, audio: Path, concurrency: int = 0) -> Settings:
    return Settings(
        database_url=url,
        data_dir=audio,
        worker_concurrency=concurrency,
        log_level="WARNING",
        max_active_jobs=1_000_000_000,  # checked by the store on every enqueue, never reached
    )


def make_specs(queue: Queue, jobs: int, start: int = 0) -> list[JobSpec]:
    """Specs built by the facade (validation, voice check, tier policy), round the users."""
    return [
        queue.build_spec(
            User(id=f"bench-user-{i % USERS:02d}"),
            BookRequest(
                chapters=[Chapter(title="Chapter 1", text=f"Bench chapter {i}.")],
                title=f"Bench book {i}",
                voice=NOOP,
                output_format="wav",
            ),
        )
        for i in range(start, start + jobs)
    ]


def facade(backend: Backend, settings: Settings) -> Queue:
    return Queue(backend, settings, check_voice=check_voice)


async def enqueue_single(backend: Backend, specs: list[JobSpec]) -> float:
    """Tasks/s, one ``enqueue`` call (one transaction) per job."""
    t = time.perf_counter()
    for spec in specs:
        await backend.enqueue([spec])
    return len(specs) * TASKS_PER_JOB / (time.perf_counter() - t)


async def enqueue_batch(backend: Backend, specs: list[JobSpec], batch: int) -> float:
    t = time.perf_counter()
    for k in range(0, len(specs), batch):
        await backend.enqueue(specs[k : k + batch])
    return len(specs) * TASKS_PER_JOB / (time.perf_counter() - t)


async def noop_handler(item: InFlight) -> dict[str, Any]:
    """The work of a no-op job, as the peers run it: nothing. The queue path around it
    (claim, heartbeat, progress, batched completion, events) is the real one."""
    item.progress = 1.0
    return {"duration_s": 0.0, "characters": len(str(item.claimed.payload.get("text", "")))}


async def run_worker(
    backend: Backend, settings: Settings, concurrency: int, tasks: int, mode: str = "queue"
) -> dict[str, Any]:
    """Process until ``tasks`` completions were accepted by the store; verify with stats.

    ``queue``: a no-op handler, like the peers' no-op jobs. ``pipeline``: the audiobook
    pipeline with the no-op engine (WAV chapter files written, fsynced and joined into a
    book), in a thread pool."""
    pool = ThreadPoolExecutor(max_workers=concurrency)
    handler = noop_handler if mode == "queue" else None
    worker = Worker(backend, settings, concurrency=concurrency, pool=pool, handler=handler)
    t = time.perf_counter()
    runner = asyncio.create_task(worker.run())
    while worker.completed < tasks:
        if runner.done():
            runner.result()
            raise RuntimeError(f"worker ended after {worker.completed} of {tasks} tasks")
        if worker.failed:
            raise RuntimeError(f"{worker.failed} task(s) failed")
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - t
    worker.stop()
    await runner
    pool.shutdown(wait=True)
    stats = await backend.stats()
    jobs = tasks // TASKS_PER_JOB
    return {
        "concurrency": concurrency,
        "mode": mode,
        "pool": "thread",
        "tasks": worker.completed,
        "seconds": elapsed,
        "per_s": worker.completed / elapsed,
        "all_completed": stats.jobs.get("completed") == jobs
        and stats.tasks.get("completed") == tasks,
    }


# -- the worker process ----------------------------------------------------------------


async def _worker_main(args: argparse.Namespace) -> None:
    settings = settings_for(args.url, Path(args.audio), args.concurrency)
    backend = open_backend(args.url, settings.backend_options)
    await backend.open()
    try:
        print(READY, flush=True)
        res = await run_worker(backend, settings, args.concurrency, args.tasks, args.run)
    finally:
        await backend.close()
    print(json.dumps(res), flush=True)


async def spawn_worker(
    url: str, audio: Path, concurrency: int, tasks: int, mode: str = "queue"
) -> Any:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.ours",
        "worker",
        "--url",
        url,
        "--audio",
        str(audio),
        "--concurrency",
        str(concurrency),
        "--tasks",
        str(tasks),
        "--run",
        mode,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    if line.decode().strip() != READY:
        raise RuntimeError(f"worker did not start: {line!r}")
    return proc


async def worker_result(proc: Any, timeout: float) -> dict[str, Any]:
    out = await asyncio.wait_for(proc.stdout.read(), timeout)
    await proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"worker exited {proc.returncode}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def process(
    backend: Backend,
    url: str,
    audio: Path,
    concurrency: int,
    tasks: int,
    in_process: bool,
    mode: str = "queue",
) -> dict[str, Any]:
    if in_process:
        return await run_worker(backend, settings_for(url, audio), concurrency, tasks, mode)
    proc = await spawn_worker(url, audio, concurrency, tasks, mode)
    return await worker_result(proc, 900)


async def latency(
    backend: Backend, queue: Queue, url: str, audio: Path, n: int, gap_s: float, in_process: bool
) -> list[float]:
    """Enqueue→start (the chapter's ``started_at`` on the store's clock) with an idle
    worker at the default concurrency, jobs ``gap_s`` apart, one call each."""
    specs = make_specs(queue, n)
    worker_task: asyncio.Task[dict[str, Any]] | None = None
    proc: Any = None
    if in_process:
        worker_task = asyncio.create_task(
            run_worker(backend, settings_for(url, audio), _cores(), n * TASKS_PER_JOB)
        )
    else:
        proc = await spawn_worker(url, audio, _cores(), n * TASKS_PER_JOB)
    await asyncio.sleep(1.0)  # let the worker go idle
    sent: dict[str, float] = {}
    for spec in specs:
        sent[spec.id] = time.time()
        await backend.enqueue([spec])
        await asyncio.sleep(gap_s)
    if worker_task is not None:
        await worker_task
    else:
        await worker_result(proc, 300)
    out: list[float] = []
    for job_id, t0 in sent.items():
        job = await backend.get(job_id)
        assert job is not None and job.tasks[0].started_at is not None
        out.append(job.tasks[0].started_at - t0)
    return out


def _cores() -> int:
    import os

    return os.cpu_count() or 1


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["worker"])
    p.add_argument("--url", required=True)
    p.add_argument("--audio", required=True)
    p.add_argument("--concurrency", type=int, required=True)
    p.add_argument("--tasks", type=int, required=True)
    p.add_argument("--run", choices=MODES, default="queue")
    asyncio.run(_worker_main(p.parse_args()))


if __name__ == "__main__":
    main()
