"""Standard Webhooks signatures: verify what a ttsqueue server sends (and sign, for tests).

A webhook carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``
entries, any of which may match. Secrets are ``whsec_<base64>``; pass several while
rotating. A timestamp further than ``tolerance_s`` from now is refused (no replays).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_S = 300

Secret = str | bytes


class WebhookVerificationError(Exception):
    """The webhook is not signed with a known secret, or is too old or too new."""


def _key(secret: Secret) -> bytes:
    if isinstance(secret, bytes):
        if not secret:
            raise ValueError("the webhook secret is empty")
        return secret
    encoded = secret.removeprefix(SECRET_PREFIX)
    if not encoded:
        raise ValueError("the webhook secret is empty")
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError("the webhook secret is not base64 (expected whsec_<base64>)") from None


def _keys(secret: Secret | Sequence[Secret]) -> list[bytes]:
    secrets = [secret] if isinstance(secret, str | bytes) else list(secret)
    if not secrets:
        raise ValueError("at least one webhook secret is required")
    return [_key(s) for s in secrets]


def _mac(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def sign_webhook(secret: Secret, msg_id: str, timestamp: float, body: bytes | str) -> str:
    """The ``webhook-signature`` value for a message."""
    data = body.encode() if isinstance(body, str) else body
    mac = _mac(_key(secret), msg_id, str(int(timestamp)), data)
    return "v1," + base64.b64encode(mac).decode()


def verify_webhook(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: Secret | Sequence[Secret],
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> Any:
    """Check the signature and the timestamp of one webhook request and answer its parsed
    JSON body (None for an empty one). ``body`` is the raw body exactly as received."""
    keys = _keys(secret)
    msg_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not msg_id or not timestamp or not signatures:
        raise WebhookVerificationError(
            "missing webhook-id, webhook-timestamp or webhook-signature header"
        )
    if not timestamp.isdigit() or len(timestamp) > 15:
        raise WebhookVerificationError("invalid webhook-timestamp header")
    age = (time.time() if now is None else now) - int(timestamp)
    if age > tolerance_s:
        raise WebhookVerificationError("the message timestamp is too old")
    if age < -tolerance_s:
        raise WebhookVerificationError("the message timestamp is too new")
    data = body.encode() if isinstance(body, str) else body
    expected = [_mac(key, msg_id, timestamp, data) for key in keys]
    for entry in signatures.split(" "):
        version, _, encoded = entry.partition(",")
        if version != "v1" or not encoded:
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            continue
        if any(hmac.compare_digest(given, mac) for mac in expected):
            return json.loads(data) if data else None
    raise WebhookVerificationError("no matching signature")
