"""A long-running process started while its store is unreachable waits for it."""

from __future__ import annotations

import time
from typing import cast

import pytest

from ttsqueue.backends import Backend, open_waiting
from ttsqueue.backends.base import StoreUnavailable


class Unreachable:
    """Refuses ``failures`` times, then opens."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.opened = False

    async def open(self) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise StoreUnavailable("connection refused")
        self.opened = True


async def test_a_store_that_comes_back_is_opened() -> None:
    store = Unreachable(failures=3)
    await open_waiting(cast(Backend, store), wait_s=30)
    assert store.opened and store.attempts == 4


async def test_without_patience_the_first_refusal_is_raised() -> None:
    store = Unreachable(failures=1)
    with pytest.raises(StoreUnavailable):
        await open_waiting(cast(Backend, store), wait_s=0)
    assert store.attempts == 1


async def test_a_store_that_stays_away_is_given_up_after_the_wait() -> None:
    store = Unreachable(failures=10**6)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await open_waiting(cast(Backend, store), wait_s=1.0)
    assert 0.3 < time.monotonic() - started < 5
    assert store.attempts >= 3
