"""POST /v1/jobs/batch: many books in one request, all or nothing or one by one."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import ADMIN, ALICE, BOB, book
from ttsqueue.settings import Settings

URL = "/v1/jobs/batch"


def books(n: int, prefix: str = "k") -> list[dict[str, Any]]:
    return [book(1, title=f"Book {i}", idempotency_key=f"{prefix}{i}") for i in range(n)]


async def job_ids(client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    r = await client.get("/v1/jobs", params={"limit": 200}, headers=headers)
    assert r.status_code == 200
    return {j["id"] for j in r.json()["items"]}


async def test_an_atomic_batch_makes_every_job_and_a_repeat_finds_them(
    store_client: httpx.AsyncClient,
) -> None:
    r = await store_client.post(URL, json={"jobs": books(3)}, headers=ALICE)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["created"] == 3
    assert [i["index"] for i in body["items"]] == [0, 1, 2]
    assert [i["status"] for i in body["items"]] == [201] * 3
    ids = [i["job"]["id"] for i in body["items"]]
    assert [i["job"]["title"] for i in body["items"]] == ["Book 0", "Book 1", "Book 2"]
    assert [i["job"]["idempotency_key"] for i in body["items"]] == ["k0", "k1", "k2"]
    assert await job_ids(store_client, ALICE) == set(ids)
    assert await job_ids(store_client, BOB) == set()

    # the same batch again (a client retrying after a timeout): the same jobs, none new
    again = await store_client.post(URL, json={"jobs": books(3)}, headers=ALICE)
    assert again.status_code == 201, again.text
    assert again.json()["created"] == 0
    assert [i["status"] for i in again.json()["items"]] == [200] * 3
    assert [i["job"]["id"] for i in again.json()["items"]] == ids


async def test_the_cap_on_unfinished_jobs_counts_the_whole_batch(
    store_client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.max_active_jobs = 3
    assert (await store_client.post("/v1/jobs", json=book(1), headers=ALICE)).status_code == 201
    r = await store_client.post(URL, json={"jobs": books(3)}, headers=ALICE)
    assert r.status_code == 429, r.text
    assert "max_active_jobs" in r.json()["detail"][0]["msg"]
    assert len(await job_ids(store_client, ALICE)) == 1  # nothing of the batch went in

    ok = await store_client.post(URL, json={"jobs": books(2)}, headers=ALICE)
    assert ok.status_code == 201, ok.text
    assert len(await job_ids(store_client, ALICE)) == 3


async def test_one_bad_book_refuses_an_atomic_batch_naming_it(client: httpx.AsyncClient) -> None:
    jobs = books(3)
    jobs[1]["voice"] = {"engine": "espeak", "name": "no-such-voice"}
    r = await client.post(URL, json={"jobs": jobs}, headers=ALICE)
    assert r.status_code == 422, r.text
    [item] = r.json()["detail"]
    assert item["loc"] == ["body", "jobs", 1, "voice"]
    assert "no-such-voice" in item["msg"]
    assert await job_ids(client, ALICE) == set()

    jobs = books(2)
    jobs[1]["chapters"][0]["text"] = "x" * 6000  # past max_chapter_chars (5000)
    r = await client.post(URL, json={"jobs": jobs}, headers=ALICE)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "jobs", 1, "chapters", 0, "text"]
    assert await job_ids(client, ALICE) == set()


async def test_per_item_results_enqueue_the_good_books(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.max_active_jobs = 3
    jobs = books(5)
    jobs[1]["chapters"][0]["text"] = "x" * 6000
    jobs[3]["idempotency_key"] = "k0"  # repeats book 0's key
    r = await client.post(URL, json={"jobs": jobs, "atomic": False}, headers=ALICE)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["status"] for i in items] == [201, 422, 201, 422, 201]
    assert r.json()["created"] == 3
    assert items[1]["job"] is None
    assert items[1]["error"]["loc"] == ["body", "jobs", 1, "chapters", 0, "text"]
    assert items[3]["error"]["loc"] == ["body", "jobs", 3, "idempotency_key"]
    assert "jobs.0" in items[3]["error"]["msg"]
    made = {i["job"]["id"] for i in items if i["job"]}
    assert await job_ids(client, ALICE) == made

    # the cap (3 unfinished) now refuses more, book by book
    r = await client.post(URL, json={"jobs": books(2, "n"), "atomic": False}, headers=ALICE)
    assert [i["status"] for i in r.json()["items"]] == [429, 429]
    assert r.json()["items"][0]["error"]["loc"] == []
    assert "max_active_jobs" in r.json()["items"][0]["error"]["msg"]


async def test_the_door_refuses_malformed_oversized_and_anonymous_batches(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    r = await client.post(URL, json={"jobs": [{"title": "no chapters"}]}, headers=ALICE)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "jobs", 0, "chapters"]

    r = await client.post(URL, json={"jobs": []}, headers=ALICE)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "jobs"]

    r = await client.post(URL, json={"jobs": books(2), "atomic": "maybe"}, headers=ALICE)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "atomic"]

    settings.max_batch_jobs = 2
    r = await client.post(URL, json={"jobs": books(3)}, headers=ALICE)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "jobs"]
    assert "at most 2 books" in r.json()["detail"][0]["msg"]
    settings.max_batch_jobs = 100

    # within max_body_bytes (64 KiB here) or 413, before anything is parsed
    big = [book(1, title=f"B{i}") for i in range(4)]
    for b in big:
        b["chapters"][0]["text"] = "y" * 4900
    r = await client.post(URL, json={"jobs": big * 4}, headers=ALICE)
    assert r.status_code == 413, r.text

    r = await client.post(URL, json={"jobs": books(1)})
    assert r.status_code == 401
    assert await job_ids(client, ALICE) == set()


async def test_an_admin_batch_is_not_capped(client: httpx.AsyncClient, settings: Settings) -> None:
    settings.max_active_jobs = 1
    r = await client.post(URL, json={"jobs": books(3)}, headers=ADMIN)
    assert r.status_code == 201, r.text
    assert r.json()["created"] == 3
