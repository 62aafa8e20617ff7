from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.stores import postgres as pgstore
from tests.stores import service_url
from ttsqueue.backends import BackendOptions, open_backend
from ttsqueue.backends.postgres import PostgresBackend


@pytest.fixture
def base_url() -> str:
    return service_url(pgstore.ENV)


@pytest.fixture
async def schema(base_url: str) -> AsyncIterator[str]:
    name = pgstore.new_schema()
    yield name
    await pgstore.drop_schema(name)


async def open_pg(schema: str, options: BackendOptions | None = None) -> PostgresBackend:
    backend = open_backend(pgstore.url_for(schema), options or BackendOptions())
    assert isinstance(backend, PostgresBackend)
    await backend.open()
    return backend


@pytest.fixture
async def pg(schema: str) -> AsyncIterator[PostgresBackend]:
    backend = await open_pg(schema)
    yield backend
    await backend.close()


@pytest.fixture
async def pg2(schema: str, pg: PostgresBackend) -> AsyncIterator[PostgresBackend]:
    """A second instance on the same schema, as another process would have."""
    backend = await open_pg(schema)
    yield backend
    await backend.close()
