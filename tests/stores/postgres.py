from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.stores import missing, service_url
from ttsqueue.backends import Backend, BackendOptions, open_backend

ENV = "TTSQUEUE_TEST_POSTGRES_URL"


def new_schema() -> str:
    return f"tq_{secrets.token_hex(6)}"


def url_for(schema: str) -> str:
    base = service_url(ENV)
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}schema={schema}"


async def drop_schema(schema: str) -> None:
    import psycopg
    from psycopg import sql

    async with await psycopg.AsyncConnection.connect(service_url(ENV), autocommit=True) as conn:
        await conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )


@asynccontextmanager
async def store(tmp_path: Path, options: BackendOptions) -> AsyncIterator[Backend]:
    try:
        import psycopg
    except ImportError:
        missing("psycopg is not installed")
        raise
    schema = new_schema()
    try:
        backend = open_backend(url_for(schema), options)
        await backend.open()
    except Exception as exc:  # the service is down or unreachable
        from ttsqueue.backends.base import StoreUnavailable

        if isinstance(exc, StoreUnavailable | psycopg.OperationalError):
            missing(f"PostgreSQL is unreachable: {exc}")
        raise
    try:
        yield backend
    finally:
        await backend.close()
        await drop_schema(schema)
