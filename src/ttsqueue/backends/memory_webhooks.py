"""The in-memory backend's webhook endpoints and deliveries (see the webhook part of
:mod:`ttsqueue.backends.base`). Every method is synchronous, hence atomic on the loop;
:meth:`MemoryWebhooks.fanout` runs inside the step that appends the event."""

from __future__ import annotations

import secrets
from dataclasses import replace

from ttsqueue.models import Event
from ttsqueue.webhooks.model import (
    WEBHOOK_EVENTS,
    ClaimedDelivery,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)

OPEN = (DeliveryStatus.PENDING, DeliveryStatus.RUNNING)


class MemoryWebhooks:
    def __init__(self) -> None:
        self.endpoints: dict[str, WebhookEndpoint] = {}
        self.deliveries: dict[str, WebhookDelivery] = {}  # by id, in creation order
        self.tokens: dict[str, int] = {}
        self.leases: dict[str, float] = {}
        self._seq = 0

    def fanout(self, event: Event) -> None:
        if event.type not in WEBHOOK_EVENTS:
            return
        for ep in sorted(self.endpoints.values(), key=lambda e: e.id):
            if ep.user_id != event.user_id or event.type not in ep.events:
                continue
            if event.type == "job.progress" and any(
                d.endpoint_id == ep.id
                and d.job_id == event.job_id
                and d.type == "job.progress"
                and d.event_at > event.at - ep.progress_interval_s
                for d in self.deliveries.values()
            ):
                continue
            self._seq += 1
            delivery = WebhookDelivery(
                id="msg_" + secrets.token_hex(12),
                seq=self._seq,
                endpoint_id=ep.id,
                job_id=event.job_id,
                user_id=event.user_id,
                type=str(event.type),
                data=dict(event.data),
                event_seq=event.seq,
                event_at=event.at,
                status=DeliveryStatus.PENDING,
                attempts=0,
                run_at=event.at,
                window_start=event.at,
                created_at=event.at,
                updated_at=event.at,
            )
            self.deliveries[delivery.id] = delivery
            self.tokens[delivery.id] = 0

    def owned(self, endpoint_id: str, user_id: str | None) -> WebhookEndpoint | None:
        ep = self.endpoints.get(endpoint_id)
        if ep is None or (user_id is not None and ep.user_id != user_id):
            return None
        return ep

    def delete(self, endpoint_id: str, user_id: str | None) -> bool:
        if self.owned(endpoint_id, user_id) is None:
            return False
        del self.endpoints[endpoint_id]
        for d in [d for d in self.deliveries.values() if d.endpoint_id == endpoint_id]:
            del self.deliveries[d.id]
            self.tokens.pop(d.id, None)
            self.leases.pop(d.id, None)
        return True

    def _claimable(self, d: WebhookDelivery, now: float) -> bool:
        if d.status is DeliveryStatus.PENDING:
            return d.run_at <= now
        return d.status is DeliveryStatus.RUNNING and self.leases.get(d.id, 0.0) <= now

    def claim(self, limit: int, lease_s: float, now: float) -> list[ClaimedDelivery]:
        blocked: set[tuple[str, str]] = set()
        claimed: list[ClaimedDelivery] = []
        for d in sorted(self.deliveries.values(), key=lambda d: d.seq):
            if len(claimed) >= limit:
                break
            key = (d.endpoint_id, d.job_id)
            if d.status not in OPEN or key in blocked:
                continue
            blocked.add(key)  # later ones of this endpoint and job wait for this one
            if not self._claimable(d, now):
                continue
            ep = self.endpoints[d.endpoint_id]
            token = self.tokens[d.id] + 1
            self.tokens[d.id] = token
            self.leases[d.id] = now + lease_s
            held = replace(
                d, status=DeliveryStatus.RUNNING, attempts=d.attempts + 1, updated_at=now
            )
            self.deliveries[d.id] = held
            claimed.append(ClaimedDelivery(held, token, ep.url, tuple(ep.signing_secrets(now))))
        return claimed

    def finish(
        self,
        delivery_id: str,
        token: int,
        *,
        delivered: bool,
        response_status: int | None,
        error: str | None,
        retry_at: float | None,
        now: float,
    ) -> bool:
        d = self.deliveries.get(delivery_id)
        if d is None or d.status is not DeliveryStatus.RUNNING or self.tokens[d.id] != token:
            return False
        if delivered:
            status, run_at, at = DeliveryStatus.DELIVERED, d.run_at, now
        elif retry_at is not None:
            status, run_at, at = DeliveryStatus.PENDING, retry_at, None
        else:
            status, run_at, at = DeliveryStatus.FAILED, d.run_at, None
        self.leases.pop(d.id, None)
        self.deliveries[d.id] = replace(
            d,
            status=status,
            run_at=run_at,
            delivered_at=at,
            response_status=response_status,
            error=error,
            updated_at=now,
        )
        return True

    def prune(self, older_than: float, limit: int) -> int:
        done = (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)
        old = [
            d.id for d in self.deliveries.values() if d.status in done and d.updated_at < older_than
        ][: max(0, limit)]
        for delivery_id in old:
            del self.deliveries[delivery_id]
            self.tokens.pop(delivery_id, None)
        return len(old)

    def redeliver(self, endpoint_id: str, delivery_id: str, now: float) -> WebhookDelivery | None:
        d = self.deliveries.get(delivery_id)
        if d is None or d.endpoint_id != endpoint_id:
            return None
        if d.status is DeliveryStatus.RUNNING:
            return d
        again = replace(
            d,
            status=DeliveryStatus.PENDING,
            attempts=0,
            run_at=now,
            window_start=now,
            delivered_at=None,
            updated_at=now,
        )
        self.deliveries[d.id] = again
        return again
