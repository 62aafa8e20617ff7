"""Row-level security: a role that is not the owner, acting for app user A, reads only
A's jobs, tasks and events, whatever the query asks for, and changes nothing — even a
role an operator granted every privilege on every table."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import psycopg
import pytest

from tests.postgres import rls
from tests.postgres.helpers import book
from tests.stores.postgres import statement
from ttsqueue.backends.base import WorkerInfo
from ttsqueue.backends.postgres import PostgresBackend
from ttsqueue.models import ApiKey, StoredLexicon


@pytest.fixture
async def app_role(pg: PostgresBackend, base_url: str, schema: str) -> AsyncIterator[str]:
    """A per-run role granted everything on every table (as Supabase's default
    privileges grant every table in `public`): only row-level security holds it."""
    role = f"tq_app_{secrets.token_hex(5)}"
    async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
        await conn.execute(statement("create_role", role=role))
        await conn.execute(statement("grant_usage", schema=schema, role=role))
        await conn.execute(statement("grant_tables", schema=schema, role=role))
    yield role
    async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
        await conn.execute(statement("drop_owned", role=role))
        await conn.execute(statement("drop_role", role=role))


async def fill(pg: PostgresBackend) -> dict[str, list[str]]:
    """Jobs of two users, a worker, API keys (one an admin's), a lexicon: a row in every
    table."""
    jobs: dict[str, list[str]] = {}
    for user in ("user-a", "user-b", "user-a"):
        (r,) = await pg.enqueue([book(user, chapters=2)])
        jobs.setdefault(user, []).append(r.job.id)
    await pg.claim(worker_id="w1", limit=1, lease_s=60)
    await pg.register_worker(WorkerInfo("w1", "host", 1, "x", 1, (), 0.0))
    for user, admin in (("user-a", False), ("root", True)):
        await pg.put_api_key(ApiKey(f"k-{user}", f"hash-{user}", user, False, admin, "", 0.0))
    entries = ({"grapheme": "Io", "alias": "Eye oh"},)
    await pg.put_lexicon(
        StoredLexicon("lx-a", "user-a", "names", entries, 0.0, 0.0), max_per_user=5
    )
    return jobs


async def test_every_table_has_row_level_security(
    pg: PostgresBackend, base_url: str, schema: str
) -> None:
    found = await rls.tables(base_url, schema)
    assert {"jobs", "tasks", "events", "users", "api_keys", "workers"} <= set(found)
    assert [t for t, on in found.items() if not on] == []


async def test_a_user_reads_exactly_their_own_rows_and_no_other_table(
    pg: PostgresBackend, base_url: str, schema: str, app_role: str
) -> None:
    jobs = await fill(pg)
    everything = await rls.snapshot(base_url, schema)
    for user in ("user-a", "user-b"):
        conn = await rls.connect_as(base_url, app_role, **{"ttsqueue.user_id": user})
        try:
            for table, rows in everything.items():
                seen = await rls.visible(conn, schema, table)
                assert seen is not None, table
                if table in ("jobs", "tasks", "events"):
                    mine = [r for r in map(_json, rows) if r["user_id"] == user]
                    assert sorted(map(repr, seen)) == sorted(map(repr, mine)), table
                    assert {r["job_id" if table != "jobs" else "id"] for r in seen} == set(
                        jobs[user]
                    )
                else:
                    assert seen == [], table
        finally:
            await conn.close()


async def test_a_user_changes_nothing_neither_theirs_nor_anyone_elses(
    pg: PostgresBackend, base_url: str, schema: str, app_role: str
) -> None:
    jobs = await fill(pg)
    before = await rls.snapshot(base_url, schema)
    conn = await rls.connect_as(base_url, app_role, **{"ttsqueue.user_id": "user-a"})
    try:
        worked = await rls.writes_that_worked(
            base_url, conn, schema, ["user-a", "user-b", "root"], jobs["user-b"]
        )
    finally:
        await conn.close()
    assert worked == []
    assert await rls.snapshot(base_url, schema) == before


async def test_a_user_cannot_insert_a_job_for_another_user_or_themselves(
    pg: PostgresBackend, base_url: str, schema: str, app_role: str
) -> None:
    await fill(pg)
    before = await rls.snapshot(base_url, schema)
    conn = await rls.connect_as(base_url, app_role, **{"ttsqueue.user_id": "user-a"})
    try:
        for user in ("user-b", "user-a"):
            for table in ("jobs", "tasks", "events"):
                name = "insert_" + table[:-1]
                # refused by the table's own policy (not by a trigger's write elsewhere)
                refused = f'row-level security policy for table "{table}"'
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match=refused):
                    await conn.execute(
                        statement(name, schema=schema), {"id": f"planted-{user}", "user": user}
                    )
    finally:
        await conn.close()
    assert await rls.snapshot(base_url, schema) == before


async def test_without_a_user_the_role_sees_nothing(
    pg: PostgresBackend, base_url: str, schema: str, app_role: str
) -> None:
    await fill(pg)
    conn = await rls.connect_as(base_url, app_role)
    try:
        for table in await rls.tables(base_url, schema):
            assert await rls.visible(conn, schema, table) == [], table
    finally:
        await conn.close()


async def test_the_owner_keeps_working(pg: PostgresBackend) -> None:
    jobs = await fill(pg)
    job = await pg.get(jobs["user-b"][0])
    assert job is not None and job.user_id == "user-b"
    cancelled = await pg.cancel(job.id, user_id="user-b")
    assert cancelled.status.value == "cancelled"
    stats = await pg.stats()
    assert stats.jobs["cancelled"] == 1


def _json(text: str) -> dict[str, object]:
    import json

    value = json.loads(text)
    assert isinstance(value, dict)
    return value


async def test_other_roles_may_execute_none_of_the_queue_functions(
    pg: PostgresBackend, base_url: str, schema: str, app_role: str
) -> None:
    async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
        cur = await conn.execute(
            statement("executable_functions"), {"schema": schema, "role": app_role}
        )
        names = [r[0] for r in await cur.fetchall()]
    assert names == ["tq_request_user"]  # what the read policies call, nothing more
