"""Pause and resume from the API: admins only, jobs keep queueing, a paused queue claims nothing."""

from __future__ import annotations

import time

import httpx

from tests.api.conftest import ADMIN, ALICE, submit
from ttsqueue.backends import Backend
from ttsqueue.backends.base import WorkerInfo


async def test_admin_pauses_and_resumes_claiming(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    r = await client.post("/v1/admin/pause", json={"engine": None}, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["engine"] is None and r.json()["since"]
    r = await client.post("/v1/admin/pause", json={"engine": "espeak"}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["engine"] == "espeak"
    r = await client.get("/v1/admin/pauses", headers=ADMIN)
    assert [p["engine"] for p in r.json()] == [None, "espeak"]

    job_id = await submit(client, ALICE)  # queueing goes on
    assert await backend.claim(worker_id="w", limit=10, lease_s=30) == []

    r = await client.post("/v1/admin/resume", json={}, headers=ADMIN)
    assert r.json() == {"engine": None, "resumed": True}
    r = await client.post("/v1/admin/resume", json={"engine": None}, headers=ADMIN)
    assert r.json() == {"engine": None, "resumed": False}
    claimed = await backend.claim(worker_id="w", limit=10, lease_s=30)
    assert {t.job_id for t in claimed} == {job_id}

    r = await client.post("/v1/admin/resume", json={"engine": "espeak"}, headers=ADMIN)
    assert r.json() == {"engine": "espeak", "resumed": True}
    assert (await client.get("/v1/admin/pauses", headers=ADMIN)).json() == []


async def test_pausing_is_for_admins(client: httpx.AsyncClient, backend: Backend) -> None:
    for path in ("/v1/admin/pause", "/v1/admin/resume"):
        r = await client.post(path, json={}, headers=ALICE)
        assert r.status_code == 403, r.text
    assert (await client.get("/v1/admin/pauses", headers=ALICE)).status_code == 403
    assert (await client.post("/v1/admin/pause", json={})).status_code == 401
    assert await backend.list_pauses() == []


async def test_a_bad_engine_name_is_a_422_naming_the_field(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    for bad in ("", "a b", "x" * 51, 7):
        r = await client.post("/v1/admin/pause", json={"engine": bad}, headers=ADMIN)
        assert r.status_code == 422, r.text
        assert "engine" in r.text
    assert await backend.list_pauses() == []


async def test_admin_asks_a_live_worker_to_drain(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    r = await client.post("/v1/admin/workers/ghost/drain", headers=ADMIN)
    assert r.status_code == 404 and "worker_id" in r.text
    now = time.time()
    await backend.register_worker(WorkerInfo("w-1", "h", 1, "0", 1, (), now))
    r = await client.post("/v1/admin/workers/w-1/drain", headers=ALICE)
    assert r.status_code == 403
    assert not await backend.take_drain("w-1")
    r = await client.post("/v1/admin/workers/w-1/drain", headers=ADMIN)
    assert r.status_code == 202, r.text
    assert r.json() == {"worker_id": "w-1", "requested": True}
    assert await backend.take_drain("w-1")
