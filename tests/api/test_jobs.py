from __future__ import annotations

import io
import zipfile

import httpx

from tests.api.conftest import ADMIN, ALICE, BOB, book, run_job, submit
from ttsqueue.backends import Backend
from ttsqueue.storage import Storage


async def test_submit_json_answers_201_with_the_job(client: httpx.AsyncClient) -> None:
    body = book(
        3,
        work_id="w-1",
        voice={"engine": "espeak", "name": "en-us", "speed": 1.2, "pitch": 1.1},
        output_format="opus",
        priority=7,
    )
    r = await client.post("/v1/jobs", json=body, headers=ALICE)
    assert r.status_code == 201, r.text
    job = r.json()
    assert r.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["status"] == "queued"
    assert job["user_id"] == "alice"
    assert job["total_chapters"] == 3
    assert job["output_format"] == "opus"
    assert job["work_id"] == "w-1"
    assert job["priority"] == 7
    assert job["voice"]["speed"] == 1.2
    assert [c["index"] for c in job["chapters"]] == [1, 2, 3]
    assert job["chapters"][0]["title"] == "Part 1"
    assert job["chapters"][0]["status"] == "pending"
    assert job["chapters"][0]["audio_url"] is None
    assert job["audio_url"] is None
    assert job["created_at"].endswith("Z") or job["created_at"].endswith("+00:00")


