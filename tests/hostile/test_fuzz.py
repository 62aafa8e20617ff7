"""Every door, fuzzed: JSON, plain text, Markdown, EPUB upload, the legacy route, SSML.

Each generated or mutated submission must answer 201 (or 200) or a 4xx whose body names
the field; never a 5xx, never a hang. What is accepted must be readable: every chapter of
an accepted book goes through the worker's planning, chunking, synthesis and encoding
without an error. The ``ci`` hypothesis profile bounds the example count; ``make fuzz``
runs the ``fuzz`` profile.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.hostile import strategies as s
from tests.hostile.door import Door
from ttsqueue.books import BookError, decode_text, parse_epub, parse_html, parse_pdf, parse_text
from ttsqueue.models import Voice
from ttsqueue.tts import prepare_chunks
from ttsqueue.tts.noop import NoopEngine
from ttsqueue.tts.text import normalize

JSON = {"Content-Type": "application/json"}


def test_json_door(tmp_path: Path) -> None:
    with Door(tmp_path) as door:

        @given(s.json_payloads(s.job_bodies))
        def submit(body: bytes) -> None:
            door.expect_sane(door.post("/v1/jobs", content=body, headers=JSON))

        submit()
        assert door.accepted and door.refused  # the strategies reach both answers


def test_ssml_chapters(tmp_path: Path) -> None:
    with Door(tmp_path) as door:

        @given(st.lists(s.ssml(), min_size=1, max_size=3), s.voices)
        def submit(texts: list[str], voice: dict[str, object]) -> None:
            body = {"chapters": [{"text": t} for t in texts], "voice": voice}
            content = json.dumps(body, allow_nan=True).encode()
            door.expect_sane(door.post("/v1/jobs", content=content, headers=JSON))

        submit()
        assert door.accepted and door.refused


def test_text_and_markdown_door(tmp_path: Path) -> None:
    with Door(tmp_path) as door:

        @given(
            s.text_bodies,
            st.sampled_from(
                [
                    "text/plain",
                    "text/markdown",
                    "text/markdown; charset=utf-8",
                    "text/plain; charset=windows-1252",
                    "text/plain; charset=ISO-8859-1",
                    "text/plain; charset=utf-16",
                    "text/plain; charset=rot13",
                    "text/plain; charset=nonsense",
                    "text/html",
                    "text/html; charset=utf-16",
                ]
            ),
            s.queries,
        )
        def submit(body: bytes, kind: str, query: dict[str, str]) -> None:
            response = door.post(
                "/v1/jobs", content=body, params=query, headers={"Content-Type": kind}
            )
            door.expect_sane(response)

        submit()
        assert door.accepted and door.refused


def test_epub_door(tmp_path: Path) -> None:
    with Door(tmp_path) as door:

        @given(
            s.epubs,
            st.sampled_from(["book.epub", "BOOK.EPUB", "book.md", "book.txt", "book.pdf", ""]),
            s.queries,
        )
        def upload(data: bytes, name: str, query: dict[str, str]) -> None:
            files = {"file": (name, data, "application/epub+zip")}
            door.expect_sane(door.post("/v1/jobs", files=files, params=query))

        upload()
        assert door.accepted and door.refused


def test_legacy_door(tmp_path: Path) -> None:
    with Door(tmp_path) as door:

        @given(s.json_payloads(s.legacy_bodies))
        def submit(body: bytes) -> None:
            response = door.post("/api/tts/queue", content=body, headers=JSON)
            door.expect_sane(response, id_field="jobId")
            if response.status_code >= 400:
                assert response.json()["success"] is False

        submit()
        assert door.accepted and door.refused


@given(s.prose(max_pieces=80), st.booleans())
def test_text_parsers_answer_a_book_or_a_book_error(text: str, markdown: bool) -> None:
    try:
        book = parse_text(text, markdown=markdown)
    except BookError:
        return
    assert book.chapters and all(c.text.strip() for c in book.chapters)


@given(
    st.one_of(st.binary(max_size=256), s.text_bodies),
    st.sampled_from([None, "utf-8", "utf-16", "cp1252", "latin-1", "ascii", "rot13", "x"]),
)
def test_the_decoder_answers_text_or_a_book_error(data: bytes, charset: str | None) -> None:
    try:
        text = decode_text(data, charset)
    except BookError:
        assert charset is not None or data[:2] in (b"\xff\xfe", b"\xfe\xff")
        return
    assert isinstance(text, str)
    if charset is None and data.isascii():
        assert text == data.decode("ascii") or data.count(0) > 0


@given(st.one_of(s.text_bodies, s.prose(max_pieces=60).map(str.encode)))
def test_the_page_reader_answers_a_book_or_a_book_error(data: bytes) -> None:
    try:
        book = parse_html(data)
    except BookError:
        return
    assert book.chapters and all(c.text.strip() for c in book.chapters)


_PDF: list[bytes] = []


def _a_pdf() -> bytes:
    if not _PDF:
        from tests.books.test_pdf import BOOK, make_pdf

        _PDF.append(make_pdf(BOOK, outline=True))
    return _PDF[0]


@given(
    st.one_of(
        st.binary(max_size=512).map(lambda b: b"%PDF-1.4\n" + b),
        st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=16)).map(
            lambda t: _mutate(_a_pdf(), *t)
        ),
    )
)
def test_the_pdf_reader_answers_a_book_or_a_book_error(data: bytes) -> None:
    try:
        book = parse_pdf(data, max_chars=200_000)
    except BookError:
        return
    assert book.chapters and all(c.text.strip() for c in book.chapters)


def _mutate(data: bytes, at: int, patch: bytes) -> bytes:
    at %= len(data)
    return data[:at] + patch + data[at + len(patch) :]


@given(s.chapter_text, st.sampled_from(["en", "de", None]))
def test_any_chapter_text_normalises_and_splits(text: str, language: str | None) -> None:
    """What the worker does first never raises on text the door would take (SSML that
    the door refuses is the exception: that raises SsmlError, a refusal)."""
    from ttsqueue.tts import check_text

    normalize(text, language)
    if check_text(text) is None:
        prepare_chunks(text, Voice(engine="noop", name="silence"), NoopEngine())


@given(s.epubs)
def test_the_epub_reader_answers_a_book_or_a_book_error(data: bytes) -> None:
    try:
        book = parse_epub(data)
    except BookError:
        return
    assert book.chapters and all(c.text for c in book.chapters)
