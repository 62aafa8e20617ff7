"""How a test gets an isolated, open backend of each kind.

Each module here exports ``store(tmp_path, options)``: an async context manager that
yields an open backend isolated from every other test (own file, schema or key prefix)
and cleans up after itself. Services are reached by URL from the environment; a missing
service skips the test locally and fails it under CI (``CI=true``).
"""

from __future__ import annotations

import os

from tests.skips import missing

__all__ = ["STORES", "missing", "service_url"]

STORES = ("memory", "sqlite", "postgres", "redis")


def service_url(env: str) -> str:
    url = os.environ.get(env)
    if not url:
        missing(f"{env} is not set")
    return url
