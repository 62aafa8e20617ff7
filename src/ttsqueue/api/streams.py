"""Event streams that outlive a store outage.

An SSE stream follows one job; a WebSocket follows the caller's jobs. Both subscribe
before they read the history, skip sequence numbers already sent, and fill a gap in
them (or a quiet period, when a message may have been lost with a dropped connection)
from the job's history. When the store goes away, reads are retried with backoff and
the subscription is made again; the stream carries on from the last event it sent, so
a client sees a pause, never a cut or a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from ttsqueue.api import present
from ttsqueue.backends.base import Backend, StoreUnavailable
from ttsqueue.models import TERMINAL_EVENTS, Event

log = logging.getLogger("ttsqueue.api.events")

KEEPALIVE_S = 15.0  # a comment line this often keeps proxies from closing the stream
QUIET_S = 5.0  # with no live event for this long, the history is read (missed messages)
RETRY_MS = 3000  # how long a browser's EventSource waits before reconnecting
HISTORY_PAGE = 1000
BACKOFF_S = (0.05, 2.0)  # first and longest wait between attempts while the store is down
MAX_OUTAGE_S = 600.0  # then a stream ends (a client reconnects with Last-Event-ID)
MAX_TRACKED_JOBS = 1000  # a WebSocket resumes this many running jobs after an outage

KEEPALIVE = b": keep-alive\n\n"


def sse_frame(event: Event) -> bytes:
    data = present.event(event).model_dump_json()
    return f"id: {event.seq}\nevent: {event.type}\ndata: {data}\n\n".encode()


async def history(backend: Backend, job_id: str, after: int) -> list[Event]:
    out: list[Event] = []
    while True:
        batch = await backend.events(job_id, after=after, limit=HISTORY_PAGE)
        out.extend(batch)
        if len(batch) < HISTORY_PAGE:
            return out
        after = batch[-1].seq


class Outage:
    """Backoff while the store is unreachable, and how long it has been."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.delay = BACKOFF_S[0]

    def over(self) -> None:
        if self.since is not None:
            log.info("event stream: the store is back after %.1fs", self.elapsed())
        self.since = None
        self.delay = BACKOFF_S[0]

    def elapsed(self) -> float:
        return 0.0 if self.since is None else time.monotonic() - self.since

    async def wait(self, exc: StoreUnavailable) -> None:
        """Sleep before the next attempt; raises ``exc`` once the outage is too long."""
        if self.since is None:
            self.since = time.monotonic()
            log.warning("event stream: the store is unavailable (%s); retrying", exc)
        if self.elapsed() > MAX_OUTAGE_S:
            raise exc
        await asyncio.sleep(self.delay * random.uniform(0.5, 1.0))
        self.delay = min(BACKOFF_S[1], self.delay * 2)


