"""Queue policy as pure functions: priority for a tier, concurrency caps, backoff."""

from __future__ import annotations

import random

from ttsqueue.models import User
from ttsqueue.settings import Settings

MIN_REQUESTED_PRIORITY = 0
MAX_REQUESTED_PRIORITY = 9
DEFAULT_REQUESTED_PRIORITY = 5


def effective_priority(user: User, requested: int | None, settings: Settings) -> int:
    """A user picks 0..9 within their tier; premium tiers sit above every free job."""
    value = DEFAULT_REQUESTED_PRIORITY if requested is None else requested
    value = max(MIN_REQUESTED_PRIORITY, min(MAX_REQUESTED_PRIORITY, value))
    if user.premium:
        value += settings.premium_priority_boost
    return value


def concurrency_cap(user: User, settings: Settings) -> int:
    return settings.premium_concurrency if user.premium else settings.free_concurrency


def backoff_delay(
    attempt: int, *, base_s: float, max_s: float, rng: random.Random | None = None
) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, capped at max_s.

    ``attempt`` is the run that just failed (1 for the first).
    """
    ceiling = min(max_s, base_s * 2.0 ** max(0, attempt - 1))
    r = float((rng or random).random())
    return ceiling / 2 + r * ceiling / 2
