"""Parsing submitted books off the event loop, a bounded number at a time.

A parser (Markdown, EPUB, SSML checks, a large JSON body) is CPU work: on the event loop
it would stall every other request, the SSE streams and, under ``ttsqueue up``, the
worker's heartbeats. :class:`ParseSlots` runs it in a thread, at most ``slots`` at once;
further submissions wait their turn, and past ``max_waiting`` waiting ones a submission
answers 503 with ``Retry-After`` at once, so a flood of uploads holds neither the thread
pool nor an unbounded number of request bodies in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

from ttsqueue.api.errors import ApiError

P = ParamSpec("P")
T = TypeVar("T")


class ParseSlots:
    def __init__(self, slots: int, max_waiting: int) -> None:
        self.slots = slots
        self.max_waiting = max_waiting
        self._free = asyncio.Semaphore(slots)
        self._waiting = 0

    @property
    def waiting(self) -> int:
        return self._waiting

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in a thread once a slot is free; 503 when too many
        submissions are waiting already. A cancelled request keeps its slot until its
        thread has finished, so the bound holds."""
        if self._free.locked() and self._waiting >= self.max_waiting:
            raise ApiError(
                503,
                "too many books are being read right now; try again in a few seconds",
                type="busy",
                headers={"Retry-After": "2"},
            )
        self._waiting += 1
        try:
            await self._free.acquire()
        finally:
            self._waiting -= 1
        try:
            return await run_in_threadpool(fn, *args, **kwargs)
        finally:
            self._free.release()
