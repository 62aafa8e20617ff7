"""The webhook routes: endpoints per user, admins for all, rotation, the delivery log."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import ADMIN, ALICE, BOB, run_job, submit
from ttsqueue import tts
from ttsqueue.api.app import create_app
from ttsqueue.backends import Backend
from ttsqueue.queue import Queue
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage

PUBLIC = "https://93.184.216.34/hooks/tts"  # an address literal: no lookup, never called


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], **body: object
) -> dict[str, object]:
    r = await client.post(
        "/v1/webhooks", json={"url": PUBLIC, "events": ["job.completed"], **body}, headers=headers
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_register_answers_the_id_and_secret_once(client: httpx.AsyncClient) -> None:
    made = await create(client, ALICE, events=["job.completed", "job.failed"], description="app")
    assert str(made["id"]).startswith("ep_")
    assert str(made["secret"]).startswith("whsec_")
    assert (made["user_id"], made["url"], made["events"]) == (
        "alice",
        PUBLIC,
        ["job.completed", "job.failed"],
    )
    assert made["progress_interval_s"] == 10.0
    r = await client.get(f"/v1/webhooks/{made['id']}", headers=ALICE)
    assert r.status_code == 200
    assert "secret" not in r.json()
    listed = (await client.get("/v1/webhooks", headers=ALICE)).json()
    assert [e["id"] for e in listed] == [made["id"]]


async def test_users_see_only_their_own_endpoints_and_admins_all(
    client: httpx.AsyncClient,
) -> None:
    mine = await create(client, ALICE)
    theirs = await create(client, BOB)
    assert (await client.get(f"/v1/webhooks/{mine['id']}", headers=BOB)).status_code == 404
    assert (await client.delete(f"/v1/webhooks/{mine['id']}", headers=BOB)).status_code == 404
    r = await client.post(f"/v1/webhooks/{mine['id']}/rotate", headers=BOB)
    assert r.status_code == 404
    r = await client.get(f"/v1/webhooks/{mine['id']}/deliveries", headers=BOB)
    assert r.status_code == 404
    assert [e["id"] for e in (await client.get("/v1/webhooks", headers=BOB)).json()] == [
        theirs["id"]
    ]
    everyone = (await client.get("/v1/webhooks", headers=ADMIN)).json()
    assert sorted(e["id"] for e in everyone) == sorted([mine["id"], theirs["id"]])
    only_bob = (await client.get("/v1/webhooks?user_id=bob", headers=ADMIN)).json()
    assert [e["id"] for e in only_bob] == [theirs["id"]]
    for_carol = await create(client, ADMIN, user_id="carol")
    assert for_carol["user_id"] == "carol"
    r = await client.post(
        "/v1/webhooks",
        json={"url": PUBLIC, "events": ["job.failed"], "user_id": "carol"},
        headers=ALICE,
    )
    assert r.status_code == 403
    assert r.json()["detail"][0]["loc"] == ["body", "user_id"]
    assert (await client.delete(f"/v1/webhooks/{mine['id']}", headers=ADMIN)).status_code == 204
    assert (await client.get(f"/v1/webhooks/{mine['id']}", headers=ALICE)).status_code == 404


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"url": "http://127.0.0.1:8000/hook", "events": ["job.completed"]}, ["body", "url"]),
        ({"url": "http://169.254.169.254/", "events": ["job.completed"]}, ["body", "url"]),
        ({"url": "https://10.0.0.1/", "events": ["job.completed"]}, ["body", "url"]),
        ({"url": "file:///etc/passwd", "events": ["job.completed"]}, ["body", "url"]),
        ({"url": PUBLIC, "events": ["job.exploded"]}, ["body", "events", 0]),
        ({"url": PUBLIC, "events": []}, ["body", "events"]),
        ({"url": PUBLIC}, ["body", "events"]),
        ({"events": ["job.completed"]}, ["body", "url"]),
        ({"url": "https://x" * 1000, "events": ["job.completed"]}, ["body", "url"]),
        (
            {"url": PUBLIC, "events": ["job.completed"], "progress_interval_s": -1},
            ["body", "progress_interval_s"],
        ),
    ],
)
async def test_bad_registrations_get_a_4xx_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, object], loc: list[object]
) -> None:
    r = await client.post("/v1/webhooks", json=body, headers=ALICE)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc
    assert (await client.get("/v1/webhooks", headers=ALICE)).json() == []


async def test_private_targets_pass_only_when_allowed(backend: Backend, settings: Settings) -> None:
    allowed = settings.model_copy(update={"webhooks_allow_private": True})
    queue = Queue(backend, allowed, check_voice=tts.check_voice, check_text=tts.check_text)
    transport = httpx.ASGITransport(app=create_app(allowed, queue=queue))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        r = await c.post(
            "/v1/webhooks",
            json={"url": "http://127.0.0.1:9/hook", "events": ["job.completed"]},
            headers=ALICE,
        )
        assert r.status_code == 201, r.text


async def test_endpoints_per_user_are_capped(client: httpx.AsyncClient, settings: Settings) -> None:
    for _ in range(settings.webhooks_max_per_user):
        await create(client, ALICE)
    r = await client.post(
        "/v1/webhooks", json={"url": PUBLIC, "events": ["job.completed"]}, headers=ALICE
    )
    assert r.status_code == 409
    await create(client, BOB)


async def test_rotate_answers_a_new_secret_and_the_overlap(client: httpx.AsyncClient) -> None:
    made = await create(client, ALICE)
    r = await client.post(f"/v1/webhooks/{made['id']}/rotate", headers=ALICE)
    assert r.status_code == 200
    rotated = r.json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != made["secret"]
    shown = (await client.get(f"/v1/webhooks/{made['id']}", headers=ALICE)).json()
    assert shown["previous_secret_valid_until"] == rotated["previous_secret_valid_until"]


async def test_the_delivery_log_and_redeliver(
    client: httpx.AsyncClient, backend: Backend, storage: Storage
) -> None:
    made = await create(client, ALICE, events=["job.completed", "job.cancelled"])
    done = await submit(client, ALICE, n=1)
    await run_job(backend, storage, done)
    cancelled = await submit(client, ALICE, n=1)
    assert (await client.delete(f"/v1/jobs/{cancelled}", headers=ALICE)).status_code == 200
    await submit(client, BOB, n=1)

    r = await client.get(f"/v1/webhooks/{made['id']}/deliveries?limit=1", headers=ALICE)
    assert r.status_code == 200
    page = r.json()
    (newest,) = page["items"]
    assert (newest["job_id"], newest["type"], newest["status"], newest["attempts"]) == (
        cancelled,
        "job.cancelled",
        "pending",
        0,
    )
    assert newest["id"].startswith("msg_") and newest["next_attempt_at"]
    r = await client.get(
        f"/v1/webhooks/{made['id']}/deliveries?limit=1&cursor={page['next_cursor']}",
        headers=ALICE,
    )
    (older,) = r.json()["items"]
    assert (older["job_id"], older["type"]) == (done, "job.completed")
    assert r.json()["next_cursor"] is None

    url = f"/v1/webhooks/{made['id']}/deliveries/{older['id']}/redeliver"
    r = await client.post(url, headers=ALICE)
    assert r.status_code == 202
    assert (r.json()["status"], r.json()["attempts"]) == ("pending", 0)
    assert (await client.post(url, headers=BOB)).status_code == 404
    r = await client.post(f"/v1/webhooks/{made['id']}/deliveries/msg_nope/redeliver", headers=ALICE)
    assert r.status_code == 404
    assert r.json()["detail"][0]["loc"] == ["path", "delivery_id"]
    r = await client.get(f"/v1/webhooks/{made['id']}/deliveries?cursor=abc", headers=ALICE)
    assert r.status_code == 422


async def test_every_store_keeps_endpoints_and_their_deliveries(
    store_client: httpx.AsyncClient,
) -> None:
    r = await store_client.post(
        "/v1/webhooks", json={"url": PUBLIC, "events": ["job.cancelled"]}, headers=ALICE
    )
    assert r.status_code == 201
    job = await submit(store_client, ALICE, n=1)
    assert (await store_client.delete(f"/v1/jobs/{job}", headers=ALICE)).status_code == 200
    r = await store_client.get(f"/v1/webhooks/{r.json()['id']}/deliveries", headers=ALICE)
    assert [(d["job_id"], d["type"]) for d in r.json()["items"]] == [(job, "job.cancelled")]
