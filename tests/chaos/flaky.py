"""A backend wrapper whose store can be switched off: while it is down, every call
raises StoreUnavailable and live subscriptions end with it, as a lost connection does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from ttsqueue.backends.base import Backend, StoreUnavailable
from ttsqueue.models import Event


class Flaky:
    def __init__(self, backend: Backend) -> None:
        self.inner = backend
        self.down = False
        self.refused = 0  # calls refused while down
        self._changed = asyncio.Event()

    def go_down(self) -> None:
        self.down = True
        self._changed.set()
        self._changed = asyncio.Event()

    def come_up(self) -> None:
        self.down = False

    def _check(self) -> None:
        if self.down:
            self.refused += 1
            raise StoreUnavailable("the test switched the store off")

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            self._check()
            return await attr(*args, **kwargs)

        return call

    @property
    def capabilities(self) -> Any:
        return self.inner.capabilities

    def subscribe(self, **flt: Any) -> AsyncIterator[Event]:
        self._check()
        return self._feed(self.inner.subscribe(**flt))

    async def _feed(self, live: AsyncIterator[Event]) -> AsyncIterator[Event]:
        it = aiter(live)
        try:
            while True:
                changed = asyncio.ensure_future(self._changed.wait())
                step = asyncio.ensure_future(anext(it))
                try:
                    done, _ = await asyncio.wait(
                        {changed, step}, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    changed.cancel()
                    if not step.done():
                        step.cancel()
                        with contextlib.suppress(BaseException):
                            await step
                if self.down or step not in done or step.cancelled():
                    raise StoreUnavailable("the test switched the store off")
                try:
                    event = step.result()
                except StopAsyncIteration:
                    return
                yield event
        finally:
            await aclose(live)


async def aclose(live: AsyncIterator[Any]) -> None:
    close = getattr(live, "aclose", None)
    if close is not None:
        try:
            await close()
        except (RuntimeError, StopAsyncIteration):
            pass
