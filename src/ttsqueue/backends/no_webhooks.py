"""The webhook methods of a store that keeps no webhooks (``Capabilities.webhooks``
false): reading answers nothing, changing raises :class:`WebhooksUnsupported`."""

from __future__ import annotations

from ttsqueue.backends.base import WebhooksUnsupported
from ttsqueue.webhooks.model import ClaimedDelivery, WebhookDelivery, WebhookEndpoint


def _unsupported() -> WebhooksUnsupported:
    return WebhooksUnsupported("this store keeps no webhooks (use sqlite or postgres)")


class WithoutWebhooks:
    async def create_webhook(self, endpoint: WebhookEndpoint) -> None:
        raise _unsupported()

    async def list_webhooks(self, *, user_id: str | None = None) -> list[WebhookEndpoint]:
        return []

    async def get_webhook(
        self, endpoint_id: str, *, user_id: str | None = None
    ) -> WebhookEndpoint | None:
        return None

    async def delete_webhook(self, endpoint_id: str, *, user_id: str | None = None) -> bool:
        return False

    async def rotate_webhook_secret(
        self, endpoint_id: str, *, secret: str, previous_until: float, user_id: str | None = None
    ) -> WebhookEndpoint | None:
        return None

    async def claim_deliveries(
        self, *, worker_id: str, limit: int, lease_s: float
    ) -> list[ClaimedDelivery]:
        return []

    async def finish_delivery(
        self,
        delivery_id: str,
        token: int,
        *,
        delivered: bool,
        response_status: int | None,
        error: str | None,
        retry_at: float | None,
    ) -> bool:
        return False

    async def list_deliveries(
        self, endpoint_id: str, *, limit: int, before: int | None = None
    ) -> list[WebhookDelivery]:
        return []

    async def redeliver(self, endpoint_id: str, delivery_id: str) -> WebhookDelivery | None:
        return None
