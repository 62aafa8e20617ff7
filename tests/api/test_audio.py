from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import ALICE, book, run_job, submit
from ttsqueue.backends import Backend
from ttsqueue.backends.base import Completion
from ttsqueue.storage import Storage

BOOK = bytes(range(256)) * 8  # what run_job writes as the book


async def finished_job(
    client: httpx.AsyncClient, backend: Backend, storage: Storage, fmt: str = "mp3"
) -> str:
    r = await client.post("/v1/jobs", json=book(2, output_format=fmt), headers=ALICE)
    job_id = str(r.json()["id"])
    await run_job(backend, storage, job_id, fmt=fmt)
    return job_id


async def test_links_and_downloads_once_done(
    client: httpx.AsyncClient, backend: Backend, storage: Storage
) -> None:
    job_id = await finished_job(client, backend, storage)
    job = (await client.get(f"/v1/jobs/{job_id}", headers=ALICE)).json()
    assert job["status"] == "completed"
    assert job["progress_percent"] == 100
    assert job["audio_url"] == f"/v1/jobs/{job_id}/audio"
    assert job["duration_s"] == 1.5
    assert [c["audio_url"] for c in job["chapters"]] == [
        f"/v1/jobs/{job_id}/chapters/1/audio",
        f"/v1/jobs/{job_id}/chapters/2/audio",
    ]
    assert all(c["duration_s"] == 1.5 and c["status"] == "completed" for c in job["chapters"])

    r = await client.get(job["audio_url"], headers=ALICE)
    assert r.status_code == 200
    assert r.content == BOOK
    assert r.headers["content-type"] == "audio/mpeg"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "The%20Test%20Book.mp3" in r.headers["content-disposition"]

    r = await client.get(job["chapters"][1]["audio_url"], headers=ALICE)
    assert r.status_code == 200
    assert r.content.startswith(b"chapter 1 audio")


@pytest.mark.parametrize(
    ("fmt", "book_type", "chapter_type"),
    [
        ("m4b", "audio/mp4", "audio/mp4"),
        ("opus", "audio/ogg", "audio/ogg"),
        ("wav", "audio/wav", "audio/wav"),
    ],
)
async def test_content_types_follow_the_format(
    client: httpx.AsyncClient,
    backend: Backend,
    storage: Storage,
    fmt: str,
    book_type: str,
    chapter_type: str,
) -> None:
    job_id = await finished_job(client, backend, storage, fmt)
    r = await client.get(f"/v1/jobs/{job_id}/audio", headers=ALICE)
    assert r.headers["content-type"] == book_type
    r = await client.get(f"/v1/jobs/{job_id}/chapters/1/audio", headers=ALICE)
    assert r.headers["content-type"] == chapter_type


async def test_range_requests(
    client: httpx.AsyncClient, backend: Backend, storage: Storage
) -> None:
    job_id = await finished_job(client, backend, storage)
    url = f"/v1/jobs/{job_id}/audio"
    size = len(BOOK)

    r = await client.get(url, headers={**ALICE, "Range": "bytes=10-19"})
    assert r.status_code == 206
    assert r.content == BOOK[10:20]
    assert r.headers["content-range"] == f"bytes 10-19/{size}"
    assert r.headers["content-length"] == "10"

    r = await client.get(url, headers={**ALICE, "Range": "bytes=-5"})
    assert (r.status_code, r.content) == (206, BOOK[-5:])

    r = await client.get(url, headers={**ALICE, "Range": f"bytes={size - 3}-"})
    assert (r.status_code, r.content) == (206, BOOK[-3:])

    r = await client.get(url, headers={**ALICE, "Range": "bytes=0-1,4-5"})
    assert r.status_code == 206
    assert r.headers["content-type"].startswith("multipart/byteranges")

    r = await client.get(url, headers={**ALICE, "Range": f"bytes={size}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{size}"

    for bad in ("bytes=9-3", "lines=1-2", "bytes", "bytes=abc"):
        r = await client.get(url, headers={**ALICE, "Range": bad})
        assert r.status_code in (200, 400, 416), (bad, r.status_code)


async def test_not_ready_is_404_with_a_clear_message(
    client: httpx.AsyncClient, backend: Backend, storage: Storage
) -> None:
    job_id = await submit(client, ALICE, n=2)
    r = await client.get(f"/v1/jobs/{job_id}/audio", headers=ALICE)
    assert r.status_code == 404
    assert "not ready" in r.json()["detail"][0]["msg"]
    assert "queued" in r.json()["detail"][0]["msg"]

    # chapter 1 done, chapter 2 running: one is served, the other is not
    claimed = await backend.claim(worker_id="w", limit=2, lease_s=60)
    first = next(t for t in claimed if t.index == 0)
    path = storage.chapter_path(job_id, 0, ".mp3")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"one")
    result = {"path": storage.relative(path), "duration_s": 0.5, "format": "mp3"}
    assert await backend.complete([Completion(first.lease, result)]) == [True]
    r = await client.get(f"/v1/jobs/{job_id}/chapters/1/audio", headers=ALICE)
    assert (r.status_code, r.content) == (200, b"one")
    r = await client.get(f"/v1/jobs/{job_id}/chapters/2/audio", headers=ALICE)
    assert r.status_code == 404
    assert "chapter 2 is not ready" in r.json()["detail"][0]["msg"]
    r = await client.get(f"/v1/jobs/{job_id}/chapters/3/audio", headers=ALICE)
    assert r.status_code == 404
    assert "no chapter 3" in r.json()["detail"][0]["msg"]


async def test_a_deleted_file_is_404_not_500(
    client: httpx.AsyncClient, backend: Backend, storage: Storage
) -> None:
    job_id = await finished_job(client, backend, storage)
    storage.delete_job(job_id)
    r = await client.get(f"/v1/jobs/{job_id}/audio", headers=ALICE)
    assert r.status_code == 404
    assert "missing" in r.json()["detail"][0]["msg"]
