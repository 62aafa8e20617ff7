"""The worker's webhook loop: claim deliveries, post them, record each attempt.

It runs beside the task loop in every worker. A delivery is held under a lease longer
than one attempt's deadline; a worker that dies mid-attempt loses nothing, as the
lease runs out and another worker (or this one, restarted) claims it again with a new
token. A failed attempt is retried with exponential backoff and jitter until
``webhooks_retry_for_s`` after the delivery was created (or redelivered); after that
the delivery is ``failed`` and a redeliver call can queue it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

import httpx

from ttsqueue.backends.base import Backend
from ttsqueue.settings import Settings
from ttsqueue.webhooks.model import ClaimedDelivery, payload
from ttsqueue.webhooks.sender import Attempt, post, signed_headers

log = logging.getLogger("ttsqueue.webhooks")

PRUNE_EVERY_S = 3600.0
LEASE_MARGIN_S = 5.0  # the attempt has its deadline; this covers recording it
STORE_RETRY_MAX_S = 30.0


def next_try(attempts: int, *, base_s: float, max_s: float, rng: random.Random) -> float:
    """Seconds until the next try after ``attempts`` failed ones: doubling from
    ``base_s`` up to ``max_s``, each drawn from the upper half (jitter)."""
    ceiling = min(max_s, base_s * 2.0 ** min(attempts - 1, 40))
    return ceiling * rng.uniform(0.5, 1.0)


class DeliveryLoop:
    def __init__(
        self,
        backend: Backend,
        settings: Settings,
        *,
        worker_id: str,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.worker_id = worker_id
        self.lease_s = settings.webhooks_timeout_s + LEASE_MARGIN_S
        self._client = client
        self._rng = random.Random()
        self.delivered = 0
        self.failed_attempts = 0

    async def run(self, stopping: asyncio.Event) -> None:
        """Deliver until ``stopping`` is set, then finish the attempts in flight."""
        own = self._client is None
        client = self._client or httpx.AsyncClient(follow_redirects=False, trust_env=False)
        delay = 0.0
        pruned_at = -PRUNE_EVERY_S
        try:
            while not stopping.is_set():
                if time.monotonic() - pruned_at >= PRUNE_EVERY_S:
                    pruned_at = time.monotonic()
                    await self.prune()
                try:
                    n = await self.deliver_once(client)
                    delay = 0.0
                except Exception as exc:
                    delay = min(STORE_RETRY_MAX_S, max(0.2, delay * 2))
                    log.warning("webhook claim failed (%s); retrying in %.1fs", exc, delay)
                    n = 0
                if n == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            stopping.wait(), delay or self.settings.webhooks_poll_s
                        )
        finally:
            if own:
                await client.aclose()

    async def prune(self) -> int:
        """Forget delivered and failed deliveries older than the retention of jobs."""
        cutoff = time.time() - self.settings.retention_days * 86400
        total = 0
        try:
            while True:
                n = await self.backend.prune_deliveries(older_than=cutoff, limit=1000)
                total += n
                if n < 1000:
                    return total
        except Exception as exc:
            log.warning("pruning webhook deliveries failed: %s", exc)
            return total

    async def deliver_once(self, client: httpx.AsyncClient) -> int:
        """Claim a batch and attempt each delivery of it at once; answers how many."""
        claimed = await self.backend.claim_deliveries(
            worker_id=self.worker_id,
            limit=self.settings.webhooks_concurrency,
            lease_s=self.lease_s,
        )
        await asyncio.gather(*(self._attempt(client, held) for held in claimed))
        return len(claimed)

    async def _attempt(self, client: httpx.AsyncClient, held: ClaimedDelivery) -> None:
        d = held.delivery
        body = payload(d)
        headers = signed_headers(d.id, int(time.time()), body, list(held.secrets))
        s = self.settings
        try:
            result = await post(
                client,
                held.url,
                headers,
                body,
                timeout_s=s.webhooks_timeout_s,
                allow_private=s.webhooks_allow_private,
                allow_http=s.webhooks_allow_http,
            )
        except Exception as exc:  # never lose the delivery to a bug in one attempt
            result = Attempt(False, None, f"{type(exc).__name__}: {exc}"[:500])
        retry_at = None
        if not result.delivered:
            self.failed_attempts += 1
            wait = next_try(
                d.attempts,
                base_s=s.webhooks_retry_base_s,
                max_s=s.webhooks_retry_max_s,
                rng=self._rng,
            )
            at = time.time() + wait
            if at <= d.window_start + s.webhooks_retry_for_s:
                retry_at = at
            log.info(
                "webhook %s to %s failed (attempt %d): %s%s",
                d.id,
                held.url,
                d.attempts,
                result.error,
                "" if retry_at else "; giving up",
            )
        else:
            self.delivered += 1
        try:
            await self.backend.finish_delivery(
                d.id,
                held.token,
                delivered=result.delivered,
                response_status=result.status,
                error=result.error,
                retry_at=retry_at,
            )
        except Exception as exc:  # the lease runs out and the delivery is tried again
            log.warning("recording webhook %s failed: %s", d.id, exc)
