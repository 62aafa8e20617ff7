"""The API fixtures (in-memory store, httpx in-process) for the operations tests."""

from __future__ import annotations

from tests.api.conftest import app, backend, client, queue, settings, storage

__all__ = ["app", "backend", "client", "queue", "settings", "storage"]
