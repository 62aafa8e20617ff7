"""A TCP proxy a test puts between its processes and a store, to fail only its own
connections: cut them all, refuse new ones for a while, stall traffic, or drop the
connection that carries one reply (so the client cannot know whether its command ran).

It runs its own event loop in a thread, so it serves subprocesses and the test's own
clients alike; every control method is safe to call from any thread or loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CHUNK = 65536


@dataclass(eq=False)
class _Pair:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    marked: bool = False  # sent the armed pattern: its next reply is swallowed
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def close(self) -> None:
        for w in (self.client, self.server):
            with contextlib.suppress(Exception):
                w.transport.abort()


class Proxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.connections = 0  # accepted so far
        self.swallowed = 0  # replies dropped so far
        self._pairs: set[_Pair] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # the pumps, held until they end
        self._down = False
        self._flowing: asyncio.Event | None = None
        self._pattern: bytes | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Proxy:
        self._thread.start()
        self._call(self._start)
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._stop)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults --------------------------------------------------------------------------

    def cut(self) -> None:
        """The store is unreachable: every connection is closed, new ones are closed
        as soon as they are made, until :meth:`heal`."""
        self._call(self._cut)

    def heal(self) -> None:
        self._call(self._heal)

    def drop_all(self) -> None:
        """Close every connection once (a blip); new connections work at once."""
        self._call(self._drop_all)

    def stall(self) -> None:
        """Hold every byte in both directions (connections stay open) until :meth:`heal`."""
        self._call(self._stall)

    def swallow_reply_to(self, pattern: bytes) -> None:
        """The next connection to send ``pattern`` loses its next reply: the proxy closes
        it instead of passing the reply on."""
        self._call(self._arm, pattern)

    @property
    def open_connections(self) -> int:
        return int(self._call(lambda: len(self._pairs)))

    def upstream_addresses(self) -> list[str]:
        """``host:port`` of each connection's store side, as the store sees its client."""

        def addresses() -> list[str]:
            out = []
            for pair in self._pairs:
                name = pair.server.get_extra_info("sockname")
                if name:
                    out.append(f"{name[0]}:{name[1]}")
            return out

        return list(self._call(addresses))

    # -- inside the proxy's loop -----------------------------------------------------------

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        async def run() -> Any:
            result = fn(*args)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(30)

    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        self._drop_all()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _cut(self) -> None:
        self._down = True
        self._drop_all()

    def _heal(self) -> None:
        self._down = False
        assert self._flowing is not None
        self._flowing.set()

    def _stall(self) -> None:
        assert self._flowing is not None
        self._flowing.clear()

    def _arm(self, pattern: bytes) -> None:
        self._pattern = pattern

    def _drop_all(self) -> None:
        for pair in list(self._pairs):
            pair.close()
        self._pairs.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self._down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = _Pair(writer, up_writer)
        if self._down:
            pair.close()
            return
        self._pairs.add(pair)
        pair.tasks = [
            asyncio.create_task(self._pump(pair, reader, up_writer, upstream=True)),
            asyncio.create_task(self._pump(pair, up_reader, writer, upstream=False)),
        ]
        for task in pair.tasks:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self,
        pair: _Pair,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        upstream: bool,
    ) -> None:
        assert self._flowing is not None
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                await self._flowing.wait()
                if pair not in self._pairs:
                    break
                if upstream and self._pattern is not None and self._pattern in data:
                    self._pattern = None
                    pair.marked = True
                elif not upstream and pair.marked:
                    self.swallowed += 1
                    break  # the command ran; its reply never arrives
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._pairs.discard(pair)
            pair.close()
