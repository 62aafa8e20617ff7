"""Premium from the app's own data: on PostgreSQL, ``TTSQUEUE_PREMIUM_LOOKUP`` names a
``[schema.]table.column`` (e.g. ``public.profiles.is_premium``) read for the user whose
``TTSQUEUE_PREMIUM_LOOKUP_KEY`` column (default ``id``) equals the user id. The names
are checked and quoted as identifiers, so the setting cannot carry SQL. Answers are
cached for ``TTSQUEUE_PREMIUM_LOOKUP_CACHE_S``; a failed lookup counts as not premium.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ttsqueue.backends.base import Backend
from ttsqueue.settings import Settings

log = logging.getLogger("ttsqueue.auth")

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
MAX_CACHED = 10_000


@dataclass(frozen=True, slots=True)
class Lookup:
    table: tuple[str, ...]  # (table,) or (schema, table)
    column: str
    key: str


def parse_lookup(text: str, key: str) -> Lookup:
    """``[schema.]table.column`` as identifiers; ValueError names the setting."""
    parts = text.strip().split(".")
    if not 2 <= len(parts) <= 3 or not all(_IDENT.match(p) for p in [*parts, key]):
        raise ValueError(
            "TTSQUEUE_PREMIUM_LOOKUP must read [schema.]table.column and "
            "TTSQUEUE_PREMIUM_LOOKUP_KEY a column name (letters, digits, underscore)"
        )
    return Lookup(table=tuple(parts[:-1]), column=parts[-1], key=key)


class PremiumCache:
    def __init__(
        self, lookup: Callable[[str], Awaitable[bool]], ttl_s: float, clock: Callable[[], float]
    ) -> None:
        self._lookup = lookup
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, bool]] = {}

    async def __call__(self, user_id: str) -> bool:
        now = self._clock()
        hit = self._cache.get(user_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            value = await self._lookup(user_id)
        except Exception as exc:  # a broken lookup must not lock users out
            log.warning("premium lookup failed for a user: %s", exc)
            value = False
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        if self._ttl_s > 0:
            self._cache[user_id] = (now + self._ttl_s, value)
        return value


def premium_check(settings: Settings, backend: Backend) -> Callable[[str], Awaitable[bool]] | None:
    """The premium lookup the settings ask for, or None; refuses a store without one."""
    if not settings.premium_lookup:
        return None
    lookup = parse_lookup(settings.premium_lookup, settings.premium_lookup_key)
    query = getattr(backend, "premium_lookup", None)
    if query is None:
        raise ValueError("TTSQUEUE_PREMIUM_LOOKUP needs the PostgreSQL store")

    async def ask(user_id: str) -> bool:
        return bool(await query(lookup.table, lookup.column, lookup.key, user_id))

    return PremiumCache(ask, settings.premium_lookup_cache_s, time.monotonic)
