"""The SQLite connection: one per backend, owned by one thread, migrations and transactions.

Every call runs on a dedicated single-thread executor, so the connection is never shared
between threads and calls of one backend are serialized. Several processes may open the
same file: WAL mode lets readers run beside the single writer, every write transaction
starts ``BEGIN IMMEDIATE`` (so two writers queue on the busy timeout instead of failing
on a lock upgrade), and migrations run under ``BEGIN EXCLUSIVE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from ttsqueue.backends.base import SchemaTooNew, StoreUnavailable
from ttsqueue.backends.sqlfiles import migrations, queries
from ttsqueue.storage import FILE_MODE, make_private_dir

T = TypeVar("T")

Q = queries("sqlite")
BUSY_TIMEOUT_MS = 30_000


def path_from_url(url: str) -> Path:
    """``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "sqlite":
        raise ValueError(f"not a sqlite URL: {url!r}")
    if parts.netloc:
        raise ValueError(f"sqlite URL takes no host (sqlite:///path/to.db): {url!r}")
    raw = unquote(parts.path)
    if raw.startswith("/"):  # sqlite:///rel/path -> "rel/path"; sqlite:////abs -> "/abs"
        raw = raw[1:]
    if not raw:
        raise ValueError(f"sqlite URL names no file: {url!r}")
    return Path(raw)


def split_statements(script: str) -> list[str]:
    """Split a migration into complete statements (trigger bodies stay whole)."""
    statements: list[str] = []
    buf: list[str] = []
    for line in script.splitlines(keepends=True):
        buf.append(line)
        text = "".join(buf)
        if sqlite3.complete_statement(text):
            stripped = text.strip()
            if stripped:
                statements.append(stripped)
            buf = []
    rest = "".join(buf).strip()
    if rest and any(not ln.strip().startswith("--") for ln in rest.splitlines() if ln.strip()):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {rest[:60]!r}")
    return statements


@contextmanager
def transaction(conn: sqlite3.Connection, begin: str = "begin_immediate") -> Iterator[None]:
    """One transaction: ``BEGIN IMMEDIATE`` for writes (the default), committed on
    success and rolled back on any error."""
    conn.execute(Q[begin])
    try:
        yield
    except BaseException:
        conn.execute(Q["rollback"])
        raise
    conn.execute(Q["commit"])


def connect(path: Path) -> sqlite3.Connection:
    make_private_dir(path.parent)
    # A new database file is created 0600 here, before SQLite opens it; its -wal and
    # -shm files then take the same mode from it.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE))
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    conn.row_factory = sqlite3.Row
    conn.execute(Q["pragma_busy_timeout"])
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:  # switching a fresh file to WAL needs a moment of exclusive access
        try:
            mode = conn.execute(Q["pragma_wal"]).fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    if str(mode).lower() != "wal":
        raise StoreUnavailable(f"{path}: could not switch to WAL mode (got {mode})")
    conn.execute(Q["pragma_synchronous"])
    return conn


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply pending migrations in order under an exclusive lock; return versions applied."""
    known = migrations("sqlite")
    newest = known[-1].version if known else 0
    with transaction(conn, "begin_exclusive"):
        conn.execute(Q["create_schema_versions"])
        current = int(conn.execute(Q["schema_version"]).fetchone()[0])
        if current > newest:
            raise SchemaTooNew(
                f"database schema version {current} is newer than this ttsqueue ({newest})"
            )
        applied: list[int] = []
        for migration in known[current:]:
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                Q["record_schema_version"],
                {"version": migration.version, "name": migration.name, "at": time.time()},
            )
            applied.append(migration.version)
    return applied


class Database:
    """The connection and the thread it lives on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    def _start(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="ttsqueue-sqlite")
        return self._executor

    async def open(self) -> None:
        if self._conn is not None:
            return
        try:
            self._conn = await asyncio.wrap_future(self._start().submit(connect, self.path))
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(conn, *args)`` on the connection's thread."""
        conn = self._conn
        if conn is None:
            raise StoreUnavailable("the sqlite backend is not open")
        return self._start().submit(fn, conn, *args)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.wrap_future(self.submit(fn, *args))
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc

    async def close(self) -> None:
        conn, executor = self._conn, self._executor
        self._conn = None
        self._executor = None
        if executor is None:
            return
        if conn is not None:
            await asyncio.wrap_future(executor.submit(conn.close))
        executor.shutdown(wait=False)
