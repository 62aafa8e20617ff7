"""Submissions per user per minute: a sliding window kept in memory.

The window is per API process: with N API processes behind a load balancer a user may
submit up to N times the limit. The store-wide guard is the cap on unfinished jobs per
user (``settings.max_active_jobs``), which the store enforces in its enqueue transaction.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    def __init__(
        self, limit: int, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> float:
        """Count one submission; return 0 when allowed, else the seconds to wait."""
        now = self._clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(0.001, hits[0] + self.window_s - now)
        hits.append(now)
        if len(self._hits) > 10_000:  # forget idle users now and then
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window_s}
        return 0.0

    @staticmethod
    def retry_after(wait_s: float) -> str:
        return str(max(1, math.ceil(wait_s)))
