"""Voices, stats, health, the OpenAPI document and the legacy /api/tts/queue shape."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import ADMIN, ALICE, BOB, run_job, submit
from ttsqueue.backends import Backend
from ttsqueue.backends.base import StoreUnavailable
from ttsqueue.storage import Storage


async def test_voices(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/voices", headers=ALICE)
    assert r.status_code == 200
    voices = r.json()
    assert {"engine": "espeak", "name": "en-us"}.items() <= next(
        v for v in voices if v["name"] == "en-us"
    ).items()


async def test_stats_are_scoped_to_the_caller(client: httpx.AsyncClient) -> None:
    await submit(client, ALICE, n=2)
    await submit(client, BOB, n=1)
    mine = (await client.get("/v1/stats", headers=ALICE)).json()
    assert mine["scope"] == "user"
    assert mine["jobs"]["queued"] == 1
    assert mine["tasks"]["pending"] == 2
    assert mine["workers"] is None
    everyone = (await client.get("/v1/stats", headers=ADMIN)).json()
    assert everyone["scope"] == "all"
    assert everyone["jobs"]["queued"] == 2
    assert everyone["users"] == 2
    assert everyone["workers"] == []


async def test_health(client: httpx.AsyncClient, backend: Backend, monkeypatch: Any) -> None:
    r = await client.get("/v1/health")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    r = await client.get("/v1/health", headers=ADMIN)
    assert (r.status_code, r.json()["status"], r.json()["store"]) == (200, "ok", "ok")

    async def down() -> None:
        raise StoreUnavailable("connection refused to db.internal:5432")

    monkeypatch.setattr(backend, "ping", down)
    for headers in ({}, ALICE, {"Authorization": "Bearer forged"}):
        r = await client.get("/v1/health", headers=headers)
        # up or down, nothing about the store, its host or its port
        assert (r.status_code, r.json()) == (503, {"status": "unavailable"}), headers
    r = await client.get("/v1/health", headers=ADMIN)
    assert r.status_code == 503
    assert r.json()["status"] == "unavailable"
    assert "connection refused" in r.json()["store"]


async def test_store_outage_during_a_request_is_503(
    client: httpx.AsyncClient, backend: Backend, monkeypatch: Any
) -> None:
    async def down(*args: Any, **kwargs: Any) -> None:
        raise StoreUnavailable("gone")

    monkeypatch.setattr(backend, "list_jobs", down)
    r = await client.get("/v1/jobs", headers=ALICE)
    assert r.status_code == 503
    assert "retry-after" in r.headers


async def test_openapi_declares_every_route_and_errors(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    post = spec["paths"]["/v1/jobs"]["post"]
    assert set(post["requestBody"]["content"]) == {
        "application/json",
        "text/plain",
        "text/markdown",
        "text/html",
        "multipart/form-data",
    }
    assert {"200", "201", "401", "413", "422", "429"} <= set(post["responses"])
    assert "JobCreate" in spec["components"]["schemas"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    ours = [p for p in spec["paths"] if p.startswith(("/v1/jobs", "/v1/voices", "/v1/stats"))]
    assert len(ours) == 12  # with the two subtitle routes and the voice preview
    for path in [*ours, "/api/tts/queue"]:
        for method, op in spec["paths"][path].items():
            assert "200" in op["responses"] or "201" in op["responses"], (path, method)
            assert "401" in op["responses"], (path, method)
            assert op["security"] == [{"HTTPBearer": []}], (path, method)
    assert "401" not in spec["paths"]["/v1/health"]["get"]["responses"]


async def test_legacy_submit_status_list_cancel(
    client: httpx.AsyncClient, backend: Backend, storage: Storage
) -> None:
    body = {
        "workId": 42,
        "chapters": [
            {"id": "c1", "title": "One", "text": "First chapter."},
            {"id": 2, "title": "Two", "text": "Second chapter."},
        ],
        "voiceSettings": {"voice": "en-gb", "speed": 1.1},
        "jobType": "audiobook",
        "title": "Legacy",
    }
    r = await client.post("/api/tts/queue", json=body, headers=ALICE)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["success"] is True
    assert out["status"] == "queued"
    assert out["totalChapters"] == 2
    job_id = out["jobId"]
    job = (await client.get(f"/v1/jobs/{job_id}", headers=ALICE)).json()
    assert (job["work_id"], job["voice"]["name"], job["voice"]["speed"]) == ("42", "en-gb", 1.1)

    r = await client.get("/api/tts/queue", params={"jobId": job_id}, headers=ALICE)
    status = r.json()
    assert status["success"] is True
    assert status["progressPercent"] == 0
    assert status["audioUrl"] is None
    assert status["currentChapter"] is None

    await run_job(backend, storage, job_id)
    status = (await client.get("/api/tts/queue", params={"jobId": job_id}, headers=ALICE)).json()
    assert status["status"] == "completed"
    assert status["progressPercent"] == 100
    assert status["audioUrl"] == f"/v1/jobs/{job_id}/audio"
    assert status["totalChapters"] == 2

    second = (await client.post("/api/tts/queue", json=body, headers=ALICE)).json()["jobId"]
    listing = (await client.get("/api/tts/queue", headers=ALICE)).json()
    assert [j["jobId"] for j in listing["jobs"]] == [second, job_id]

    r = await client.delete("/api/tts/queue", params={"jobId": second}, headers=ALICE)
    assert r.json() == {"success": True, "jobId": second, "status": "cancelled"}
    r = await client.delete("/api/tts/queue", params={"jobId": job_id}, headers=ALICE)
    assert r.status_code == 409
    assert r.json()["success"] is False
    assert r.json()["error"] == r.json()["detail"][0]["msg"]
    assert r.json()["detail"][0]["loc"] == ["query", "jobId"]


async def test_legacy_engine_voice_settings_and_errors(client: httpx.AsyncClient) -> None:
    body = {
        "chapters": [{"text": "hello"}],
        "voiceSettings": {"engine": "espeak", "name": "en-us", "speed": 0.9},
        "outputFormat": "opus",
    }
    r = await client.post("/api/tts/queue", json=body, headers=ALICE)
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/tts/queue",
        json={"chapters": [{"text": "x"}], "voiceSettings": {"voice": "zz-none"}},
        headers=ALICE,
    )
    assert r.status_code == 422
    assert r.json()["success"] is False
    assert r.json()["detail"][0]["loc"] == ["body", "voiceSettings"]
    r = await client.post("/api/tts/queue", json={"chapters": []}, headers=ALICE)
    assert r.status_code == 422
    r = await client.post("/api/tts/queue", content=b"{oops", headers=ALICE)
    assert r.status_code == 422
    assert r.json()["success"] is False
    r = await client.get("/api/tts/queue", params={"jobId": "nope"}, headers=ALICE)
    assert r.status_code == 404
    assert r.json()["detail"][0]["loc"] == ["query", "jobId"]
