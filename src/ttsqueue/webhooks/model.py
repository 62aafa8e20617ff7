"""Webhook endpoints and deliveries: plain dataclasses shared by the stores and the API.

An *endpoint* is a URL a user registered with the events it wants and a signing secret
(during a rotation also the previous one, valid until ``previous_until``). A *delivery*
is one event on its way to one endpoint. Stores create deliveries in the same
transaction (script, or synchronous step) that appends the event, so an event is never
without its deliveries; workers claim them with a lease and a token exactly like tasks.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

SECRET_PREFIX = "whsec_"  # the Standard Webhooks secret prefix

# The events an endpoint may subscribe to, in the order the docs list them.
WEBHOOK_EVENTS = ("job.completed", "job.failed", "job.cancelled", "job.progress")


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its run_at (first try or a retry)
    RUNNING = "running"  # a worker holds it under a lease
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # retries gave up; a redeliver call queues it again


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    id: str
    user_id: str
    url: str
    events: tuple[str, ...]
    secret: str
    created_at: float
    progress_interval_s: float
    previous_secret: str | None = None
    previous_until: float | None = None  # the previous secret signs until then
    description: str = ""

    def signing_secrets(self, now: float) -> list[str]:
        """The secrets a message is signed with now: the current one, and the previous
        one while a rotation's overlap lasts."""
        found = [self.secret]
        if self.previous_secret and self.previous_until and now < self.previous_until:
            found.append(self.previous_secret)
        return found


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    id: str  # the message id (webhook-id): the same on every attempt
    seq: int  # store-wide creation order
    endpoint_id: str
    job_id: str
    user_id: str
    type: str
    data: dict[str, Any]  # the event's data
    event_seq: int  # the event's sequence number within its job
    event_at: float
    status: DeliveryStatus
    attempts: int
    run_at: float
    window_start: float  # retries stop this long after (created, or redelivered)
    created_at: float
    updated_at: float
    response_status: int | None = None
    error: str | None = None
    delivered_at: float | None = None


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery a worker holds: what to send, where, signed with what."""

    delivery: WebhookDelivery
    token: int
    url: str
    secrets: tuple[str, ...]


def new_secret() -> str:
    """A fresh ``whsec_`` secret: 32 random bytes, base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def new_endpoint_id() -> str:
    return "ep_" + secrets.token_hex(12)


def payload(delivery: WebhookDelivery) -> bytes:
    """The body sent for a delivery: the same bytes on every attempt."""
    data = {"job_id": delivery.job_id, "user_id": delivery.user_id, "seq": delivery.event_seq}
    data.update(delivery.data)
    timestamp = datetime.fromtimestamp(delivery.event_at, UTC).isoformat().replace("+00:00", "Z")
    body = {"type": delivery.type, "timestamp": timestamp, "data": data}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
