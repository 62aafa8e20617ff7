"""A text PDF as a book: chapters from its outline or its headings, page furniture removed.

Read with pypdf (the ``[pdf]`` extra): pure Python, so a hostile file can make it slow
but not corrupt memory, and BSD-licensed. Limits come before the work: the file's size
(checked by the caller), the page count (read from the page tree before any text), the
characters a page may yield, the characters a book may hold, and a time budget checked
after every page.

Lines repeated at the top or bottom of most pages (running headers and footers, with
their digits ignored) and lines that are only a page number are dropped; a word broken
with a hyphen at a line's end is joined. A PDF without a text layer (a scan) is refused.
"""

from __future__ import annotations

import io
import re
import time
from collections import Counter
from typing import Any

from ttsqueue.models import Chapter

from .model import Book, BookError
from .plaintext import join_wrapped
from .text import _PLAIN_HEADING, parse_text

MAX_PAGES = 3000
MAX_PAGE_CHARS = 50_000
TIME_BUDGET_S = 60.0
_EDGE = 2  # lines at each end of a page that may be a running header or footer
_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,5}(?:\s*(?:/|of)\s*\d{1,5})?$", re.IGNORECASE)
_BLANK_RUN = re.compile(r"\n{3,}")
_HYPHENATED = re.compile(r"(?<=[^\W\d_])-\n(?=[a-z])")


class PdfMissing(BookError):
    """The server was installed without the ``[pdf]`` extra."""


def parse_pdf(data: bytes, *, max_chars: int | None = None, default_title: str = "") -> Book:
    try:
        from pypdf import PdfReader
    except ImportError:
        raise PdfMissing(
            "PDF books need the server's [pdf] extra (pip install 'ttsqueue[pdf]')"
        ) from None
    started = time.monotonic()
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise BookError("the PDF is encrypted; upload one without a password")
        count = len(reader.pages)
        if count > MAX_PAGES:
            raise BookError(f"the PDF has {count} pages; a book has at most {MAX_PAGES}")
        pages: list[list[str]] = []
        total = 0
        for number, page in enumerate(reader.pages, 1):
            text = page.extract_text() or ""
            if len(text) > MAX_PAGE_CHARS:
                raise BookError(
                    f"page {number} of the PDF holds more than {MAX_PAGE_CHARS} characters"
                )
            total += len(text)
            if max_chars is not None and total > max_chars:
                raise BookError(f"the PDF holds more than {max_chars} characters")
            if time.monotonic() - started > TIME_BUDGET_S:
                raise BookError(f"the PDF took longer than {TIME_BUDGET_S:.0f} s to read")
            pages.append(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
        outline = _outline(reader)
        meta = reader.metadata
        title = str(meta.title or "") if meta else ""
        author = str(meta.author or "") if meta else ""
    except BookError:
        raise
    except Exception as exc:
        # Whatever a hostile file makes the reader raise (PyPdfError, a recursion, a broken
        # stream, a missing key) means the same to the user: unreadable.
        raise BookError(f"the PDF cannot be read ({type(exc).__name__})") from None
    if not any(line.strip() for lines in pages for line in lines):
        raise BookError(
            "the PDF has no text layer (a scanned PDF?); upload one with text, or its text"
        )
    pages = _without_furniture(pages)
    texts = [_HYPHENATED.sub("", "\n".join(lines)) for lines in pages]
    chapters = _outline_chapters(texts, outline)
    if chapters is None:
        book = parse_text("\n\n".join(texts), markdown=False, default_title=default_title)
        chapters = book.chapters
    if not chapters:
        raise BookError("the PDF has no text")
    return Book(title=title.strip()[:200] or default_title, author=author.strip()[:200],
                chapters=chapters)  # fmt: skip


def _outline(reader: Any) -> list[tuple[str, int]]:
    """The top-level outline entries as (title, page index), in page order."""
    entries: list[tuple[str, int]] = []
    for item in reader.outline[:MAX_PAGES]:
        if isinstance(item, list):
            continue  # nested entries: sections within a chapter
        try:
            page = reader.get_destination_page_number(item)
        except Exception:
            continue
        if page is not None and page >= 0:
            entries.append((" ".join(str(item.title).split())[:200], page))
    return sorted(entries, key=lambda e: e[1])


def _outline_chapters(texts: list[str], outline: list[tuple[str, int]]) -> list[Chapter] | None:
    if len(outline) < 2:
        return None
    chapters = []
    starts = [(0, ""), *[(page, title) for title, page in outline]]
    for (start, title), (end, _) in zip(starts, [*starts[1:], (len(texts), "")], strict=True):
        lines = join_wrapped("\n\n".join(texts[start:end]).split("\n"))
        joined = _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()
        if joined.strip():
            chapters.append(Chapter(title=title, text=joined))
    return chapters


def _key(line: str) -> str:
    return _DIGITS.sub("#", " ".join(line.split()).lower())


def _without_furniture(pages: list[list[str]]) -> list[list[str]]:
    """The pages' lines without page numbers and lines repeated at the edges of most pages
    (digits aside, so "Page 12 - The Lamp" repeats); a chapter heading is never one."""
    edges: Counter[str] = Counter()
    for lines in pages:
        content = [line for line in lines if line.strip()]
        edges.update(
            _key(line)
            for line in set(content[:_EDGE] + content[-_EDGE:])
            if not _PLAIN_HEADING.match(line.strip())  # "Chapter 2" opens many pages
        )
    repeated = (
        {key for key, count in edges.items() if count >= 3 and count * 2 >= len(pages)}
        if len(pages) >= 3
        else set()
    )
    cleaned = []
    for lines in pages:
        indices = [i for i, line in enumerate(lines) if line.strip()]
        edge = set(indices[:_EDGE] + indices[-_EDGE:])
        cleaned.append(
            [
                line
                for i, line in enumerate(lines)
                if i not in edge or not (_key(line) in repeated or _PAGE_NUMBER.match(line.strip()))
            ]
        )
    return cleaned