async def test_default_format_comes_from_settings(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/jobs", json=book(1), headers=ALICE)
    assert r.json()["output_format"] == "mp3"


async def test_run_at_in_the_future_schedules_the_job(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/jobs", json=book(1, run_at="2999-01-01T00:00:00Z"), headers=ALICE)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "scheduled"
    assert r.json()["run_at"].startswith("2999-01-01T00:00:00")
    r = await client.post("/v1/jobs", json=book(1, run_at=32503680000), headers=ALICE)
    assert r.json()["status"] == "scheduled"
    assert r.json()["run_at"].startswith("3000-01-01")


async def test_idempotency_key_in_body_or_header_answers_the_existing_job(
    client: httpx.AsyncClient,
) -> None:
    first = await client.post("/v1/jobs", json=book(1, idempotency_key="k1"), headers=ALICE)
    again = await client.post("/v1/jobs", json=book(1, idempotency_key="k1"), headers=ALICE)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other_user = await client.post("/v1/jobs", json=book(1, idempotency_key="k1"), headers=BOB)
    assert other_user.status_code == 201
    h = {**ALICE, "Idempotency-Key": "hdr"}
    a = await client.post("/v1/jobs", json=book(1), headers=h)
    b = await client.post("/v1/jobs", json=book(1), headers=h)
    assert (a.status_code, b.status_code) == (201, 200)
    assert a.json()["id"] == b.json()["id"]
    assert b.json()["idempotency_key"] == "hdr"


async def test_plain_text_body_is_split_at_headings(client: httpx.AsyncClient) -> None:
    text = "Chapter 1\n\nIt was a dark night.\n\nChapter 2\n\nThe end came.\n"
    r = await client.post(
        "/v1/jobs",
        content=text.encode(),
        params={"title": "Night", "voice": "en-gb", "output_format": "wav", "priority": 2},
        headers={**ALICE, "Content-Type": "text/plain; charset=utf-8"},
    )
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["title"] == "Night"
    assert job["total_chapters"] == 2
    assert job["voice"]["name"] == "en-gb"
    assert job["output_format"] == "wav"
    assert job["priority"] == 2


async def test_markdown_body_takes_its_title_from_the_heading(client: httpx.AsyncClient) -> None:
    text = "# My Book\n\n## One\n\nFirst *words*.\n\n## Two\n\nSecond words.\n"
    r = await client.post(
        "/v1/jobs", content=text, headers={**ALICE, "Content-Type": "text/markdown"}
    )
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["title"] == "My Book"
    assert [c["title"] for c in job["chapters"]] == ["One", "Two"]


async def test_file_upload_of_markdown_and_epub(client: httpx.AsyncClient) -> None:
    md = b"# Upload\n\n## A\n\nalpha text\n\n## B\n\nbeta text\n"
    r = await client.post(
        "/v1/jobs", files={"file": ("book.md", md, "text/markdown")}, headers=ALICE
    )
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "Upload"
    assert r.json()["total_chapters"] == 2

    r = await client.post(
        "/v1/jobs", files={"file": ("book.pdf", b"%PDF", "application/pdf")}, headers=ALICE
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "file"]

    r = await client.post(
        "/v1/jobs", files={"other": ("x.txt", b"hi", "text/plain")}, headers=ALICE
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "file"]

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
        z.writestr("garbage.txt", "not an epub")
    r = await client.post(
        "/v1/jobs",
        files={"file": ("b.epub", buf.getvalue(), "application/epub+zip")},
        headers=ALICE,
    )
    assert r.status_code == 422, r.text


async def test_get_and_list_jobs(client: httpx.AsyncClient) -> None:
    ids = [await submit(client, ALICE, n=1) for _ in range(5)]
    await submit(client, BOB, n=1)
    r = await client.get(f"/v1/jobs/{ids[0]}", headers=ALICE)
    assert r.status_code == 200
    assert r.json()["id"] == ids[0]
    assert r.json()["progress_percent"] == 0

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/jobs", params=params, headers=ALICE)).json()
        assert len(page["items"]) <= 2
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # newest first (ids are time-ordered), nothing repeated or lost
    assert seen == sorted(ids, reverse=True)

    await client.delete(f"/v1/jobs/{ids[1]}", headers=ALICE)
    r = await client.get("/v1/jobs", params={"status": "cancelled"}, headers=ALICE)
    assert [j["id"] for j in r.json()["items"]] == [ids[1]]


async def test_admins_list_everyone_or_one_user(client: httpx.AsyncClient) -> None:
    a = await submit(client, ALICE, n=1)
    b = await submit(client, BOB, n=1)
    r = await client.get("/v1/jobs", params={"all": "true"}, headers=ADMIN)
    assert {j["id"] for j in r.json()["items"]} == {a, b}
    r = await client.get("/v1/jobs", params={"user": "bob"}, headers=ADMIN)
    assert [j["id"] for j in r.json()["items"]] == [b]
    r = await client.get("/v1/jobs", params={"all": "true"}, headers=ALICE)
    assert r.status_code == 403
    r = await client.get("/v1/jobs", params={"user": "bob"}, headers=ALICE)
    assert r.status_code == 403
    r = await client.get("/v1/jobs", headers=ADMIN)  # an admin's own jobs by default
    assert r.json()["items"] == []


async def test_cancel_then_409_and_retry(
    client: httpx.AsyncClient, backend: Backend, storage: Storage
) -> None:
    job_id = await submit(client, ALICE, n=2)
    r = await client.post(f"/v1/jobs/{job_id}/retry", headers=ALICE)
    assert r.status_code == 409
    r = await client.delete(f"/v1/jobs/{job_id}", headers=ALICE)
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    r = await client.delete(f"/v1/jobs/{job_id}", headers=ALICE)
    assert r.status_code == 409
    assert r.json()["detail"][0]["loc"] == ["path", "job_id"]
    r = await client.post(f"/v1/jobs/{job_id}/retry", headers=ALICE)
    assert r.status_code == 200
    assert r.json()["status"] == "queued"
    await run_job(backend, storage, job_id)
    r = await client.delete(f"/v1/jobs/{job_id}", headers=ALICE)
    assert r.status_code == 409


async def test_patch_priority_is_for_admins(client: httpx.AsyncClient) -> None:
    job_id = await submit(client, ALICE, n=1)
    r = await client.patch(f"/v1/jobs/{job_id}", json={"priority": 42}, headers=ALICE)
    assert r.status_code == 403
    r = await client.patch(f"/v1/jobs/{job_id}", json={"priority": 42}, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["priority"] == 42
    r = await client.patch(f"/v1/jobs/{job_id}", json={"priority": "high"}, headers=ADMIN)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "priority"]


async def test_admins_see_and_cancel_any_job(client: httpx.AsyncClient) -> None:
    job_id = await submit(client, ALICE, n=1)
    assert (await client.get(f"/v1/jobs/{job_id}", headers=ADMIN)).status_code == 200
    assert (await client.delete(f"/v1/jobs/{job_id}", headers=ADMIN)).status_code == 200
