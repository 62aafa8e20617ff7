"""Direct database access as a role that is not the owner, the way a user with psql
(or PostgREST) would have it, and checks of what that role can see and change."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import errors

from tests.stores.postgres import statement

Conn = psycopg.AsyncConnection[tuple[Any, ...]]
DENIED = None  # what `visible` answers for a table the role may not read at all


async def connect_as(url: str, role: str, **settings: str) -> Conn:
    """A separate connection that has SET ROLE to ``role`` and set ``settings`` (custom
    settings such as ttsqueue.user_id or request.jwt.claims)."""
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    await conn.execute(statement("set_role", role=role))
    for name, value in settings.items():
        await conn.execute(statement("set_test_setting"), {"name": name, "value": value})
    return conn


async def ensure_role(url: str, role: str, options: str = "NOBYPASSRLS") -> None:
    """Create a cluster-wide role unless it exists (never dropped: another test run may
    be using it)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for name, value in (("tq_test.role", role), ("tq_test.options", options)):
            await conn.execute(statement("set_test_setting"), {"name": name, "value": value})
        await conn.execute(statement("ensure_role"))


async def tables(url: str, schema: str) -> dict[str, bool]:
    """Every table of the schema, and whether it has row-level security enabled."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(statement("tables"), {"schema": schema})
        return {str(name): bool(rls) for name, rls in await cur.fetchall()}


async def snapshot(url: str, schema: str) -> dict[str, list[str]]:
    """Every row of every table, as the owner sees it."""
    found = await tables(url, schema)
    out: dict[str, list[str]] = {}
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for table in found:
            cur = await conn.execute(statement("rows_as_json", schema=schema, table=table))
            out[table] = [str(r[0]) for r in await cur.fetchall()]
    return out


async def visible(conn: Conn, schema: str, table: str) -> list[dict[str, Any]] | None:
    """The rows of ``table`` the connection's role reads, or DENIED."""
    try:
        cur = await conn.execute(statement("rows_as_json", schema=schema, table=table))
    except errors.InsufficientPrivilege:
        return DENIED
    return [json.loads(r[0]) for r in await cur.fetchall()]


async def _column(url: str, schema: str, table: str) -> str:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(statement("plain_column"), {"table": f'"{schema}"."{table}"'})
        row = await cur.fetchone()
        assert row is not None
        return str(row[0])


async def writes_that_worked(
    url: str, conn: Conn, schema: str, users: Sequence[str], job_ids: Sequence[str]
) -> list[str]:
    """Try to change every table, for every user (the role's own and others'): insert
    rows, update and delete all rows, plant an admin key, raise a cap, point a job at
    another file. Answers the attempts that were not refused; each refusal must be a
    privilege error or a statement that touched no row."""
    worked: list[str] = []

    async def attempt(label: str, query: Any, params: dict[str, Any] | None = None) -> None:
        try:
            cur = await conn.execute(query, params)
        except errors.InsufficientPrivilege:
            return  # "permission denied" or "new row violates row-level security policy"
        if cur.rowcount != 0:
            worked.append(f"{label}: {cur.rowcount} rows")

    for table in await tables(url, schema):
        column = await _column(url, schema, table)
        await attempt(
            f"update {table}", statement("touch_all", schema=schema, table=table, column=column)
        )
        await attempt(f"delete {table}", statement("delete_all", schema=schema, table=table))
    for user in users:
        new_id = f"{secrets.token_hex(4)}-planted"
        for name in (
            "insert_job",
            "insert_task",
            "insert_event",
            "insert_api_key",
            "insert_user",
            "insert_worker",
            "insert_status_count",
            "raise_cap",
            "make_admin",
            "steal_audio",
        ):
            params = {"id": new_id, "user": user, "path": f"{job_ids[-1]}/book.m4b"}
            await attempt(f"{name} for {user}", statement(name, schema=schema), params)
    return worked
