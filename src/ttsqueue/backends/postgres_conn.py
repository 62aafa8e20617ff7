"""PostgreSQL plumbing: the URL, the connection pool, error mapping and migrations.

The URL is a libpq URL plus one parameter of ours, ``schema`` (default ``ttsqueue``),
which is stripped before connecting. Pool connections run in autocommit with
``search_path`` set to the schema, so every named query and SQL function call is one
transaction and one round trip.
"""

from __future__ import annotations

import asyncio
import re
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import psycopg_pool
from psycopg import errors, sql
from psycopg.rows import DictRow, dict_row

from ttsqueue.backends.base import SchemaTooNew, StoreUnavailable
from ttsqueue.backends.sqlfiles import migrations, queries

T = TypeVar("T")
Conn = psycopg.AsyncConnection[DictRow]

Q = queries("postgres")
QB = {name: text.encode() for name, text in Q.items()}  # bytes: psycopg's query type
DEFAULT_SCHEMA = "ttsqueue"
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")
RETRIES = 8  # deadlocks and serialization failures are retried this many times
CONNECT_TIMEOUT_S = 10.0
POOL_WAIT_S = 5.0  # a call waits this long for a connection, then StoreUnavailable
CHECK_IDLE_S = 1.0  # a pooled connection idle longer than this is checked before use


@dataclass(frozen=True, slots=True)
class Target:
    conninfo: str  # the URL without our own parameters
    schema: str


def parse_url(url: str) -> Target:
    """Split ``postgresql://…?schema=name`` into a libpq URL and the schema name."""
    parts = urlsplit(url)
    schema = DEFAULT_SCHEMA
    rest: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "schema":
            schema = value
        else:
            rest.append((key, value))
    if not _SCHEMA.match(schema):
        raise ValueError(
            f"TTSQUEUE_DATABASE_URL: schema {schema!r} must be a lower-case identifier "
            "(letters, digits, underscore; at most 48 characters)"
        )
    scheme = "postgresql" if parts.scheme.lower() in ("postgres", "postgresql") else parts.scheme
    conninfo = urlunsplit((scheme, parts.netloc, parts.path, urlencode(rest), parts.fragment))
    return Target(conninfo=conninfo, schema=schema)


def formatted(name: str, schema: str) -> sql.Composed:
    """A named query with ``{schema}`` filled in as a quoted identifier."""
    return sql.SQL(Q[name]).format(schema=sql.Identifier(schema))


