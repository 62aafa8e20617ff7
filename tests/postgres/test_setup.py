"""Setting up PostgreSQL from the CLI: the complete schema as SQL to paste (Supabase's
SQL editor), and the read-only application role."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from tests.postgres import rls
from tests.postgres.conftest import open_pg
from tests.postgres.helpers import book
from tests.stores import postgres as pgstore
from ttsqueue.backends.sqlfiles import migrations
from ttsqueue.models import JobFilter


def cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TTSQUEUE_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "ttsqueue", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_printed_sql_builds_the_schema_the_service_then_uses(
    base_url: str, schema: str
) -> None:
    done = cli("migrate", "--print-sql", "--schema", schema, url="sqlite:///unused.db")
    assert done.returncode == 0, done.stderr
    script = done.stdout
    assert script.count("BEGIN;") == 1 and script.rstrip().endswith("COMMIT;")
    async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
        await conn.execute(script.encode())
    # ttsqueue finds every migration applied, applies none, and works
    pg = await open_pg(schema)
    try:
        assert await pg.migrate() == []
        (r,) = await pg.enqueue([book("alice")])
        claimed = await pg.claim(worker_id="w", limit=5, lease_s=30)
        assert [t.job_id for t in claimed] == [r.job.id, r.job.id]
    finally:
        await pg.close()
    found = await rls.tables(base_url, schema)
    assert found and all(found.values())
    # pasted a second time, it refuses and changes nothing
    async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="ttsqueue migrate"):
            await conn.execute(script.encode())
    pg = await open_pg(schema)
    try:
        assert len((await pg.list_jobs(JobFilter(), limit=10)).items) == 1
    finally:
        await pg.close()


def test_printed_sql_holds_every_migration_in_order() -> None:
    done = cli("migrate", "--print-sql", url="postgresql://nowhere.invalid/db?schema=books")
    assert done.returncode == 0, done.stderr
    assert 'CREATE SCHEMA IF NOT EXISTS "books"' in done.stdout
    positions = [
        done.stdout.index(f"-- migration {m.version:03d}_") for m in migrations("postgres")
    ]
    assert positions == sorted(positions) and len(positions) >= 2
    bad = cli("migrate", "--print-sql", "--schema", 'x"; DROP', url="sqlite:///unused.db")
    assert bad.returncode != 0


async def test_create_app_role_gives_a_role_that_reads_its_own_jobs_only(
    base_url: str, schema: str
) -> None:
    url = pgstore.url_for(schema)
    done = cli("migrate", "--create-app-role", url=url)
    assert done.returncode == 0, done.stderr
    assert "ttsqueue_app" in done.stdout
    pg = await open_pg(schema)
    try:
        (a,) = await pg.enqueue([book("alice")])
        await pg.enqueue([book("bob")])
    finally:
        await pg.close()
    conn = await rls.connect_as(base_url, "ttsqueue_app", **{"ttsqueue.user_id": "alice"})
    try:
        jobs = await rls.visible(conn, schema, "jobs")
        assert jobs is not None and [j["id"] for j in jobs] == [a.job.id]
        for table in ("users", "api_keys", "workers", "status_counts", "claim_counter"):
            assert await rls.visible(conn, schema, table) is rls.DENIED, table
        worked = await rls.writes_that_worked(base_url, conn, schema, ["alice", "bob"], [a.job.id])
        assert worked == []
    finally:
        await conn.close()
    # idempotent: a second run (another deployment, the same cluster) is fine
    assert cli("migrate", "--create-app-role", url=url).returncode == 0
