"""Row-level security: a non-owner role acting for app user A sees and changes only A's
rows, whatever the query asks for."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import psycopg
import pytest

from tests.postgres.helpers import book
from tests.stores.postgres import statement
from ttsqueue.backends.postgres import PostgresBackend

Conn = psycopg.AsyncConnection[tuple[object, ...]]


@pytest.fixture
async def app_role(pg: PostgresBackend, base_url: str, schema: str) -> AsyncIterator[str]:
    role = f"tq_app_{secrets.token_hex(5)}"
    async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
        await conn.execute(statement("create_role", role=role))
        await conn.execute(statement("grant_usage", schema=schema, role=role))
        await conn.execute(statement("grant_tables", schema=schema, role=role))
    yield role
    async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
        await conn.execute(statement("drop_owned", role=role))
        await conn.execute(statement("drop_role", role=role))


async def acting_for(base_url: str, role: str, user: str | None) -> Conn:
    conn = await psycopg.AsyncConnection.connect(base_url, autocommit=True)
    await conn.execute(statement("set_role", role=role))
    if user is not None:
        await conn.execute(statement("set_user"), {"user": user})
    return conn


async def ids(conn: Conn, name: str, schema: str) -> list[str]:
    cur = await conn.execute(statement(name, schema=schema))
    return [str(r[0]) for r in await cur.fetchall()]


async def test_a_user_reads_only_their_own_jobs_tasks_and_events(
    pg: PostgresBackend, base_url: str, schema: str, app_role: str
) -> None:
    (a,) = await pg.enqueue([book("user-a")])
    (b,) = await pg.enqueue([book("user-b")])
    conn = await acting_for(base_url, app_role, "user-a")
    try:
        assert await ids(conn, "job_ids", schema) == [a.job.id]
        assert await ids(conn, "task_job_ids", schema) == [a.job.id]
        assert await ids(conn, "event_job_ids", schema) == [a.job.id]
    finally:
        await conn.close()
    conn = await acting_for(base_url, app_role, "user-b")
    try:
        assert await ids(conn, "job_ids", schema) == [b.job.id]
    finally:
        await conn.close()


async def test_a_user_cannot_change_another_users_jobs(
    pg: PostgresBackend, base_url: str, schema: str, app_role: str
) -> None:
    (a,) = await pg.enqueue([book("user-a")])
    (b,) = await pg.enqueue([book("user-b")])
    conn = await acting_for(base_url, app_role, "user-a")
    try:
        cur = await conn.execute(
            statement("rename_job", schema=schema), {"id": b.job.id, "title": "stolen"}
        )
        assert cur.rowcount == 0
        cur = await conn.execute(statement("cancel_tasks", schema=schema), {"id": b.job.id})
        assert cur.rowcount == 0
        cur = await conn.execute(statement("delete_job", schema=schema), {"id": b.job.id})
        assert cur.rowcount == 0
        # their own job they may change
        cur = await conn.execute(
            statement("rename_job", schema=schema), {"id": a.job.id, "title": "mine"}
        )
        assert cur.rowcount == 1
    finally:
        await conn.close()
    job_b = await pg.get(b.job.id)
    assert job_b is not None and job_b.title == b.job.title
    assert all(t.status.value != "cancelled" for t in job_b.tasks)
    job_a = await pg.get(a.job.id)
    assert job_a is not None and job_a.title == "mine"


async def test_without_a_user_the_role_sees_nothing(
    pg: PostgresBackend, base_url: str, schema: str, app_role: str
) -> None:
    await pg.enqueue([book("user-a"), book("user-b")])
    conn = await acting_for(base_url, app_role, None)
    try:
        assert await ids(conn, "job_ids", schema) == []
    finally:
        await conn.close()
