"""Limits per engine inside one worker: concurrent chapters, calls per minute, and the
pause an engine asks for (``Retry-After``).

* ``engine_concurrency`` (``{"openai": 4}``): at most this many of the worker's
  chapters on that engine run at once; a claimed chapter past it waits (its lease kept
  alive by the heartbeat) before its time limit starts.
* ``engine_calls_per_minute`` (``{"openai": 50}``): the worker's calls to that engine
  (one per text chunk) are spaced to this rate, a token bucket holding a few seconds'
  worth.
* :meth:`EngineLimits.hold`: after an engine answered "retry after", no call of this
  worker reaches it before then.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from ttsqueue.models import ClaimedTask, TaskKind
from ttsqueue.tts.base import EngineBusy


class _Bucket:
    """Calls per minute, as a token bucket of ``burst`` calls refilled at ``rate``."""

    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1.0, min(per_minute, self.rate * 5))
        self.tokens = self.burst
        self.stamp = time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self, n: int) -> None:
        async with self.lock:  # callers are served in order
            for _ in range(n):
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens < 1:
                    await asyncio.sleep((1 - self.tokens) / self.rate)
                    self.tokens, self.stamp = 1.0, time.monotonic()
                self.tokens -= 1


class EngineLimits:
    def __init__(self, concurrency: dict[str, int], calls_per_minute: dict[str, float]) -> None:
        self._gates = {e: asyncio.Semaphore(n) for e, n in concurrency.items() if n > 0}
        self._buckets = {e: _Bucket(r) for e, r in calls_per_minute.items() if r > 0}
        self._held_until: dict[str, float] = {}  # wall clock
        self._running: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def chapter(self, engine: str) -> AsyncIterator[None]:
        """Hold one of ``engine``'s concurrency places while a chapter runs."""
        gate = self._gates.get(engine)
        if gate is None:
            yield
            return
        async with gate:
            self._running[engine] = self._running.get(engine, 0) + 1
            try:
                yield
            finally:
                self._running[engine] -= 1

    async def before_calls(self, engine: str, calls: int) -> None:
        """Wait until ``calls`` calls to ``engine`` may go out; EngineBusy while the
        engine is held (the chapter is given back until then, like the one that was
        told to wait)."""
        wait = self._held_until.get(engine, 0.0) - time.time()
        if wait > 0:
            raise EngineBusy(f"engine {engine} asked to be called again later", wait)
        bucket = self._buckets.get(engine)
        if bucket is not None:
            await bucket.take(calls)

    def hold(self, engine: str, until: float) -> None:
        """No call to ``engine`` before ``until`` (a wall-clock time)."""
        self._held_until[engine] = max(until, self._held_until.get(engine, 0.0))

    def running(self, engine: str) -> int:
        """Chapters on ``engine`` holding a place now."""
        return self._running.get(engine, 0)


def engine_of(task: ClaimedTask) -> str:
    """The engine a chapter calls ("" for an assemble task)."""
    if task.kind is not TaskKind.SYNTHESIZE:
        return ""
    voice = task.payload.get("voice")
    return str(voice.get("engine", "")) if isinstance(voice, dict) else ""
