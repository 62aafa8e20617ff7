from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from ttsqueue.backends import Backend, BackendOptions, open_backend


def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'queue.db'}"


@asynccontextmanager
async def store(tmp_path: Path, options: BackendOptions) -> AsyncIterator[Backend]:
    async with open_backend(url(tmp_path), options) as backend:
        yield backend
