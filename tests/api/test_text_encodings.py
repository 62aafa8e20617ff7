"""Text bodies and .txt uploads in the encodings books come in, Project Gutenberg's included."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import ALICE
from tests.books.test_plaintext import GUTENBERG

TITLES = ["", "BOOK ONE: CHAPTER I. The Lamp", "CHAPTER II. The Dark", "I."]


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (GUTENBERG.encode("utf-8"), "text/plain; charset=utf-8"),
        (GUTENBERG.lstrip("\ufeff").encode("cp1252"), "text/plain"),
        (GUTENBERG.lstrip("\ufeff").encode("cp1252"), "text/plain; charset=windows-1252"),
        (GUTENBERG.lstrip("\ufeff").encode("cp1252"), "text/plain; charset=ISO-8859-1"),
        (GUTENBERG.encode("utf-16"), "text/plain"),
        (GUTENBERG.lstrip("\ufeff").encode("utf-16-be"), 'text/plain; charset="UTF-16BE"'),
    ],
)
async def test_a_gutenberg_text_body_in_any_encoding(
    client: httpx.AsyncClient, data: bytes, content_type: str
) -> None:
    r = await client.post("/v1/jobs", content=data, headers={**ALICE, "Content-Type": content_type})
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["title"] == "The Lamplighter\u2019s Tale"
    assert job["author"] == "Ann Writer"
    assert [c["title"] for c in job["chapters"]] == TITLES


async def test_a_gutenberg_txt_upload_in_windows_1252(client: httpx.AsyncClient) -> None:
    data = GUTENBERG.lstrip("\ufeff").encode("cp1252")
    r = await client.post(
        "/v1/jobs", files={"file": ("pg9999.txt", data, "text/plain")}, headers=ALICE
    )
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "The Lamplighter\u2019s Tale"
    assert [c["title"] for c in r.json()["chapters"]] == TITLES


@pytest.mark.parametrize(
    ("data", "content_type", "loc", "message"),
    [
        (b"hello", "text/plain; charset=klingon", ["header", "Content-Type"], "unknown charset"),
        (b"hello", "text/plain; charset=rot13", ["header", "Content-Type"], "unknown charset"),
        (b"caf\xe9", "text/plain; charset=utf-8", ["body"], "not valid utf-8"),
        (b"\xff\xfe\x00\xd8", "text/plain", ["body"], "not valid UTF-16"),
    ],
)
async def test_text_that_cannot_be_decoded_is_a_422_naming_where(
    client: httpx.AsyncClient, data: bytes, content_type: str, loc: list[str], message: str
) -> None:
    r = await client.post("/v1/jobs", content=data, headers={**ALICE, "Content-Type": content_type})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"] == loc
    assert message in detail["msg"]


async def test_an_html_body_and_upload_become_chapters(client: httpx.AsyncClient) -> None:
    from tests.books.test_webpage import PAGE

    data = PAGE.encode("cp1252")
    r = await client.post("/v1/jobs", content=data, headers={**ALICE, "Content-Type": "text/html"})
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "The Clock"
    assert [c["title"] for c in r.json()["chapters"]] == ["", "One", "Two"]
    r = await client.post(
        "/v1/jobs", files={"file": ("clock.html", data, "text/html")}, headers=ALICE
    )
    assert r.status_code == 201, r.text
    assert [c["title"] for c in r.json()["chapters"]] == ["", "One", "Two"]
    r = await client.post(
        "/v1/jobs",
        content=b"<nav>menu only</nav>",
        headers={**ALICE, "Content-Type": "text/html; charset=utf-8"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body"]
    assert "no text" in r.json()["detail"][0]["msg"]


async def test_a_pdf_upload_becomes_chapters_and_a_scan_is_a_422(
    client: httpx.AsyncClient,
) -> None:
    from fpdf import FPDF

    from tests.books.test_pdf import BOOK, make_pdf

    r = await client.post(
        "/v1/jobs",
        files={"file": ("lamp.pdf", make_pdf(BOOK, outline=True), "application/pdf")},
        headers=ALICE,
    )
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "The Lamp"
    assert [c["title"] for c in r.json()["chapters"]] == ["Chapter 1", "Chapter 2", "Chapter 3"]
    scan = FPDF()
    scan.add_page()
    scan.rect(10, 10, 50, 50)
    r = await client.post(
        "/v1/jobs",
        files={"file": ("scan.pdf", bytes(scan.output()), "application/pdf")},
        headers=ALICE,
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "file"]
    assert "no text layer" in r.json()["detail"][0]["msg"]


async def test_without_the_pdf_extra_a_pdf_is_a_422_naming_it(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pypdf", None)  # as if it were not installed
    r = await client.post(
        "/v1/jobs", files={"file": ("a.pdf", b"%PDF-1.4", "application/pdf")}, headers=ALICE
    )
    assert r.status_code == 422, r.text
    assert "[pdf] extra" in r.json()["detail"][0]["msg"]
