"""Reads ride out a short store outage: a GET or HEAD answered 503 because the store was
unreachable is run again, with backoff, for up to ``store_retry_s`` before the client
sees the 503. Writes are not repeated here (a client retries them, idempotency keys make
that safe)."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STORE_DOWN = "store_unavailable"  # set in scope["state"] by the 503 handler
READS = frozenset({"GET", "HEAD"})
FIRST_WAIT_S = 0.05
LONGEST_WAIT_S = 1.0


def mark_store_down(state: Any) -> None:
    """Called by the StoreUnavailable handler: this answer may be retried."""
    setattr(state, STORE_DOWN, True)


class RetryReads:
    def __init__(self, app: ASGIApp, budget_s: float) -> None:
        self.app = app
        self.budget_s = budget_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in READS or self.budget_s <= 0:
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.budget_s
        wait = FIRST_WAIT_S
        while True:
            held = await self._attempt(scope, receive, send)
            pause = wait * random.uniform(0.5, 1.0)
            if not held or time.monotonic() + pause > deadline:
                for message in held:
                    await send(message)
                return
            await asyncio.sleep(pause)
            wait = min(LONGEST_WAIT_S, wait * 2)

    async def _attempt(self, scope: Scope, receive: Receive, send: Send) -> list[Message]:
        """Run the request; a store-down answer is held back and returned, any other
        is sent."""
        state: dict[str, Any] = scope.setdefault("state", {})
        state.pop(STORE_DOWN, None)
        held: list[Message] = []

        async def send_or_hold(message: Message) -> None:
            if held or (message["type"] == "http.response.start" and state.get(STORE_DOWN)):
                held.append(message)
            else:
                await send(message)

        await self.app(scope, receive, send_or_hold)
        return held
