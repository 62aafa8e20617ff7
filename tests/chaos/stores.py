"""Each store as the chaos run uses it: an isolated place (a file, a schema, a key
prefix), the URL the processes use (through the run's own TCP proxy for the network
stores, so a fault hits only this run's connections), the URL the checks use (direct),
and the faults that store can suffer."""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tests.chaos.proxy import Proxy
from tests.stores import service_url

Fault = Callable[[float], None]  # does the fault for about that many seconds, then heals
WRITE_LOCK_S = 5.0


@dataclass
class ChaosStore:
    kind: str
    direct_url: str  # for the checks, bypassing the proxy
    process_url: str  # for the API processes and workers
    faults: dict[str, Fault] = field(default_factory=dict)
    proxy: Proxy | None = None
    # the store's own per-user counters that are not zero (beyond what stats() reads)
    busy_counters: Callable[[], dict[str, dict[str, int]]] = lambda: {}


def _through(url: str, proxy: Proxy) -> str:
    host = urlsplit(url).netloc.rpartition("@")[2]
    return url.replace(host, f"127.0.0.1:{proxy.port}", 1)


def _proxy_faults(proxy: Proxy) -> dict[str, Fault]:
    def unreachable(seconds: float) -> None:
        proxy.cut()
        time.sleep(seconds)
        proxy.heal()

    def stalled(seconds: float) -> None:
        proxy.stall()
        time.sleep(seconds)
        proxy.heal()

    def dropped(seconds: float) -> None:
        proxy.drop_all()

    return {"unreachable": unreachable, "stalled": stalled, "connections dropped": dropped}


@contextlib.contextmanager
def sqlite_store(root: Path) -> Iterator[ChaosStore]:
    path = root / "queue.db"
    url = f"sqlite:///{path}"

    def write_lock(seconds: float) -> None:
        """Another process's long write: a connection holds BEGIN EXCLUSIVE for five
        seconds at least; every writer waits on SQLite's busy timeout meanwhile."""
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            time.sleep(max(seconds, WRITE_LOCK_S))
            conn.execute("COMMIT")
        finally:
            conn.close()

    def busy_counters() -> dict[str, dict[str, int]]:
        """The users table's running and pending counts (what claims check caps by)."""
        conn = sqlite3.connect(path, timeout=30)
        try:
            rows = conn.execute("SELECT user_id, running, pending FROM users").fetchall()
        finally:
            conn.close()
        return {u: {"running": r, "pending": p} for u, r, p in rows if r or p}

    yield ChaosStore("sqlite", url, url, {"write lock": write_lock}, None, busy_counters)


@contextlib.contextmanager
def postgres_store(root: Path) -> Iterator[ChaosStore]:
    import psycopg

    from tests.stores.postgres import TESTING, drop_schema, new_schema, url_for

    schema = new_schema()
    app_name = f"chaos_{secrets.token_hex(4)}"
    direct = url_for(schema)
    target = urlsplit(service_url("TTSQUEUE_TEST_POSTGRES_URL"))
    with Proxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        url = _through(direct, proxy) + f"&application_name={app_name}"

        def terminated(seconds: float) -> None:
            """What a server restart does to our connections: the server ends them."""
            deadline = time.monotonic() + 30  # the shared server may be restarting
            while True:
                try:
                    with psycopg.connect(
                        service_url("TTSQUEUE_TEST_POSTGRES_URL"), autocommit=True
                    ) as c:
                        c.execute(TESTING["terminate_app_connections"], {"app": app_name})
                    return
                except psycopg.OperationalError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)

        faults = _proxy_faults(proxy)
        faults["backends terminated"] = terminated
        try:
            yield ChaosStore("postgres", direct, url, faults, proxy)
        finally:
            import asyncio

            asyncio.run(drop_schema(schema))


@contextlib.contextmanager
def redis_store(root: Path) -> Iterator[ChaosStore]:
    import redis
    from tests.stores.redis import delete_prefix, new_prefix, url
    from ttsqueue.backends.keys import Keys

    prefix = new_prefix()
    direct = url(prefix)
    base = service_url("TTSQUEUE_TEST_REDIS_URL")
    target = urlsplit(base)
    with Proxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:

        def killed(seconds: float) -> None:
            """CLIENT KILL, from the server's side, of every connection of this run."""
            client = redis.Redis.from_url(base)
            try:
                for addr in proxy.upstream_addresses():
                    with contextlib.suppress(redis.ResponseError):
                        client.client_kill_filter(addr=addr)
            finally:
                client.close()

        def busy_counters() -> dict[str, dict[str, int]]:
            """Each user's running count (what claims check caps by)."""
            client = redis.Redis.from_url(base, decode_responses=True)
            try:
                out = {}
                for name in client.scan_iter(match=Keys(prefix).key("user", "*"), count=1000):
                    running = int(client.hget(name, "running") or 0)
                    if running:
                        out[name] = {"running": running}
                return out
            finally:
                client.close()

        faults = _proxy_faults(proxy)
        faults["clients killed"] = killed
        try:
            yield ChaosStore("redis", direct, _through(direct, proxy), faults, proxy, busy_counters)
        finally:
            import asyncio

            asyncio.run(delete_prefix(base, prefix))


STORES: dict[str, Callable[[Path], contextlib.AbstractContextManager[ChaosStore]]] = {
    "sqlite": sqlite_store,
    "postgres": postgres_store,
    "redis": redis_store,
}
