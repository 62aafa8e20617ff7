"""API keys: random secrets handed out once, stored only as a sha256 hash.

A token reads ``ttsq_<key id>_<secret>``. The whole token is hashed for lookup; the key
id inside it lets an operator revoke a key from the token alone (:func:`key_id_of`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time

from ttsqueue.backends.base import Backend
from ttsqueue.models import ApiKey, User, new_id, valid_user_id

PREFIX = "ttsq_"
_TOKEN = re.compile(r"^ttsq_([0-9a-f-]{36})_[A-Za-z0-9_-]{20,100}$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def looks_like_api_key(token: str) -> bool:
    return token.startswith(PREFIX)


def key_id_of(token: str) -> str | None:
    """The key id inside a token, or None when the token is not one of ours."""
    m = _TOKEN.match(token)
    return m.group(1) if m else None


async def issue_api_key(backend: Backend, user: User, label: str = "") -> str:
    """Create a key for ``user`` (its tier and admin flag travel with the key) and
    return the token; only its hash is stored, so it cannot be shown again."""
    if not valid_user_id(user.id):
        raise ValueError("a user id is 1-200 printable characters")
    key_id = new_id()
    token = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    await backend.put_api_key(
        ApiKey(
            id=key_id,
            key_hash=hash_token(token),
            user_id=user.id,
            premium=user.premium,
            admin=user.admin,
            label=label,
            created_at=time.time(),
        )
    )
    return token
