"""Series, description, year, publisher, language, ISBN and genre: from the submission
and from an uploaded EPUB (the submission wins field by field), checked at the door."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import ALICE, book
from tests.books.epub_builder import OPF, build_epub
from ttsqueue.backends import Backend

INFO = {
    "series": "Lights of the Coast",
    "series_position": "2.5",
    "description": "A keeper.\n\nA storm.",
    "year": 2011,
    "publisher": "Harbour Press",
    "language": "en-GB",
    "isbn": "978-0-316-12906-0",
    "genre": "Maritime Fiction",
}


async def stored_info(backend: Backend, job_id: str) -> dict[str, Any]:
    job = await backend.get(job_id)
    assert job is not None
    return dict(job.metadata.get("book", {}))


async def test_json_submission_carries_the_book_info_to_the_job(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    r = await client.post("/v1/jobs", json=book(1, **INFO), headers=ALICE)
    assert r.status_code == 201, r.text
    assert await stored_info(backend, r.json()["id"]) == {**INFO, "isbn": "9780316129060"}

    r = await client.post("/v1/jobs", json=book(1), headers=ALICE)
    assert await stored_info(backend, r.json()["id"]) == {}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("isbn", "978-0-316-12906-1"),  # wrong check digit
        ("isbn", "12345"),
        ("series_position", "second"),
        ("series_position", "1" * 50),
        ("year", 0),
        ("year", 10_000),
        ("language", "english, mostly"),
        ("series", "x" * 501),
        ("description", "x" * 10_001),
        ("publisher", "Bad\x00Press"),
        ("genre", "a\nb"),
    ],
)
async def test_bad_book_info_is_a_422_naming_the_field(
    client: httpx.AsyncClient, field: str, value: object
) -> None:
    r = await client.post("/v1/jobs", json=book(1, **{field: value}), headers=ALICE)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] == field


async def test_a_position_needs_a_series(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/jobs", json=book(1, series_position="2"), headers=ALICE)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "series_position"]


async def test_epub_upload_info_with_the_query_winning(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    opf = OPF.format(cover_props="").replace(
        "<dc:language>en</dc:language>",
        "<dc:language>en</dc:language><dc:publisher>Harbour Press</dc:publisher>"
        "<dc:date>2011-06-01</dc:date>"
        '<meta name="calibre:series" content="Lights"/>'
        '<meta name="calibre:series_index" content="2"/>',
    )
    epub = build_epub(extra={"OEBPS/content.opf": opf})
    r = await client.post(
        "/v1/jobs",
        params={"genre": "Maritime Fiction", "year": 2020},
        files={"file": ("lighthouse.epub", epub, "application/epub+zip")},
        headers=ALICE,
    )
    assert r.status_code == 201, r.text
    assert await stored_info(backend, r.json()["id"]) == {
        "series": "Lights",
        "series_position": "2",
        "publisher": "Harbour Press",
        "language": "en",
        "year": 2020,
        "genre": "Maritime Fiction",
    }

    r = await client.post(
        "/v1/jobs",
        params={"isbn": "not an isbn"},
        files={"file": ("lighthouse.epub", epub, "application/epub+zip")},
        headers=ALICE,
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "isbn"
