"""Webhook endpoints and deliveries on PostgreSQL: the queries of
``sql/postgres/webhooks.sql`` and their rows. Deliveries are created by the
``events_webhooks`` trigger (migration 003) in the statement that appends the event."""

from __future__ import annotations

from typing import Any

from psycopg import errors
from psycopg.types.json import Jsonb

from ttsqueue.backends.base import BackendError
from ttsqueue.backends.postgres_conn import Conn, Database
from ttsqueue.backends.sqlfiles import queries
from ttsqueue.webhooks.model import (
    ClaimedDelivery,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)

WB = {name: text.encode() for name, text in queries("postgres", "webhooks.sql").items()}
NO_BEFORE = 1 << 62
Row = dict[str, Any]


def endpoint(row: Row) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row["id"],
        user_id=row["user_id"],
        url=row["url"],
        events=tuple(row["events"]),
        secret=row["secret"],
        created_at=row["created_at"],
        progress_interval_s=row["progress_interval_s"],
        previous_secret=row["previous_secret"],
        previous_until=row["previous_until"],
        description=row["description"],
    )


def delivery(row: Row) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        seq=int(row["seq"]),
        endpoint_id=row["endpoint_id"],
        job_id=row["job_id"],
        user_id=row["user_id"],
        type=row["type"],
        data=dict(row["data"]),
        event_seq=row["event_seq"],
        event_at=row["event_at"],
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        run_at=row["run_at"],
        window_start=row["window_start"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        response_status=row["response_status"],
        error=row["error"],
        delivered_at=row["delivered_at"],
    )


class PostgresWebhooks:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def _all(self, name: str, params: dict[str, Any] | None = None) -> list[Row]:
        async def work(conn: Conn) -> list[Row]:
            cur = await conn.execute(WB[name], params)
            return list(await cur.fetchall()) if cur.description else []

        return await self._db.run(work)

    async def _count(self, name: str, params: dict[str, Any]) -> int:
        async def work(conn: Conn) -> int:
            cur = await conn.execute(WB[name], params)
            return cur.rowcount

        return await self._db.run(work)

    async def create(self, ep: WebhookEndpoint) -> None:
        params = {
            "id": ep.id,
            "user_id": ep.user_id,
            "url": ep.url,
            "events": Jsonb(list(ep.events)),
            "secret": ep.secret,
            "previous_secret": ep.previous_secret,
            "previous_until": ep.previous_until,
            "progress_interval_s": ep.progress_interval_s,
            "description": ep.description,
            "created_at": ep.created_at,
        }
        try:
            await self._count("insert_webhook", params)
        except errors.UniqueViolation as exc:
            raise BackendError("a webhook endpoint with this id already exists") from exc

    async def list_all(self, user_id: str | None) -> list[WebhookEndpoint]:
        if user_id is None:
            return [endpoint(r) for r in await self._all("webhooks_all")]
        return [endpoint(r) for r in await self._all("webhooks_of_user", {"user_id": user_id})]

    async def get(self, endpoint_id: str, user_id: str | None) -> WebhookEndpoint | None:
        found = await self._all("webhook_by_id", {"id": endpoint_id, "user_id": user_id})
        return endpoint(found[0]) if found else None

    async def delete(self, endpoint_id: str, user_id: str | None) -> bool:
        return await self._count("delete_webhook", {"id": endpoint_id, "user_id": user_id}) > 0

    async def rotate(
        self, endpoint_id: str, secret: str, previous_until: float, user_id: str | None
    ) -> WebhookEndpoint | None:
        found = await self._all(
            "rotate_webhook_secret",
            {
                "id": endpoint_id,
                "secret": secret,
                "previous_until": previous_until,
                "user_id": user_id,
            },
        )
        return endpoint(found[0]) if found else None

    async def claim(self, limit: int, lease_s: float) -> list[ClaimedDelivery]:
        found = await self._all("claim_deliveries", {"limit": limit, "lease_s": lease_s})
        claimed = []
        for row in sorted(found, key=lambda r: int(r["seq"])):
            secrets = [row["secret"]]
            until = row["previous_until"]
            if row["previous_secret"] and until is not None and row["now"] < until:
                secrets.append(row["previous_secret"])
            claimed.append(
                ClaimedDelivery(delivery(row), int(row["token"]), row["url"], tuple(secrets))
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
        params = {
            "id": delivery_id,
            "token": token,
            "status": str(status),
            "run_at": None if delivered else retry_at,
            "response_status": response_status,
            "error": error,
            "delivered": delivered,
        }
        return await self._count("finish_delivery", params) > 0

    async def deliveries(
        self, endpoint_id: str, limit: int, before: int | None
    ) -> list[WebhookDelivery]:
        params = {
            "endpoint_id": endpoint_id,
            "before": NO_BEFORE if before is None else before,
            "limit": max(0, limit),
        }
        return [delivery(r) for r in await self._all("deliveries_of_endpoint", params)]

    async def prune(self, older_than: float, limit: int) -> int:
        params = {"older_than": older_than, "limit": max(0, limit)}
        return await self._count("prune_deliveries", params)

    async def redeliver(self, endpoint_id: str, delivery_id: str) -> WebhookDelivery | None:
        keys = {"id": delivery_id, "endpoint_id": endpoint_id}

        async def work(conn: Conn) -> list[Row]:
            async with conn.transaction():
                await conn.execute(WB["redeliver"], keys)
                cur = await conn.execute(WB["delivery_by_id"], keys)
                return list(await cur.fetchall())

        found = await self._db.run(work)
        return delivery(found[0]) if found else None
