"""API keys: random secrets handed out once, stored only as a sha256 hash.

A token reads ``ttsq_<key id>_<secret>``. The whole token is hashed for lookup; the key
id inside it lets an operator revoke a key from the token alone (:func:`key_id_of`).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from pathlib import Path

from ttsqueue.backends.base import Backend
from ttsqueue.models import ApiKey, User, new_id, valid_user_id
from ttsqueue.storage import FILE_MODE, make_private_dir

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


LOCAL_ADMIN_FILE = "local-admin-token"


async def local_admin_token(backend: Backend, user: User, data_dir: Path, label: str) -> str:
    """The one admin key ``ttsqueue up`` hands its operator, kept (0600) in the data
    directory and reused at every start while the store still holds it. When it is
    gone (a new store, a revoked key), a new one replaces it and the old id is revoked,
    so restarts never pile up admin keys."""
    path = data_dir / LOCAL_ADMIN_FILE
    try:
        saved = path.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        saved = ""
    if saved:
        key = await backend.get_api_key(hash_token(saved))
        if key is not None and key.admin and key.user_id == user.id:
            return saved
        old_id = key_id_of(saved)
        if key is None and old_id is not None:  # its token here no longer matches it
            await backend.revoke_api_key(old_id)
    token = await issue_api_key(backend, user, label=label)
    make_private_dir(data_dir)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(token + "\n")
    os.replace(tmp, path)
    return token