def unavailable(exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(f"PostgreSQL is unavailable: {exc}".strip())


class Database:
    """The pool, with every call mapped to our errors and retried on deadlock."""

    def __init__(self, target: Target, *, min_size: int = 2, max_size: int = 8) -> None:
        self.target = target
        self._sizes = (min_size, max_size)
        self._pool: psycopg_pool.AsyncConnectionPool[Conn] | None = None
        self._last_ok: weakref.WeakKeyDictionary[Conn, float] = weakref.WeakKeyDictionary()

    @property
    def pool(self) -> psycopg_pool.AsyncConnectionPool[Conn]:
        if self._pool is None:
            raise StoreUnavailable("the postgres backend is not open")
        return self._pool

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    async def connect(self) -> Conn:
        """One connection outside the pool (the listener, migrations of a closed backend)."""
        try:
            return await psycopg.AsyncConnection.connect(
                self.target.conninfo,
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=int(CONNECT_TIMEOUT_S),
            )
        except psycopg.OperationalError as exc:
            raise unavailable(exc) from exc

    async def open(self) -> None:
        if self._pool is not None:
            return
        probe = await self.connect()  # a store that is down fails at once, clearly
        await probe.close()
        pool: psycopg_pool.AsyncConnectionPool[Conn] = psycopg_pool.AsyncConnectionPool(
            self.target.conninfo,
            min_size=self._sizes[0],
            max_size=self._sizes[1],
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "options": f"-c search_path={self.target.schema}",
                "prepare_threshold": 0,  # the hot-path calls are prepared at first use
            },
            configure=warm_up,
            check=self._check,
            open=False,
            timeout=POOL_WAIT_S,
            reconnect_timeout=0,  # keep trying for ever: the store comes back
            name=f"ttsqueue-{self.target.schema}",
        )
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            await pool.close()
            raise unavailable(exc) from exc
        self._pool = pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def _check(self, conn: Conn) -> None:
        """Check a connection handed out by the pool with a round trip, unless it just
        served a call: the hot path does not pay a round trip per call for it."""
        if time.monotonic() - self._last_ok.get(conn, 0.0) > CHECK_IDLE_S:
            await psycopg_pool.AsyncConnectionPool.check_connection(conn)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        try:
            async with self.pool.connection() as conn:
                yield conn
                self._last_ok[conn] = time.monotonic()
        except errors.TransactionRollback:
            raise
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise unavailable(exc) from exc
        except psycopg_pool.PoolTimeout as exc:
            raise unavailable(exc) from exc

    async def run(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``work`` on a pooled connection; retry it after a deadlock."""
        for attempt in range(RETRIES):
            try:
                async with self.connection() as conn:
                    return await work(conn)
            except errors.TransactionRollback as exc:
                if attempt == RETRIES - 1:
                    raise unavailable(exc) from exc
                await asyncio.sleep(0.005 * 2**attempt)
        raise AssertionError("unreachable")

    async def all(self, name: str, params: dict[str, Any] | None = None) -> list[DictRow]:
        async def work(conn: Conn) -> list[DictRow]:
            cur = await conn.execute(QB[name], params)
            return await cur.fetchall()

        return await self.run(work)

    async def one(self, name: str, params: dict[str, Any] | None = None) -> DictRow | None:
        rows = await self.all(name, params)
        return rows[0] if rows else None

    async def execute(self, name: str, params: dict[str, Any] | None = None) -> int:
        async def work(conn: Conn) -> int:
            cur = await conn.execute(QB[name], params)
            return cur.rowcount

        return await self.run(work)

    async def migrate(self) -> list[int]:
        if self._pool is not None:
            return await self.run(lambda conn: apply_migrations(conn, self.target.schema))
        conn = await self.connect()
        try:
            return await apply_migrations(conn, self.target.schema)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise unavailable(exc) from exc
        finally:
            await conn.close()


async def warm_up(conn: Conn) -> None:
    """Plan the hot-path functions on a new pool connection before it serves a call,
    so that no worker's claim pays for it (a schema not migrated yet is skipped)."""
    try:
        await conn.execute(QB["warm_up"])
    except (errors.UndefinedFunction, errors.UndefinedTable, errors.InvalidSchemaName):
        pass


async def apply_migrations(conn: Conn, schema: str) -> list[int]:
    """Apply pending migrations in one transaction under an advisory lock."""
    known = migrations("postgres")
    applied: list[int] = []
    async with conn.transaction():
        await conn.execute(QB["migration_lock"], {"schema": schema})
        await conn.execute(formatted("create_schema", schema))
        await conn.execute(formatted("create_version_table", schema))
        cur = await conn.execute(formatted("schema_version", schema))
        row = await cur.fetchone()
        current = int(row["version"]) if row else 0
        if current > len(known):
            raise SchemaTooNew(
                f"schema {schema!r} is at version {current}, this ttsqueue knows "
                f"{len(known)}: upgrade ttsqueue"
            )
        await conn.execute(formatted("set_local_search_path", schema))
        for migration in known[current:]:
            await conn.execute(migration.sql.encode())
            await conn.execute(
                formatted("record_version", schema),
                {"version": migration.version, "name": migration.name},
            )
            applied.append(migration.version)
        if applied:
            # objects a migration created get the same trimmed grants as the rest
            from ttsqueue.backends.postgres_roles import regrant

            await regrant(conn, schema)
    return applied
