"""An EPUB upload leaves its front and back matter out unless asked; a submission can
name which chapters to read."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import ALICE, book
from tests.books.test_matter import matter_epub
from ttsqueue.backends import Backend


async def upload(client: httpx.AsyncClient, **params: object) -> httpx.Response:
    return await client.post(
        "/v1/jobs",
        params=params,
        files={"file": ("lighthouse.epub", matter_epub(), "application/epub+zip")},
        headers=ALICE,
    )


async def test_epub_matter_is_skipped_and_kept_on_the_job(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    r = await upload(client)
    assert r.status_code == 201, r.text
    job = r.json()
    assert [c["title"] for c in job["chapters"]] == ["Preface", "Chapter 1: The Storm", "Epilogue"]
    stored = await backend.get(job["id"])
    assert stored is not None
    kinds = [s["kind"] for s in stored.metadata["skipped_matter"]]
    assert "copyright" in kinds and "index" in kinds and "about the author" in kinds


async def test_read_matter_reads_it_all(client: httpx.AsyncClient) -> None:
    r = await upload(client, read_matter="true")
    assert r.status_code == 201, r.text
    assert r.json()["total_chapters"] > 3


async def test_read_chapters_of_an_upload_and_of_json(client: httpx.AsyncClient) -> None:
    r = await upload(client, read_chapters="2-")
    assert [c["title"] for c in r.json()["chapters"]] == ["Chapter 1: The Storm", "Epilogue"]

    r = await client.post("/v1/jobs", json=book(5, read_chapters="4,1-2,2"), headers=ALICE)
    assert r.status_code == 201, r.text
    assert [c["title"] for c in r.json()["chapters"]] == ["Part 1", "Part 2", "Part 4"]


@pytest.mark.parametrize("spec", ["6", "0", "3-1", "a", "1,,2", "-2", "1-2-3", " "])
async def test_a_bad_selection_is_a_422_naming_it(client: httpx.AsyncClient, spec: str) -> None:
    r = await client.post("/v1/jobs", json=book(5, read_chapters=spec), headers=ALICE)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "read_chapters"]

    r = await upload(client, read_chapters=spec)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["query", "read_chapters"]
