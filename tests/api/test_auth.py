from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import ALICE, BOB, bearer, make_jwt, submit
from ttsqueue.api.keys import hash_token, issue_api_key, key_id_of
from ttsqueue.backends import Backend
from ttsqueue.models import User
from ttsqueue.settings import Settings


async def whoami(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.get("/v1/stats", headers=headers)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic YWxpY2U6cHc="},
        bearer("not-a-jwt"),
        bearer(make_jwt("alice", secret="another-secret-that-is-also-long-enough-0123")),
        bearer(make_jwt("alice", exp_in=-60)),
        bearer(make_jwt("")),
        bearer("ttsq_00000000-0000-7000-8000-000000000000_" + "x" * 43),
        bearer("x" * 10_000),
    ],
    ids=["none", "empty", "basic", "garbage", "bad-sig", "expired", "no-sub", "bad-key", "huge"],
)
async def test_bad_credentials_answer_401_with_www_authenticate(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await whoami(client, headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["detail"][0]["loc"] == ["header", "Authorization"]


async def test_expired_token_says_so(client: httpx.AsyncClient) -> None:
    r = await whoami(client, bearer(make_jwt("alice", exp_in=-60)))
    assert "expired" in r.json()["detail"][0]["msg"]


async def test_every_route_but_health_and_docs_needs_credentials(
    client: httpx.AsyncClient,
) -> None:
    job = "00000000-0000-7000-8000-000000000000"
    for method, url in [
        ("POST", "/v1/jobs"),
        ("GET", "/v1/jobs"),
        ("GET", f"/v1/jobs/{job}"),
        ("DELETE", f"/v1/jobs/{job}"),
        ("PATCH", f"/v1/jobs/{job}"),
        ("POST", f"/v1/jobs/{job}/retry"),
        ("GET", f"/v1/jobs/{job}/events"),
        ("GET", f"/v1/jobs/{job}/audio"),
        ("GET", f"/v1/jobs/{job}/chapters/1/audio"),
        ("GET", "/v1/voices"),
        ("GET", "/v1/stats"),
        ("GET", "/api/tts/queue"),
        ("POST", "/api/tts/queue"),
        ("DELETE", f"/api/tts/queue?jobId={job}"),
    ]:
        r = await client.request(method, url)
        assert r.status_code == 401, (method, url, r.status_code)
    for url in ("/v1/health", "/docs", "/openapi.json"):
        assert (await client.get(url)).status_code == 200


async def test_jwt_claims_make_premium_and_admin(client: httpx.AsyncClient) -> None:
    free = await client.post("/v1/jobs", json=_one(), headers=bearer(make_jwt("u1")))
    premium = await client.post(
        "/v1/jobs", json=_one(), headers=bearer(make_jwt("u2", premium=True))
    )
    supa = await client.post(
        "/v1/jobs",
        json=_one(),
        headers=bearer(make_jwt("u3", role="authenticated", app_metadata={"premium": True})),
    )
    assert free.json()["priority"] == 5
    assert premium.json()["priority"] > 9  # premium sits above every free job
    assert supa.json()["priority"] == premium.json()["priority"]
    for claims in (
        {"role": "admin"},
        {"role": "service_role"},
        {"app_metadata": {"role": "admin"}},
    ):
        r = await whoami(client, bearer(make_jwt("boss", **claims)))
        assert r.json()["scope"] == "all", claims
    r = await whoami(client, bearer(make_jwt("nobody", app_metadata="admin")))
    assert r.json()["scope"] == "user"


def _one() -> dict[str, object]:
    return {"chapters": [{"title": "c", "text": "words"}]}


async def test_audience_is_checked_when_configured(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.jwt_audience = "authenticated"
    assert (await whoami(client, bearer(make_jwt("a", aud="authenticated")))).status_code == 200
    assert (await whoami(client, bearer(make_jwt("a", aud="other")))).status_code == 401
    assert (await whoami(client, bearer(make_jwt("a")))).status_code == 401


async def test_token_with_an_audience_passes_when_none_is_configured(
    client: httpx.AsyncClient,
) -> None:
    assert (await whoami(client, bearer(make_jwt("a", aud="authenticated")))).status_code == 200


async def test_jwt_is_refused_when_no_secret_is_configured(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.jwt_secret = None
    r = await whoami(client, ALICE)
    assert r.status_code == 401
    assert "not configured" in r.json()["detail"][0]["msg"]


async def test_api_key_works_until_revoked(client: httpx.AsyncClient, backend: Backend) -> None:
    token = await issue_api_key(backend, User("carol", premium=True), label="ci")
    key_id = key_id_of(token)
    assert key_id is not None
    stored = await backend.get_api_key(hash_token(token))
    assert stored is not None
    assert (stored.id, stored.user_id, stored.premium, stored.label) == (
        key_id,
        "carol",
        True,
        "ci",
    )
    assert token not in repr(stored)  # only the hash is kept
    r = await client.post("/v1/jobs", json=_one(), headers=bearer(token))
    assert r.status_code == 201
    assert r.json()["user_id"] == "carol"
    assert r.json()["priority"] > 9
    assert await backend.revoke_api_key(key_id)
    r = await whoami(client, bearer(token))
    assert r.status_code == 401


async def test_admin_api_key_sees_everything(client: httpx.AsyncClient, backend: Backend) -> None:
    token = await issue_api_key(backend, User("ops", admin=True))
    assert (await whoami(client, bearer(token))).json()["scope"] == "all"


async def test_another_users_job_is_404_for_every_verb(client: httpx.AsyncClient) -> None:
    job_id = await submit(client, ALICE, n=1)
    for method, url in [
        ("GET", f"/v1/jobs/{job_id}"),
        ("DELETE", f"/v1/jobs/{job_id}"),
        ("POST", f"/v1/jobs/{job_id}/retry"),
        ("GET", f"/v1/jobs/{job_id}/events"),
        ("GET", f"/v1/jobs/{job_id}/audio"),
        ("GET", f"/v1/jobs/{job_id}/chapters/1/audio"),
        ("GET", f"/api/tts/queue?jobId={job_id}"),
        ("DELETE", f"/api/tts/queue?jobId={job_id}"),
    ]:
        r = await client.request(method, url, headers=BOB)
        assert r.status_code == 404, (method, url, r.status_code)
        assert job_id in r.text
    r = await client.get("/v1/jobs", headers=BOB)
    assert r.json()["items"] == []
    r = await client.get(f"/v1/jobs/{job_id}", headers=ALICE)
    assert r.json()["status"] == "queued"  # bob's DELETE changed nothing
