"""One pub/sub connection per backend: wake-ups for idle workers, events for subscribers.

Subscribed when the backend opens, so a ``subscribe()`` or ``wait_for_work()`` never
misses a message published after it was called. A lost connection is re-established
with backoff; messages published meanwhile are not replayed (workers still poll as a
backstop, and a client resumes a job's events from its last sequence number).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ttsqueue.backends.redis_codec import decode_events
from ttsqueue.models import Event

log = logging.getLogger("ttsqueue.backends.redis")


@dataclass
class _Subscriber:
    job_id: str | None
    user_id: str | None
    after_id: int  # events up to this store-wide id were appended before subscribing
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)

    def wants(self, event: Event) -> bool:
        return (
            event.id > self.after_id
            and (self.job_id is None or event.job_id == self.job_id)
            and (self.user_id is None or event.user_id == self.user_id)
        )


class Listener:
    def __init__(self, redis: Redis, wake_channel: str, event_channel: str) -> None:
        self._redis = redis
        self._wake_channel = wake_channel
        self._event_channel = event_channel
        self._wakeup = asyncio.Event()
        self._subscribers: list[_Subscriber] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.last_event_id = 0  # highest store-wide event id this process has seen
        self.wakes = 0  # wake-ups received so far

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ttsqueue-redis-listener")
        ready = asyncio.ensure_future(self._ready.wait())
        done, _ = await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            self._task.result()  # raises what stopped the listener

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def saw_event(self, event_id: int) -> None:
        self.last_event_id = max(self.last_event_id, event_id)

    def waiter(self) -> tuple[int, asyncio.Event]:
        """The wake-up count now and the event the next wake-up sets."""
        return self.wakes, self._wakeup

    def wake(self) -> None:
        self.wakes += 1
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    def subscribe(self, job_id: str | None, user_id: str | None) -> AsyncIterator[Event]:
        sub = _Subscriber(job_id, user_id, self.last_event_id)
        self._subscribers.append(sub)
        return self._feed(sub)

    async def _feed(self, sub: _Subscriber) -> AsyncIterator[Event]:
        try:
            while True:
                yield await sub.queue.get()
        finally:
            self._subscribers.remove(sub)

    async def _run(self) -> None:
        delay = 0.1
        first = True
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._wake_channel, self._event_channel)
                self._ready.set()
                if not first:
                    log.warning("redis pub/sub reconnected")
                    # Redis may have restarted empty, its event ids starting again at 1.
                    self.last_event_id = 0
                    for sub in self._subscribers:
                        sub.after_id = 0
                    self.wake()  # work may have arrived while we were away
                first = False
                delay = 0.1
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is not None:
                        self._dispatch(message)
            except (RedisError, OSError) as exc:
                if first:
                    raise
                log.warning("redis pub/sub connection lost (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        if channel == self._wake_channel:
            self.wake()
        elif channel == self._event_channel and self._subscribers:
            for event in decode_events(message["data"]):
                for sub in self._subscribers:
                    if sub.wants(event):
                        sub.queue.put_nowait(event)
                self.saw_event(event.id)
