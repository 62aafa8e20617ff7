"""Measuring how a parser's time grows with its input.

``growth`` times a function on inputs of doubling size and answers the factor by which
its time grows per doubling: about 2 for linear work, 4 for quadratic. Time is the
calling thread's CPU time, the best of a few runs, so other processes on a loaded
machine (which take wall-clock time, not this thread's CPU time) barely move it.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# A linear parser's time grows about 2x per doubling; quadratic 4x. Between them, with
# room for caches and allocators on large inputs.
MAX_GROWTH = 2.5
MIN_BASE_S = 0.004  # the smallest input is grown until one run takes at least this long


@dataclass(frozen=True, slots=True)
class Growth:
    sizes: tuple[int, ...]
    seconds: tuple[float, ...]

    @property
    def per_doubling(self) -> float:
        """The geometric mean of the time ratios between consecutive sizes."""
        doublings = len(self.seconds) - 1
        return float((self.seconds[-1] / max(self.seconds[0], 1e-9)) ** (1 / doublings))

    def __str__(self) -> str:
        times = ", ".join(
            f"{n}: {s * 1000:.2f} ms" for n, s in zip(self.sizes, self.seconds, strict=True)
        )
        return f"x{self.per_doubling:.2f} per doubling ({times})"


def _cpu(run: Callable[[], Any], repeat: int) -> float:
    """The best CPU time of ``repeat`` runs, with the cycle collector paused: a full
    collection lands on whichever run passes its threshold and says nothing about the
    parser's own growth."""
    best = float("inf")
    for _ in range(repeat):
        gc.disable()
        try:
            start = time.thread_time()
            run()
            best = min(best, time.thread_time() - start)
        finally:
            gc.enable()
    return best


def _call(parse: Callable[[Any], Any], data: Any) -> Callable[[], Any]:
    def run() -> Any:
        try:
            return parse(data)
        except ValueError:  # a refusal is an answer too; its time is what is measured
            return None

    return run


def growth(
    parse: Callable[[Any], Any],
    make: Callable[[int], Any],
    *,
    start: int = 1000,
    doublings: int = 3,
    repeat: int = 3,
    max_size: int = 1 << 22,
) -> Growth:
    """How the time of ``parse(make(n))`` grows as ``n`` doubles ``doublings`` times,
    from the first ``n >= start`` whose run takes at least ``MIN_BASE_S``."""
    n = start
    while n < max_size and _cpu(_call(parse, make(n)), 1) < MIN_BASE_S:
        n *= 2
    sizes = tuple(n << i for i in range(doublings + 1))
    seconds = tuple(_cpu(_call(parse, make(size)), repeat) for size in sizes)
    return Growth(sizes, seconds)
