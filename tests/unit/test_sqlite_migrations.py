"""What only the SQLite store has: its file, its URL and its numbered migrations."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from ttsqueue.backends import BackendOptions, open_backend
from ttsqueue.backends.base import SchemaTooNew
from ttsqueue.backends.sqlfiles import migrations
from ttsqueue.backends.sqlite import SqliteBackend
from ttsqueue.backends.sqlite_db import connect, migrate, path_from_url

ALL_VERSIONS = [m.version for m in migrations("sqlite")]


def recorded_versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_versions ORDER BY 1")]


def test_url_paths() -> None:
    assert path_from_url("sqlite:///data/q.db") == Path("data/q.db")
    assert path_from_url("sqlite:////var/lib/q.db") == Path("/var/lib/q.db")
    for bad in ("sqlite://", "sqlite:///", "sqlite://host/q.db", "postgresql:///q.db"):
        with pytest.raises(ValueError):
            path_from_url(bad)


async def test_open_creates_the_parent_directory_and_applies_every_migration(
    tmp_path: Path,
) -> None:
    path = tmp_path / "deep" / "er" / "queue.db"
    backend = open_backend(f"sqlite:///{path}", BackendOptions())
    assert isinstance(backend, SqliteBackend)
    async with backend:
        assert await backend.migrate() == []  # open() already applied them
        await backend.ping()
    assert recorded_versions(path) == ALL_VERSIONS
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migrate_on_a_fresh_file_applies_all_versions_in_order(tmp_path: Path) -> None:
    conn = connect(tmp_path / "fresh.db")
    try:
        assert migrate(conn) == ALL_VERSIONS
        assert migrate(conn) == []
    finally:
        conn.close()
    assert recorded_versions(tmp_path / "fresh.db") == ALL_VERSIONS


async def test_reopening_keeps_the_data(tmp_path: Path) -> None:
    from ttsqueue.models import Chapter, JobSpec

    url = f"sqlite:///{tmp_path / 'q.db'}"
    async with open_backend(url) as first:
        (result,) = await first.enqueue([JobSpec(user_id="u", chapters=(Chapter("A", "a"),))])
    async with open_backend(url) as second:
        job = await second.get(result.job.id)
    assert job is not None and job.total_chapters == 1 and len(job.tasks) == 2


async def test_a_database_from_a_newer_ttsqueue_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    async with open_backend(f"sqlite:///{path}"):
        pass
    newer = ALL_VERSIONS[-1] + 1
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO schema_versions (version, name, applied_at) VALUES (?, 'future', 0)",
            (newer,),
        )
    backend = open_backend(f"sqlite:///{path}")
    with pytest.raises(SchemaTooNew, match=f"version {newer}"):
        await backend.open()
    await backend.close()
    assert recorded_versions(path) == [*ALL_VERSIONS, newer]  # nothing touched


def _open_at_once(url: str, start: multiprocessing.synchronize.Barrier) -> None:
    start.wait(60)  # every process is up and imported: open together

    async def main() -> None:
        async with open_backend(url) as backend:
            await backend.ping()

    asyncio.run(main())


@pytest.mark.slow
def test_processes_opening_a_fresh_file_at_once_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared' / 'q.db'}"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(4)
    procs = [ctx.Process(target=_open_at_once, args=(url, start)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert recorded_versions(tmp_path / "shared" / "q.db") == ALL_VERSIONS
