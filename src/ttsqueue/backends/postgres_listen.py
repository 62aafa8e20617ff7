"""LISTEN/NOTIFY for the PostgreSQL backend: work wake-ups and the event stream.

One dedicated connection per backend listens on two channels of its schema:
``<schema>.work`` (a task became pending) and ``<schema>.events`` (events were
appended; the payload carries their ids, which a listener with subscribers fetches:
the writers' statements do not pay for the events' JSON).
Notifications are hints for wake-ups; the event stream is deduplicated per job by seq.
When the connection drops, the listener reconnects with backoff, wakes every waiter
and replays events appended meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from ttsqueue.backends.base import StoreUnavailable
from ttsqueue.backends.postgres_conn import Conn, Q
from ttsqueue.models import Event

log = logging.getLogger("ttsqueue.backends.postgres")

REPLAY_LIMIT = 10_000

FetchEvents = Callable[[int], Awaitable[list[Event]]]  # events with id > after
FetchIds = Callable[[list[int]], Awaitable[list[Event]]]  # events by id, in id order


@dataclass
class _Subscriber:
    job_id: str | None
    user_id: str | None
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)

    def wants(self, event: Event) -> bool:
        return (self.job_id is None or event.job_id == self.job_id) and (
            self.user_id is None or event.user_id == self.user_id
        )


class Listener:
    def __init__(
        self,
        connect: Callable[[], Awaitable[Conn]],
        schema: str,
        *,
        fetch_ids: FetchIds,
        fetch_after: FetchEvents,
    ) -> None:
        self._connect_db = connect
        self._channels = (f"{schema}.work", f"{schema}.events")
        self._fetch_ids = fetch_ids
        self._fetch_after = fetch_after
        self._conn: Conn | None = None
        self._task: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()
        self.work_generation = 0  # bumped by every work notification
        self._subscribers: list[_Subscriber] = []
        self._last_seq: dict[str, int] = {}  # per job: the last seq delivered
        self._last_id = 0

    async def start(self, last_event_id: int) -> None:
        """Connect and LISTEN before returning, so nothing after this is missed."""
        self._last_id = last_event_id
        self._conn = await self._connect()
        self._task = asyncio.create_task(self._run(), name="ttsqueue-pg-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.close()
            self._conn = None
        self._wake()

    async def _connect(self) -> Conn:
        conn = await self._connect_db()
        for channel in self._channels:
            await conn.execute(sql.SQL(Q["listen"]).format(channel=sql.Identifier(channel)))
        return conn

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            try:
                if self._conn is None:
                    self._conn = await self._connect()
                    backoff = 0.05
                    self._wake()  # work may have arrived while we were away
                    await self._replay()
                async for note in self._conn.notifies():
                    await self._dispatch(note.channel, note.payload)
            except (psycopg.Error, OSError, StoreUnavailable) as exc:
                log.warning("notification connection lost (%s); reconnecting", exc)
            except Exception:  # keep listening whatever one notification did
                log.exception("notification listener error")
            if self._conn is not None:
                with contextlib.suppress(psycopg.Error, OSError):
                    await self._conn.close()
                self._conn = None
            await asyncio.sleep(backoff)
            backoff = min(5.0, backoff * 2)

    async def _dispatch(self, channel: str, payload: str) -> None:
        if channel == self._channels[0]:
            self._wake()
            return
        # "<largest id>|{"ids": [...]}"
        head, _, body = payload.partition("|")
        if not self._subscribers:  # nobody here wants events: skip fetching them
            self._last_id = max(self._last_id, int(head))
            return
        data: Any = json.loads(body)
        for event in await self._fetch_ids([int(i) for i in data["ids"]]):
            self._publish(event)

    async def _replay(self) -> None:
        if not self._subscribers:
            return
        for event in await self._fetch_after(self._last_id):
            self._publish(event)

    def _publish(self, event: Event) -> None:
        if event.seq <= self._last_seq.get(event.job_id, 0):
            return
        self._last_id = max(self._last_id, event.id)
        if len(self._last_seq) > 100_000:  # seq only grows per job: forgetting is safe
            self._last_seq.clear()
        self._last_seq[event.job_id] = event.seq
        for sub in self._subscribers:
            if sub.wants(event):
                sub.queue.put_nowait(event)

    def _wake(self) -> None:
        self.work_generation += 1
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    async def wait(self, timeout: float, *, since: int) -> None:
        """Return at the next work notification after generation ``since``, or after
        ``timeout``."""
        if self.work_generation != since:
            return
        wakeup = self._wakeup
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout)

    def subscribe(self, *, job_id: str | None, user_id: str | None) -> AsyncIterator[Event]:
        # Registered now, not at the first __anext__, so nothing appended after this
        # call is missed.
        sub = _Subscriber(job_id, user_id)
        self._subscribers.append(sub)
        return self._feed(sub)

    async def _feed(self, sub: _Subscriber) -> AsyncIterator[Event]:
        try:
            while True:
                yield await sub.queue.get()
        finally:
            self._subscribers.remove(sub)
