"""Standard Webhooks signatures for receivers: see :mod:`ttsqueue.webhooks.signature`.

The code lives beside the server's delivery loop, which signs with it, so a worker
imports neither the HTTP client nor the API schemas to sign a webhook.
"""

from ttsqueue.webhooks.signature import (
    DEFAULT_TOLERANCE_S,
    SECRET_PREFIX,
    Secret,
    WebhookVerificationError,
    sign_webhook,
    verify_webhook,
)

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "SECRET_PREFIX",
    "Secret",
    "WebhookVerificationError",
    "sign_webhook",
    "verify_webhook",
]
