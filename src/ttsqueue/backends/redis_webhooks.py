"""Webhook endpoints and deliveries on Redis. Deliveries are made by the prelude's
``wh_fanout`` inside the script that appends the event; the scripts ``wh_*.lua`` move
them; the key layout is in :mod:`ttsqueue.backends.keys`."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from ttsqueue.backends.keys import Keys
from ttsqueue.webhooks.model import (
    ClaimedDelivery,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)

SCRIPTS = (
    "wh_create",
    "wh_delete",
    "wh_rotate",
    "wh_claim",
    "wh_finish",
    "wh_redeliver",
    "wh_prune",
)

Run = Callable[..., Awaitable[Any]]
Guard = Callable[[Awaitable[Any]], Awaitable[Any]]


def _opt_float(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def _opt_int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def endpoint(fields: dict[str, Any]) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=fields["id"],
        user_id=fields["user_id"],
        url=fields["url"],
        events=tuple(json.loads(fields["events"])),
        secret=fields["secret"],
        created_at=float(fields["created_at"]),
        progress_interval_s=float(fields["progress_interval_s"]),
        previous_secret=fields.get("previous_secret") or None,
        previous_until=_opt_float(fields.get("previous_until")),
        description=fields.get("description", ""),
    )


def delivery(fields: dict[str, Any]) -> WebhookDelivery:
    return WebhookDelivery(
        id=fields["id"],
        seq=int(fields["seq"]),
        endpoint_id=fields["endpoint_id"],
        job_id=fields["job_id"],
        user_id=fields["user_id"],
        type=fields["type"],
        data=json.loads(fields["data"]),
        event_seq=int(fields["event_seq"]),
        event_at=float(fields["event_at"]),
        status=DeliveryStatus(fields["status"]),
        attempts=int(fields["attempts"]),
        run_at=float(fields["run_at"]),
        window_start=float(fields["window_start"]),
        created_at=float(fields["created_at"]),
        updated_at=float(fields["updated_at"]),
        response_status=_opt_int(fields.get("response_status")),
        error=fields.get("error"),
        delivered_at=_opt_float(fields.get("delivered_at")),
    )


def _pairs(flat: list[Any]) -> dict[str, Any]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


class RedisWebhooks:
    def __init__(self, run: Run, guard: Guard, redis: Callable[[], Redis], keys: Keys) -> None:
        self._run = run
        self._guard = guard
        self._redis = redis
        self._keys = keys

    async def create(self, ep: WebhookEndpoint) -> bool:
        fields = {
            "id": ep.id,
            "user_id": ep.user_id,
            "url": ep.url,
            "events": json.dumps(list(ep.events)),
            "secret": ep.secret,
            "previous_secret": ep.previous_secret or "",
            "previous_until": "" if ep.previous_until is None else repr(ep.previous_until),
            "progress_interval_s": repr(float(ep.progress_interval_s)),
            "description": ep.description,
            "created_at": repr(ep.created_at),
        }
        spec = f"{float(ep.progress_interval_s)!r}|{','.join(ep.events)}"
        flat = [x for pair in fields.items() for x in pair]
        return bool(int(await self._run("wh_create", ep.id, ep.user_id, spec, *flat)))

    async def _endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        fields = await self._guard(
            self._redis().hgetall(self._keys.key("wh_endpoint", endpoint_id))
        )
        return endpoint(fields) if fields else None

    async def list_all(self, user_id: str | None) -> list[WebhookEndpoint]:
        r = self._redis()
        if user_id is None:
            ids = await self._guard(r.smembers(self._keys.key("wh_endpoints")))
        else:
            ids = await self._guard(r.hkeys(self._keys.key("wh_user", user_id)))
        found = [await self._endpoint(i) for i in sorted(ids)]
        return [e for e in found if e is not None]

    async def get(self, endpoint_id: str, user_id: str | None) -> WebhookEndpoint | None:
        ep = await self._endpoint(endpoint_id)
        if ep is None or (user_id is not None and ep.user_id != user_id):
            return None
        return ep

    async def delete(self, endpoint_id: str, user_id: str | None) -> bool:
        return bool(int(await self._run("wh_delete", endpoint_id, user_id or "")))

    async def rotate(
        self, endpoint_id: str, secret: str, previous_until: float, user_id: str | None
    ) -> WebhookEndpoint | None:
        done = await self._run(
            "wh_rotate", endpoint_id, user_id or "", secret, repr(previous_until)
        )
        return await self._endpoint(endpoint_id) if int(done) else None

    async def claim(self, limit: int, lease_s: float) -> list[ClaimedDelivery]:
        now_text, items = await self._run("wh_claim", limit, repr(float(lease_s)))
        now = float(now_text)
        claimed = []
        for flat, (url, secret, previous, until) in items:
            fields = _pairs(flat)
            secrets = [secret]
            if previous and until and now < float(until):
                secrets.append(previous)
            claimed.append(
                ClaimedDelivery(delivery(fields), int(fields["token"]), url, tuple(secrets))
            )
        return claimed

    async def finish(
        self,
        delivery_id: str,
        token: int,
        delivered: bool,
        response_status: int | None,
        error: str | None,
        retry_at: float | None,
    ) -> bool:
        if delivered:
            status = DeliveryStatus.DELIVERED
        elif retry_at is not None:
            status = DeliveryStatus.PENDING
        else:
            status = DeliveryStatus.FAILED
        done = await self._run(
            "wh_finish",
            delivery_id,
            token,
            str(status),
            "" if retry_at is None else repr(retry_at),
            "" if response_status is None else response_status,
            error or "",
        )
        return bool(int(done))

    async def _delivery(self, delivery_id: str) -> WebhookDelivery | None:
        fields = await self._guard(
            self._redis().hgetall(self._keys.key("wh_delivery", delivery_id))
        )
        return delivery(fields) if fields else None

    async def deliveries(
        self, endpoint_id: str, limit: int, before: int | None
    ) -> list[WebhookDelivery]:
        if limit <= 0:
            return []
        top = "+inf" if before is None else f"({before}"
        ids = await self._guard(
            self._redis().zrevrangebyscore(
                self._keys.key("wh_log", endpoint_id), top, "-inf", start=0, num=limit
            )
        )
        found = [await self._delivery(i) for i in ids]
        return [d for d in found if d is not None]

    async def prune(self, older_than: float, limit: int) -> int:
        return int(await self._run("wh_prune", repr(older_than), max(0, limit)))

    async def redeliver(self, endpoint_id: str, delivery_id: str) -> WebhookDelivery | None:
        if not int(await self._run("wh_redeliver", endpoint_id, delivery_id)):
            return None
        return await self._delivery(delivery_id)
