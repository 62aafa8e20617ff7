"""The TTS suite: a generated book to M4B with espeak-ng on 2 worker processes, against
the raw engine reading the same text on one core.

The book is prose made deterministically from a seeded word list (100,000 words; quick
mode 10,000) in 20 chapters. The worker is the real :class:`ttsqueue.worker.Worker` with
its default process pool of 2 processes, on a SQLite store in a temporary directory;
the pool is wrapped so that the time spent in each pool function (synthesis, encoding,
assembly) is measured inside the pool processes.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

from bench.common import log
from ttsqueue import tts
from ttsqueue.backends import open_backend
from ttsqueue.models import Chapter, JobSpec, Voice
from ttsqueue.settings import Settings
from ttsqueue.worker import Worker, make_pool

WORKERS = 2
CHAPTERS = 20
VOICE = Voice(engine="espeak", name="en-us")
_WORDS = (
    "the a of and to in that it was he for on with as his they at be this from had "
    "by not but what all were when we there can an your which their said if do will "
    "each about how up out them then she many some so these would other into has more "
    "her two like him see time could no make than first been its who now people my "
    "made over did down only way find use may water long little very after words "
    "called just where most know river mountain harbour lantern winter morning silver "
    "quiet distant stranger captain garden letter window village journey promise "
    "shadow thunder candle orchard meadow whisper kingdom sailor ancient forgotten"
).split()


def make_book(words: int, seed: int = 20240917) -> list[Chapter]:
    rng = random.Random(seed)
    per = words // CHAPTERS
    chapters = []
    for c in range(CHAPTERS):
        sentences: list[str] = []
        n = 0
        while n < per:
            k = min(per - n, rng.randint(6, 18))
            s = " ".join(rng.choice(_WORDS) for _ in range(k))
            sentences.append(s[0].upper() + s[1:] + rng.choice([".", ".", ".", "?", "!"]))
            n += k
        paragraphs = [" ".join(sentences[i : i + 6]) for i in range(0, len(sentences), 6)]
        chapters.append(Chapter(title=f"Chapter {c + 1}", text="\n\n".join(paragraphs)))
    return chapters


def raw_engine_seconds(chapters: list[Chapter]) -> tuple[float, float]:
    """The engine alone on one core: (seconds, audio seconds)."""
    engine = tts.get_engine("espeak")
    audio = 0.0
    t = time.perf_counter()
    for ch in chapters:
        for chunk in tts.prepare_chunks(ch.text, VOICE, engine):
            audio += engine.synthesize(chunk.text, VOICE).duration_s
    return time.perf_counter() - t, audio


def _timed(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, float]:
    t = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - t


class TimedPool(Executor):
    """Runs work in ``inner`` and adds up, per function, the time it took there."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        name = getattr(fn, "__name__", repr(fn))
        inner = self.inner.submit(_timed, fn, args)
        out: Future[Any] = Future()

        def done(src: Future[Any]) -> None:
            if src.cancelled():
                out.cancel()
                return
            exc = src.exception()
            if exc is not None:
                out.set_exception(exc)
                return
            result, seconds = src.result()
            self.seconds[name] += seconds
            self.calls[name] += 1
            out.set_result(result)

        inner.add_done_callback(done)
        return out

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)


async def pipeline(chapters: list[Chapter], tmp: Path) -> dict[str, Any]:
    url = f"sqlite:///{tmp / 'tts.db'}"
    settings = Settings(database_url=url, data_dir=tmp, worker_concurrency=WORKERS)
    backend = open_backend(url, settings.backend_options)
    await backend.open()
    pool = TimedPool(make_pool(WORKERS))
    try:
        spec = JobSpec(
            user_id="bench",
            chapters=tuple(chapters),
            voice=VOICE,
            output_format="m4b",
            title="A Generated Book",
            author="ttsqueue bench",
            max_concurrency=WORKERS,
        )
        (res,) = await backend.enqueue([spec])
        worker = Worker(backend, settings, concurrency=WORKERS, pool=pool)
        t = time.perf_counter()
        runner = asyncio.create_task(worker.run())
        while True:
            job = await backend.get(res.job.id)
            assert job is not None
            if job.status.terminal:
                break
            await asyncio.sleep(0.05)
        wall = time.perf_counter() - t
        worker.stop()
        await runner
        if job.status.value != "completed":
            raise RuntimeError(f"book {job.status}: {job.error}")
        assemble_task = job.tasks[-1]
        result = job.result or {}
        return {
            "wall_s": wall,
            "status": job.status.value,
            "book_duration_s": float(result.get("duration_s", 0.0)),
            "book_bytes": int(result.get("bytes", 0)),
            "pool_seconds": dict(pool.seconds),
            "pool_calls": dict(pool.calls),
            "assemble_task_s": (assemble_task.finished_at or 0) - (assemble_task.started_at or 0),
        }
    finally:
        pool.shutdown(wait=True)
        await backend.close()


async def run(quick: bool) -> dict[str, Any]:
    words = 10_000 if quick else 100_000
    chapters = make_book(words)
    log(f"tts: raw espeak-ng on one core, {words:,} words")
    raw_s, audio_s = raw_engine_seconds(chapters)
    log(f"tts: raw engine {raw_s:.1f}s for {audio_s / 3600:.2f} h of audio")
    tmp = Path(tempfile.mkdtemp(prefix="tq-bench-tts-"))
    try:
        log(f"tts: the book to M4B with {WORKERS} worker processes")
        p = await pipeline(chapters, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    wall = p["wall_s"]
    secs = p["pool_seconds"]
    busy = sum(secs.values())
    assembly = secs.get("assemble_book", 0.0)
    encoding = secs.get("encode_chapter", 0.0)
    efficiency = raw_s / (WORKERS * wall)
    return {
        "words": words,
        "chapters": len(chapters),
        "characters": sum(len(c.text) for c in chapters),
        "workers": WORKERS,
        "raw_engine_one_core_s": raw_s,
        "audio_s": audio_s,
        "pipeline": p,
        "wall_s": wall,
        "speedup_vs_raw_engine": raw_s / wall,
        "parallel_efficiency": efficiency,
        "pool_efficiency": busy / (WORKERS * wall),
        "encoding_share_of_pool_time": encoding / busy if busy else None,
        "assembly_share_of_wall": assembly / wall,
        "targets": {
            "assembly_under_2pct": assembly / wall < 0.02,
            "parallel_efficiency_90pct": efficiency >= 0.90,
        },
    }
