"""Store selection: one URL picks the backend, its driver imported only when used."""

from __future__ import annotations

import asyncio
import importlib
import logging
import random
import time
from urllib.parse import urlsplit

from ttsqueue.backends.base import Backend, BackendOptions, StoreUnavailable

log = logging.getLogger("ttsqueue.backends")

# scheme -> (module, class, extra that brings the driver, or None)
_BACKENDS: dict[str, tuple[str, str, str | None]] = {
    "memory": ("ttsqueue.backends.memory", "MemoryBackend", None),
    "sqlite": ("ttsqueue.backends.sqlite", "SqliteBackend", None),
    "postgresql": ("ttsqueue.backends.postgres", "PostgresBackend", "postgres"),
    "postgres": ("ttsqueue.backends.postgres", "PostgresBackend", "postgres"),
    "redis": ("ttsqueue.backends.redis", "RedisBackend", "redis"),
    "rediss": ("ttsqueue.backends.redis", "RedisBackend", "redis"),
}

_DRIVERS = {"postgres": "psycopg", "redis": "redis"}


class BackendConfigError(ValueError):
    """The store URL names no known backend, or its driver is not installed."""


def open_backend(url: str, options: BackendOptions | None = None) -> Backend:
    """Build (but do not open) the backend for ``url``.

    ``memory://``, ``sqlite:///path/to.db``, ``postgresql://…[?schema=name]``,
    ``redis://…[/db][?prefix=name]``.
    """
    scheme = urlsplit(url).scheme.lower()
    try:
        module_name, class_name, extra = _BACKENDS[scheme]
    except KeyError:
        known = ", ".join(sorted(_BACKENDS))
        raise BackendConfigError(
            f"TTSQUEUE_DATABASE_URL: unknown scheme {scheme!r} (expected one of: {known})"
        ) from None
    if extra is not None:
        try:
            importlib.import_module(_DRIVERS[extra])
        except ImportError:
            raise BackendConfigError(
                f"the {scheme} backend needs its driver: pip install 'ttsqueue[{extra}]'"
            ) from None
    module = importlib.import_module(module_name)
    cls: type[Backend] = getattr(module, class_name)
    return cls(url, options or BackendOptions())  # type: ignore[call-arg]


async def open_waiting(backend: Backend, wait_s: float) -> None:
    """Open the store, waiting up to ``wait_s`` for it with backoff: a worker or API
    process started while the store restarts or is cut off comes up when it is back."""
    deadline = time.monotonic() + wait_s
    delay = 0.1
    while True:
        try:
            await backend.open()
            return
        except StoreUnavailable as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("the store is unavailable (%s); trying again in %.1fs", exc, delay)
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        delay = min(5.0, delay * 2)


__all__ = ["Backend", "BackendConfigError", "BackendOptions", "open_backend", "open_waiting"]
