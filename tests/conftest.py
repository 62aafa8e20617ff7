from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.stores import STORES
from ttsqueue.backends import Backend, BackendOptions


@pytest.fixture
def backend_options() -> BackendOptions:
    """Override in a test module (or with indirect parametrization) to tune a backend."""
    return BackendOptions(event_poll_s=0.05)


@pytest.fixture(params=STORES)
def store_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def backend(
    store_name: str, tmp_path: Path, backend_options: BackendOptions
) -> AsyncIterator[Backend]:
    module = importlib.import_module(f"tests.stores.{store_name}")
    async with module.store(tmp_path, backend_options) as b:
        yield b
