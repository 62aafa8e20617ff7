"""The local admin key of ``ttsqueue up``: minted once, reused, replaced when gone."""

from __future__ import annotations

import stat
from pathlib import Path

from ttsqueue.api.keys import LOCAL_ADMIN_FILE, hash_token, issue_api_key, local_admin_token
from ttsqueue.backends import open_backend
from ttsqueue.models import User

ADMIN = User("demo", premium=True, admin=True)


async def test_one_key_across_starts_and_a_new_one_when_it_was_revoked(tmp_path: Path) -> None:
    async with open_backend("memory://") as backend:
        tokens = {await local_admin_token(backend, ADMIN, tmp_path, "up") for _ in range(10)}
        assert len(tokens) == 1 and len(await backend.list_api_keys()) == 1
        (token,) = tokens
        saved = tmp_path / LOCAL_ADMIN_FILE
        assert saved.read_text().strip() == token
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600

        (key,) = await backend.list_api_keys()
        await backend.revoke_api_key(key.id)
        fresh = await local_admin_token(backend, ADMIN, tmp_path, "up")
        assert fresh != token and [k.key_hash for k in await backend.list_api_keys()] == [
            hash_token(fresh)
        ]


async def test_a_key_that_is_not_the_local_admin_is_neither_reused_nor_revoked(
    tmp_path: Path,
) -> None:
    async with open_backend("memory://") as backend:
        someone = await issue_api_key(backend, User("alice"), label="laptop")
        (tmp_path / LOCAL_ADMIN_FILE).write_text(someone + "\n")
        token = await local_admin_token(backend, ADMIN, tmp_path, "up")
        assert token != someone
        assert {k.user_id for k in await backend.list_api_keys()} == {"alice", "demo"}
