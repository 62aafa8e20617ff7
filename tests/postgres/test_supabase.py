"""A Supabase-shaped database: the roles anon, authenticated and service_role,
auth.uid() reading the JWT claims PostgREST sets per request, and default privileges
that grant every new table in `public` to the API roles — with ttsqueue migrated into
`public`, the riskiest place, and into a schema of its own. Each role is then used the
way psql would (SET ROLE on a separate connection) and proven to see and change
exactly what it should.

Roles are cluster-wide: they are created if missing and never dropped. Everything else
lives in a database of this test's own, dropped afterwards."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.postgres import rls
from tests.postgres.helpers import book
from tests.stores.postgres import statement
from ttsqueue.backends import BackendOptions, open_backend
from ttsqueue.backends.base import WorkerInfo
from ttsqueue.backends.postgres import PostgresBackend
from ttsqueue.models import ApiKey

READABLE = ("events", "jobs", "tasks")
ALICE = str(uuid.uuid4())
BOB = str(uuid.uuid4())


@dataclass
class Supabase:
    url: str  # the test database, as the owner
    schema: str  # where ttsqueue lives in it
    pg: PostgresBackend
    jobs: dict[str, list[str]]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@pytest.fixture(params=["public", "ttsqueue"])
async def supabase(base_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Supabase]:
    """ttsqueue in Supabase's `public` (where default privileges grant every table to
    the API roles) or in a schema of its own."""
    schema = str(request.param)
    await rls.ensure_role(base_url, "anon")
    await rls.ensure_role(base_url, "authenticated")
    await rls.ensure_role(base_url, "service_role", "BYPASSRLS")
    name = f"tq_supa_{secrets.token_hex(5)}"
    async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
        await conn.execute(statement("create_database", database=name))
    url = _with_database(base_url, name)
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(statement("supabase_auth"))
        sep = "&" if "?" in url else "?"
        pg = open_backend(f"{url}{sep}schema={schema}", BackendOptions())
        assert isinstance(pg, PostgresBackend)
        await pg.open()
        try:
            jobs: dict[str, list[str]] = {}
            for user in (ALICE, BOB, ALICE):
                (r,) = await pg.enqueue([book(user, chapters=2)])
                jobs.setdefault(user, []).append(r.job.id)
            await pg.claim(worker_id="w1", limit=1, lease_s=60)
            await pg.register_worker(WorkerInfo("w1", "host", 1, "x", 1, (), 0.0))
            await pg.put_api_key(ApiKey("k1", "hash1", ALICE, False, False, "", 0.0))
            await pg.put_api_key(ApiKey("k2", "hash2", "root", False, True, "", 0.0))
            yield Supabase(url, schema, pg, jobs)
        finally:
            await pg.close()
    finally:
        async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
            await conn.execute(statement("drop_database", database=name))


def _claims(sub: str | None, role: str) -> str:
    claims: dict[str, object] = {"role": role, "aud": role, "exp": 2_000_000_000}
    if sub is not None:
        claims["sub"] = sub
    return json.dumps(claims)


async def _as(s: Supabase, role: str, sub: str | None) -> rls.Conn:
    """Connected as PostgREST would be for a request with this JWT."""
    return await rls.connect_as(s.url, role, **{"request.jwt.claims": _claims(sub, role)})


def _owners(rows: list[str], user: str) -> list[str]:
    return sorted(r for r in rows if json.loads(r)["user_id"] == user)


async def _seen(conn: rls.Conn, schema: str, table: str) -> list[str] | None:
    rows = await rls.visible(conn, schema, table)
    return None if rows is None else sorted(json.dumps(r, sort_keys=True) for r in rows)


def _norm(rows: list[str]) -> list[str]:
    return sorted(json.dumps(json.loads(r), sort_keys=True) for r in rows)


async def test_an_authenticated_user_reads_exactly_their_own_rows(supabase: Supabase) -> None:
    everything = await rls.snapshot(supabase.url, supabase.schema)
    assert set(READABLE) <= set(everything)
    for user in (ALICE, BOB):
        conn = await _as(supabase, "authenticated", user)
        try:
            for table, rows in everything.items():
                seen = await _seen(conn, supabase.schema, table)
                if table in READABLE:
                    assert seen == _norm(_owners(rows, user)), table
                    assert seen, table  # there is something of theirs to see
                else:  # users, api_keys, workers, counters, versions: not even readable
                    assert seen is rls.DENIED, table
        finally:
            await conn.close()


async def test_an_authenticated_user_cannot_set_their_own_identity(supabase: Supabase) -> None:
    """The setting the service uses to name its user means nothing to the API roles."""
    conn = await rls.connect_as(
        supabase.url,
        "authenticated",
        **{"request.jwt.claims": _claims(ALICE, "authenticated"), "ttsqueue.user_id": BOB},
    )
    try:
        jobs = await _seen(conn, supabase.schema, "jobs")
        assert jobs is not None
        assert {json.loads(j)["user_id"] for j in jobs} == {ALICE}
    finally:
        await conn.close()
    conn = await rls.connect_as(supabase.url, "authenticated", **{"ttsqueue.user_id": BOB})
    try:  # no JWT at all: nothing
        for table in READABLE:
            assert await _seen(conn, supabase.schema, table) == [], table
    finally:
        await conn.close()


async def test_anon_sees_nothing(supabase: Supabase) -> None:
    for sub in (None, ALICE):  # even with a sub in the claims
        conn = await _as(supabase, "anon", sub)
        try:
            for table in await rls.tables(supabase.url, supabase.schema):
                assert await _seen(conn, supabase.schema, table) is rls.DENIED, table
        finally:
            await conn.close()


async def test_service_role_reads_every_job_and_nothing_else(supabase: Supabase) -> None:
    everything = await rls.snapshot(supabase.url, supabase.schema)
    conn = await _as(supabase, "service_role", None)
    try:
        for table, rows in everything.items():
            seen = await _seen(conn, supabase.schema, table)
            if table in READABLE:
                assert seen == _norm(rows), table
            else:
                assert seen is rls.DENIED, table
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("role", "sub"),
    [("authenticated", ALICE), ("authenticated", None), ("anon", None), ("service_role", None)],
)
async def test_no_role_changes_anything(supabase: Supabase, role: str, sub: str | None) -> None:
    before = await rls.snapshot(supabase.url, supabase.schema)
    conn = await _as(supabase, role, sub)
    try:
        worked = await rls.writes_that_worked(
            supabase.url, conn, supabase.schema, [ALICE, BOB, "root"], supabase.jobs[BOB]
        )
    finally:
        await conn.close()
    assert worked == []
    assert await rls.snapshot(supabase.url, supabase.schema) == before


async def test_every_table_has_row_level_security(supabase: Supabase) -> None:
    found = await rls.tables(supabase.url, supabase.schema)
    assert [t for t, on in found.items() if not on] == []


async def test_the_service_keeps_working(supabase: Supabase) -> None:
    job = await supabase.pg.cancel(supabase.jobs[BOB][0], user_id=BOB)
    assert job.status.value == "cancelled"
    assert (await supabase.pg.stats()).jobs["cancelled"] == 1