class Live:
    """A subscription feeding a buffer; made again (by :meth:`ensure`) when it ended
    because the store went away. ``ended`` means the store was closed for good."""

    def __init__(self, subscribe: Callable[[], AsyncIterator[Event]]) -> None:
        self._subscribe = subscribe
        self.buffer: asyncio.Queue[Event | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0
        self.ended = False

    async def ensure(self) -> bool:
        """Subscribe unless subscribed; True when it had to (events may have been
        missed meanwhile). Raises StoreUnavailable when the store refuses."""
        if self._task is not None and not self._task.done():
            return False
        if self._task is not None:  # it ended: not again at once if it lasted no time
            await asyncio.sleep(max(0.0, self._started + BACKOFF_S[1] - time.monotonic()))
        live = self._subscribe()
        self._started = time.monotonic()
        self._task = asyncio.create_task(self._pump(live))
        return True

    async def _pump(self, live: AsyncIterator[Event]) -> None:
        try:
            async for event in live:
                await self.buffer.put(event)
        except StoreUnavailable:
            pass  # subscribe again
        except Exception:
            log.exception("event subscription failed")
            self.ended = True
        else:
            self.ended = True
        await self.buffer.put(None)  # wakes the reader

    async def next(self, timeout: float) -> Event | None:
        """The next live event, or None after ``timeout`` or when the pump stopped."""
        try:
            return await asyncio.wait_for(self.buffer.get(), timeout)
        except TimeoutError:
            return None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


class JobStream:
    """One job's events as SSE frames, from ``after`` until a terminal event."""

    def __init__(
        self,
        backend: Backend,
        subscribe: Callable[[], AsyncIterator[Event]],
        job_id: str,
        after: int,
    ) -> None:
        self.backend = backend
        self.job_id = job_id
        self.last = after
        self.live = Live(subscribe)
        self.outage = Outage()
        self.finished = False  # a terminal event was sent
        self._last_batch = False  # the job had ended: the events read are all there are
        self._checked = False  # the job's own status was read after the first history
        self._behind = True  # the history may hold events not sent yet
        self._sent_at = time.monotonic()

    async def frames(self) -> AsyncIterator[bytes]:
        yield f"retry: {RETRY_MS}\n\n".encode()
        try:
            while not self.finished and not self.live.ended:
                try:
                    events = await self._catch_up()
                except StoreUnavailable as exc:
                    if self._keepalive_due():
                        yield KEEPALIVE
                    await self.outage.wait(exc)
                    continue
                if not events and not self._last_batch:
                    events = await self._next_live()
                if not events and self._keepalive_due():
                    yield KEEPALIVE
                for event in events:
                    yield self._sent(event)
                    if self.finished:
                        return
                if self._last_batch:
                    return
        finally:
            await self.live.stop()

    def _keepalive_due(self) -> bool:
        if time.monotonic() - self._sent_at < KEEPALIVE_S:
            return False
        self._sent_at = time.monotonic()
        return True

    def _sent(self, event: Event) -> bytes:
        self.last = event.seq
        self._sent_at = time.monotonic()
        if event.type in TERMINAL_EVENTS:
            self.finished = True
        return sse_frame(event)

    async def _catch_up(self) -> list[Event]:
        """Subscribe if need be, then what the history holds past the last event sent."""
        if await self.live.ensure():
            self._behind = True
            await asyncio.sleep(0)  # let the subscription start before reading history
        if not self._behind:
            return []
        events = await history(self.backend, self.job_id, self.last)
        if not self._checked and not any(e.type in TERMINAL_EVENTS for e in events):
            job = await self.backend.get(self.job_id)
            if job is None or job.status.terminal:
                last = events[-1].seq if events else self.last
                events += await history(self.backend, self.job_id, last)
                self._last_batch = True  # whatever the history holds, nothing more comes
            self._checked = True
        self._behind = False
        self.outage.over()
        return events

    async def _next_live(self) -> list[Event]:
        event = await self.live.next(min(QUIET_S, KEEPALIVE_S))
        if event is None:
            self._behind = True  # quiet, or the subscription stopped: read the history
            return []
        if event.seq <= self.last:
            return []
        if event.seq > self.last + 1:
            self._behind = True
            return []
        return [event]


class SocketFeed:
    """The live events of the caller's jobs (or one job), sent as they come; after an
    outage or a gap, each running job's history from the last event sent to it."""

    def __init__(
        self,
        backend: Backend,
        subscribe: Callable[[], AsyncIterator[Event]],
        send: Callable[[Event], Awaitable[None]],
    ) -> None:
        self.backend = backend
        self.live = Live(subscribe)
        self.outage = Outage()
        self._send = send
        self.sent: dict[str, int] = {}  # job id -> last seq sent, for running jobs
        self._behind: list[str] = []

    async def run(self) -> None:
        try:
            while not self.live.ended:
                try:
                    await self._catch_up()
                except StoreUnavailable as exc:
                    await self.outage.wait(exc)
                    continue
                event = await self.live.next(QUIET_S)
                if event is None:
                    self._behind = list(self.sent)  # a message may have been lost
                    continue
                last = self.sent.get(event.job_id)
                if last is not None and event.seq > last + 1:
                    self._behind = [event.job_id]
                    continue
                await self.send(event)
        finally:
            await self.live.stop()

    async def send(self, event: Event) -> None:
        last = self.sent.get(event.job_id)
        if last is not None and event.seq <= last:
            return
        await self._send(event)
        self.sent.pop(event.job_id, None)
        if event.type not in TERMINAL_EVENTS:
            self.sent[event.job_id] = event.seq  # most recent last
            while len(self.sent) > MAX_TRACKED_JOBS:
                self.sent.pop(next(iter(self.sent)))

    async def _catch_up(self) -> None:
        if await self.live.ensure():
            self._behind = list(self.sent)
            await asyncio.sleep(0)
        while self._behind:
            job_id = self._behind[0]
            if job_id in self.sent:
                for event in await history(self.backend, job_id, self.sent[job_id]):
                    await self.send(event)
            self._behind.pop(0)
        self.outage.over()
