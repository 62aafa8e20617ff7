"""Webhook endpoints and deliveries on SQLite; each function runs on the connection's
thread as one transaction. Deliveries are created by the ``events_webhooks`` trigger
(migration 002), in the transaction that appends the event."""

from __future__ import annotations

import json
import sqlite3
import time

from ttsqueue.backends.base import BackendError
from ttsqueue.backends.sqlfiles import queries
from ttsqueue.backends.sqlite_db import transaction
from ttsqueue.webhooks.model import (
    ClaimedDelivery,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)

W = queries("sqlite", "webhooks.sql")
NO_BEFORE = 1 << 62


def endpoint_from_row(row: sqlite3.Row) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row["id"],
        user_id=row["user_id"],
        url=row["url"],
        events=tuple(json.loads(row["events"])),
        secret=row["secret"],
        created_at=row["created_at"],
        progress_interval_s=row["progress_interval_s"],
        previous_secret=row["previous_secret"],
        previous_until=row["previous_until"],
        description=row["description"],
    )


def delivery_from_row(row: sqlite3.Row) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        seq=row["seq"],
        endpoint_id=row["endpoint_id"],
        job_id=row["job_id"],
        user_id=row["user_id"],
        type=row["type"],
        data=json.loads(row["data"]),
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


def create(conn: sqlite3.Connection, ep: WebhookEndpoint) -> None:
    try:
        with transaction(conn):
            conn.execute(
                W["insert_webhook"],
                {
                    "id": ep.id,
                    "user_id": ep.user_id,
                    "url": ep.url,
                    "events": json.dumps(list(ep.events)),
                    "secret": ep.secret,
                    "previous_secret": ep.previous_secret,
                    "previous_until": ep.previous_until,
                    "progress_interval_s": ep.progress_interval_s,
                    "description": ep.description,
                    "created_at": ep.created_at,
                },
            )
    except sqlite3.IntegrityError:
        raise BackendError("a webhook endpoint with this id already exists") from None


def list_all(conn: sqlite3.Connection, user_id: str | None) -> list[WebhookEndpoint]:
    if user_id is None:
        rows = conn.execute(W["webhooks_all"]).fetchall()
    else:
        rows = conn.execute(W["webhooks_of_user"], {"user_id": user_id}).fetchall()
    return [endpoint_from_row(r) for r in rows]


def _owned(conn: sqlite3.Connection, endpoint_id: str, user_id: str | None) -> bool:
    row = conn.execute(W["webhook_by_id"], {"id": endpoint_id}).fetchone()
    return row is not None and (user_id is None or row["user_id"] == user_id)


def get(conn: sqlite3.Connection, endpoint_id: str, user_id: str | None) -> WebhookEndpoint | None:
    row = conn.execute(W["webhook_by_id"], {"id": endpoint_id}).fetchone()
    if row is None or (user_id is not None and row["user_id"] != user_id):
        return None
    return endpoint_from_row(row)


def delete(conn: sqlite3.Connection, endpoint_id: str, user_id: str | None) -> bool:
    with transaction(conn):
        if not _owned(conn, endpoint_id, user_id):
            return False
        conn.execute(W["delete_webhook"], {"id": endpoint_id})
        return True


def rotate(
    conn: sqlite3.Connection,
    endpoint_id: str,
    secret: str,
    previous_until: float,
    user_id: str | None,
) -> WebhookEndpoint | None:
    with transaction(conn):
        if not _owned(conn, endpoint_id, user_id):
            return None
        row = conn.execute(
            W["rotate_webhook_secret"],
            {"id": endpoint_id, "secret": secret, "previous_until": previous_until},
        ).fetchone()
        return endpoint_from_row(row)


def claim(conn: sqlite3.Connection, limit: int, lease_s: float) -> list[ClaimedDelivery]:
    now = time.time()
    claimed: list[ClaimedDelivery] = []
    with transaction(conn):
        seqs = [
            r["seq"] for r in conn.execute(W["claimable_deliveries"], {"now": now, "limit": limit})
        ]
        endpoints: dict[str, WebhookEndpoint] = {}
        for seq in seqs:
            row = conn.execute(
                W["lease_delivery"], {"seq": seq, "now": now, "lease_s": lease_s}
            ).fetchone()
            delivery = delivery_from_row(row)
            ep = endpoints.get(delivery.endpoint_id)
            if ep is None:
                ep = get(conn, delivery.endpoint_id, None)
                assert ep is not None  # deleting an endpoint deletes its deliveries
                endpoints[ep.id] = ep
            claimed.append(
                ClaimedDelivery(delivery, row["token"], ep.url, tuple(ep.signing_secrets(now)))
            )
    return claimed


def finish(
    conn: sqlite3.Connection,
    delivery_id: str,
    token: int,
    delivered: bool,
    response_status: int | None,
    error: str | None,
    retry_at: float | None,
) -> bool:
    now = time.time()
    if delivered:
        status = DeliveryStatus.DELIVERED
    elif retry_at is not None:
        status = DeliveryStatus.PENDING
    else:
        status = DeliveryStatus.FAILED
    with transaction(conn):
        cur = conn.execute(
            W["finish_delivery"],
            {
                "id": delivery_id,
                "token": token,
                "status": str(status),
                "run_at": None if delivered else retry_at,
                "response_status": response_status,
                "error": error,
                "delivered_at": now if delivered else None,
                "now": now,
            },
        )
        return cur.rowcount > 0


def deliveries(
    conn: sqlite3.Connection, endpoint_id: str, limit: int, before: int | None
) -> list[WebhookDelivery]:
    rows = conn.execute(
        W["deliveries_of_endpoint"],
        {
            "endpoint_id": endpoint_id,
            "before": NO_BEFORE if before is None else before,
            "limit": max(0, limit),
        },
    ).fetchall()
    return [delivery_from_row(r) for r in rows]


def prune(conn: sqlite3.Connection, older_than: float, limit: int) -> int:
    with transaction(conn):
        params = {"older_than": older_than, "limit": max(0, limit)}
        return conn.execute(W["prune_deliveries"], params).rowcount


def redeliver(
    conn: sqlite3.Connection, endpoint_id: str, delivery_id: str
) -> WebhookDelivery | None:
    keys = {"id": delivery_id, "endpoint_id": endpoint_id}
    with transaction(conn):
        conn.execute(W["redeliver"], {**keys, "now": time.time()})
        row = conn.execute(W["delivery_by_id"], keys).fetchone()
        return None if row is None else delivery_from_row(row)
