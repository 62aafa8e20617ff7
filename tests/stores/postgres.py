from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.stores import missing, service_url
from ttsqueue.backends import Backend, BackendOptions, open_backend
from ttsqueue.backends.base import StoreUnavailable
from ttsqueue.backends.sqlfiles import queries

ENV = "TTSQUEUE_TEST_POSTGRES_URL"
TESTING = queries("postgres", "testing.sql")


def new_schema() -> str:
    return f"tq_{secrets.token_hex(6)}"


def url_for(schema: str) -> str:
    base = service_url(ENV)
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}schema={schema}"


def statement(name: str, **identifiers: str) -> Any:
    """A test statement from sql/postgres/testing.sql with identifiers quoted."""
    from psycopg import sql

    return sql.SQL(TESTING[name]).format(  # type: ignore[arg-type]
        **{k: sql.Identifier(v) for k, v in identifiers.items()}
    )


async def drop_schema(schema: str) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(service_url(ENV), autocommit=True) as conn:
        await conn.execute(statement("drop_schema", schema=schema))


@asynccontextmanager
async def store(tmp_path: Path, options: BackendOptions) -> AsyncIterator[Backend]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing("psycopg is not installed")
    schema = new_schema()
    backend = open_backend(url_for(schema), options)
    try:
        await backend.open()
    except StoreUnavailable as exc:
        missing(f"PostgreSQL is unreachable: {exc}")
    try:
        yield backend
    finally:
        await backend.close()
        await drop_schema(schema)
