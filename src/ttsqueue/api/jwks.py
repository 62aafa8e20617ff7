"""An identity provider's public signing keys, fetched from its JWKS URL.

Keys are found by ``kid`` and cached. A token naming a ``kid`` the cache does not hold
triggers one refetch (so a rotated key is picked up without a restart), but never more
than one fetch per ``refetch_min_s``: a stream of tokens with made-up kids does not
hammer the provider. The cache is also refreshed after ``max_age_s``; when the
provider cannot be reached the keys already held keep working.

Only the configured URL is ever fetched — never a URL named by a token (``jku``,
``x5u``) — over httpx's async client with a timeout, without following redirects,
and with a size limit on the answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from typing import Any

import httpx

log = logging.getLogger("ttsqueue.auth")

MAX_JWKS_BYTES = 256 * 1024
MAX_KEYS = 100
# The algorithms a provider's keys may sign with, and the key each needs.
KEY_TYPES: dict[str, tuple[str, str | None]] = {
    "ES256": ("EC", "P-256"),
    "RS256": ("RSA", None),
    "EdDSA": ("OKP", "Ed25519"),
}


class JwksError(Exception):
    """The key set could not be fetched or read."""


class JwksCache:
    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        max_age_s: float = 600.0,
        refetch_min_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.max_age_s = max_age_s
        self.refetch_min_s = refetch_min_s
        self.fetches = 0  # how many times the provider was asked (for tests and logs)
        self._transport = transport
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at = -math.inf  # monotonic time of the last good fetch
        self._tried_at = -math.inf  # monotonic time of the last attempt
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> dict[str, Any] | None:
        """The JWK with this ``kid``, or None when the provider does not know it."""
        now = time.monotonic()
        if kid in self._keys and now - self._fetched_at < self.max_age_s:
            return self._keys[kid]
        async with self._lock:
            # another request may have fetched while this one waited for the lock
            now = time.monotonic()
            fresh = now - self._fetched_at < self.max_age_s
            if (kid not in self._keys or not fresh) and now - self._tried_at >= self.refetch_min_s:
                self._tried_at = now
                try:
                    self._keys = await self._fetch()
                    self._fetched_at = time.monotonic()
                except JwksError as exc:
                    log.warning(
                        "JWKS %s: %s (keeping %d cached keys)", self.url, exc, len(self._keys)
                    )
        return self._keys.get(kid)

    async def _fetch(self) -> dict[str, dict[str, Any]]:
        self.fetches += 1
        try:
            async with httpx.AsyncClient(
                timeout=self.timeout_s, follow_redirects=False, transport=self._transport
            ) as client:
                async with client.stream(
                    "GET", self.url, headers={"Accept": "application/json"}
                ) as response:
                    if response.status_code != 200:
                        raise JwksError(f"answered HTTP {response.status_code}")
                    body = b""
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_JWKS_BYTES:
                            raise JwksError(f"answer larger than {MAX_JWKS_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise JwksError(f"fetch failed: {exc!r}") from None
        return parse_jwks(body)


def parse_jwks(body: bytes) -> dict[str, dict[str, Any]]:
    """The signing keys of a JWKS document by kid; keys we would never accept (no kid,
    symmetric, encryption-only) are left out."""
    try:
        doc = json.loads(body)
    except ValueError:
        raise JwksError("the answer is not JSON") from None
    keys = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(keys, list):
        raise JwksError("the answer has no 'keys' list")
    found: dict[str, dict[str, Any]] = {}
    for jwk in keys[:MAX_KEYS]:
        if not isinstance(jwk, dict):
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid or jwk.get("use", "sig") != "sig":
            continue
        if jwk.get("kty") not in {kty for kty, _ in KEY_TYPES.values()}:
            continue
        found[kid] = jwk
    return found


def key_fits(jwk: dict[str, Any], alg: str) -> bool:
    """Whether ``jwk`` may verify a token signed with ``alg`` (type, curve and its own
    declared ``alg`` all agree)."""
    if alg not in KEY_TYPES:
        return False
    kty, crv = KEY_TYPES[alg]
    if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
        return False
    declared = jwk.get("alg")
    return declared is None or declared == alg
