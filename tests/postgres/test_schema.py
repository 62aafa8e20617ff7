from __future__ import annotations

import psycopg
import pytest

from tests.postgres.conftest import open_pg
from tests.stores.postgres import statement, url_for
from ttsqueue.backends import BackendConfigError, BackendOptions, open_backend
from ttsqueue.backends.base import SchemaTooNew, StoreUnavailable
from ttsqueue.backends.postgres import PostgresBackend
from ttsqueue.backends.postgres_conn import parse_url
from ttsqueue.backends.sqlfiles import migrations


def test_the_schema_parameter_is_stripped_before_connecting() -> None:
    target = parse_url("postgresql://u@h:5/db?sslmode=disable&schema=tq_x")
    assert target.schema == "tq_x"
    assert target.conninfo == "postgresql://u@h:5/db?sslmode=disable"
    assert parse_url("postgres://u@h/db").schema == "ttsqueue"


@pytest.mark.parametrize("bad", ["Bad", "x;drop", "1abc", ""])
def test_a_schema_name_that_is_not_an_identifier_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="schema"):
        parse_url(f"postgresql://h/db?schema={bad}")


def test_open_backend_dispatches_both_schemes() -> None:
    for scheme in ("postgresql", "postgres"):
        assert isinstance(
            open_backend(f"{scheme}://h/db?schema=tq_a", BackendOptions()), PostgresBackend
        )
    with pytest.raises(BackendConfigError):
        open_backend("postgresx://h/db")


async def test_open_applies_every_migration_once_and_migrate_is_idempotent(
    pg: PostgresBackend, base_url: str, schema: str
) -> None:
    assert await pg.migrate() == []
    async with await psycopg.AsyncConnection.connect(base_url) as conn:
        cur = await conn.execute(statement("versions", schema=schema))
        versions = [r[0] for r in await cur.fetchall()]
    assert versions == [m.version for m in migrations("postgres")]
    again = await open_pg(schema)
    await again.close()


async def test_migrate_on_a_closed_backend_creates_the_schema(schema: str) -> None:
    backend = open_backend(url_for(schema), BackendOptions())
    applied = await backend.migrate()
    assert applied == [m.version for m in migrations("postgres")]
    assert await backend.migrate() == []


async def test_a_schema_migrated_by_a_newer_version_is_refused(
    pg: PostgresBackend, base_url: str, schema: str
) -> None:
    future = len(migrations("postgres")) + 1
    async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
        await conn.execute(statement("bump_version", schema=schema), {"version": future})
    with pytest.raises(SchemaTooNew):
        await open_pg(schema)


async def test_an_unreachable_server_is_store_unavailable() -> None:
    backend = open_backend("postgresql://postgres@127.0.0.1:1/test?connect_timeout=2")
    with pytest.raises(StoreUnavailable):
        await backend.open()
