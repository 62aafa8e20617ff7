from __future__ import annotations

import random

import pytest

from ttsqueue import policy
from ttsqueue.models import User
from ttsqueue.settings import Settings

SETTINGS = Settings(premium_priority_boost=10, free_concurrency=2, premium_concurrency=8)
FREE = User(id="free")
PREMIUM = User(id="premium", premium=True)


@pytest.mark.parametrize(
    ("requested", "free", "premium"),
    [(None, 5, 15), (0, 0, 10), (9, 9, 19), (-3, 0, 10), (42, 9, 19), (7, 7, 17)],
)
def test_effective_priority(requested: int | None, free: int, premium: int) -> None:
    assert policy.effective_priority(FREE, requested, SETTINGS) == free
    assert policy.effective_priority(PREMIUM, requested, SETTINGS) == premium


def test_every_premium_priority_sits_above_every_free_one() -> None:
    free = [policy.effective_priority(FREE, p, SETTINGS) for p in range(10)]
    premium = [policy.effective_priority(PREMIUM, p, SETTINGS) for p in range(10)]
    assert max(free) < min(premium)


def test_concurrency_cap_by_tier() -> None:
    assert policy.concurrency_cap(FREE, SETTINGS) == 2
    assert policy.concurrency_cap(PREMIUM, SETTINGS) == 8


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 2.0), (2, 4.0), (3, 8.0), (6, 60.0)])
def test_backoff_stays_between_half_and_the_whole_ceiling(attempt: int, ceiling: float) -> None:
    rng = random.Random(1234)
    delays = [policy.backoff_delay(attempt, base_s=2.0, max_s=60.0, rng=rng) for _ in range(500)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert max(delays) - min(delays) > ceiling / 4  # jittered, not constant


def test_backoff_is_reproducible_with_a_seeded_random() -> None:
    a = [policy.backoff_delay(n, base_s=1.0, max_s=30.0, rng=random.Random(7)) for n in range(1, 6)]
    b = [policy.backoff_delay(n, base_s=1.0, max_s=30.0, rng=random.Random(7)) for n in range(1, 6)]
    assert a == b


def test_backoff_never_exceeds_the_maximum() -> None:
    rng = random.Random(99)
    assert all(
        policy.backoff_delay(n, base_s=2.0, max_s=300.0, rng=rng) <= 300.0 for n in range(1, 80)
    )
    assert policy.backoff_delay(0, base_s=2.0, max_s=300.0, rng=rng) <= 2.0
