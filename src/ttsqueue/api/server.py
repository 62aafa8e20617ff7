"""Serving the API with uvicorn, with a deadline for each request to arrive.

uvicorn closes an idle keep-alive connection, but it waits forever for a request whose
headers or body trickle in (or a connection that never sends a byte), so a few hundred
slow clients can hold every socket the process may open. :class:`SlowClientGuard` is
uvicorn's h11 protocol plus one timer per request: armed when the connection opens and
when the next request's first bytes arrive, cancelled once the whole request (headers
and body) is in, or the connection turns into a WebSocket.

A request has ``request_timeout_s`` to arrive, plus one second per :data:`MIN_RATE`
bytes it has sent by then, so a large upload on a slow but honest link goes on while a
client that trickles a few bytes at a time is cut off at the deadline. Then the client
gets ``408 Request Timeout`` (unless an answer has begun) and the connection is closed.
Other connections never wait on it: the timer is a callback on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ttsqueue.settings import Settings

log = logging.getLogger("ttsqueue.api")

REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 29\r\n"
    b"connection: close\r\n"
    b"\r\n"
    b"request not received in time\n"
)
_RECEIVING = (h11.IDLE, h11.SEND_BODY)  # the client's side of h11 while a request arrives
MIN_RATE = 16 * 1024  # bytes per second that earn a request more time


class SlowClientGuard(H11Protocol):
    def __init__(self, *args: Any, request_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_timeout_s = request_timeout_s
        self._deadline: asyncio.TimerHandle | None = None
        self._started = 0.0  # loop time when the request's deadline was armed
        self._received = 0  # bytes of it received since

    def _arm(self) -> None:
        if self._deadline is None:
            self._started = self.loop.time()
            self._received = 0
            self._deadline = self.loop.call_later(self.request_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        due = self._started + self.request_timeout_s + self._received / MIN_RATE
        if due - self.loop.time() > 0.01:  # it kept sending fast enough: more time
            self._deadline = self.loop.call_later(due - self.loop.time(), self._timed_out)
            return
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):  # nothing answered yet
            self.transport.write(REQUEST_TIMEOUT)
        log.info(
            "closed a connection from %s: the request did not arrive in time (%d bytes in %.0f s)",
            self.client[0] if self.client else "?",
            self._received,
            self.loop.time() - self._started,
        )
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._arm()  # the first bytes of the next request (no-op for the first one)
        self._received += len(data)
        super().data_received(data)
        if self.conn.their_state not in _RECEIVING:
            self._disarm()  # all in (or the connection failed or was upgraded)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        pending = self.conn.their_state is h11.SEND_BODY or (
            self.conn.their_state is h11.IDLE and bool(self.conn.trailing_data[0])
        )
        if pending and not self.transport.is_closing():
            self._arm()  # a pipelined request is partly in

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._disarm()
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def http_protocol(settings: Settings) -> Any:
    """The ``http`` argument of uvicorn's config: the guarded protocol with the
    configured deadline (picklable, so ``--workers N`` processes get it too)."""
    return functools.partial(SlowClientGuard, request_timeout_s=settings.request_timeout_s)
