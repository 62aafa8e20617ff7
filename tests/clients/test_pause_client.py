"""Pause and resume through both Python clients."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.clients.conftest import LiveServer, async_client
from ttsqueue.backends import Backend
from ttsqueue.client import ClientError


async def test_async_client_pauses_resumes_and_lists(app: FastAPI, backend: Backend) -> None:
    async with async_client(app, "ops", role="service_role") as ops:
        paused = await ops.pause()
        assert paused.engine is None
        assert (await ops.pause("piper")).engine == "piper"
        assert [p.engine for p in await ops.get_pauses()] == [None, "piper"]
        assert [p.engine for p in await backend.list_pauses()] == [None, "piper"]
        assert (await ops.resume()).resumed
        assert not (await ops.resume()).resumed
        assert (await ops.resume("piper")).resumed
        assert await ops.get_pauses() == []
    async with async_client(app, "alice") as alice:
        with pytest.raises(ClientError) as err:
            await alice.pause()
        assert err.value.status_code == 403
    assert await backend.list_pauses() == []


def test_sync_client_pauses_and_resumes(live_server: LiveServer) -> None:
    with live_server.client("ops", role="service_role") as ops:
        assert ops.pause("espeak").engine == "espeak"
        assert [p.engine for p in ops.get_pauses()] == ["espeak"]
        with pytest.raises(ClientError) as err:
            ops.pause("not an engine")
        assert err.value.status_code == 422
        assert ops.resume("espeak").resumed
        assert ops.get_pauses() == []
        with pytest.raises(ClientError) as err:
            ops.drain_worker("ghost")
        assert err.value.status_code == 404
