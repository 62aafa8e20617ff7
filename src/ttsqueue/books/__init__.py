"""Reading books: plain text, Markdown and EPUB files into titled chapters."""

from __future__ import annotations

from pathlib import PurePath

from .epub import parse_epub as _parse_epub
from .model import Book, BookError
from .text import parse_text

__all__ = [
    "BOOK_EXTENSIONS",
    "Book",
    "BookError",
    "check_text_size",
    "parse_book",
    "parse_epub",
    "parse_text",
]

BOOK_EXTENSIONS = (".txt", ".md", ".markdown", ".epub")


# Markup a text book may hold beyond its text: a body is refused before it is parsed
# when it is longer than this many times the characters a book may hold.
MARKUP_ALLOWANCE = 2


def parse_epub(data: bytes, *, max_chars: int | None = None, read_matter: bool = False) -> Book:
    return _parse_epub(data, max_chars=max_chars, read_matter=read_matter)


def check_text_size(text: str, max_chars: int | None) -> None:
    """Refuse, before parsing, a text book too long to hold at most ``max_chars``
    characters once its markup is gone."""
    if max_chars is not None and len(text) > MARKUP_ALLOWANCE * max_chars:
        raise BookError(
            f"the text is {len(text)} characters long; a book holds at most {max_chars}"
        )


def parse_book(
    filename: str, data: bytes, *, max_chars: int | None = None, read_matter: bool = False
) -> Book:
    """Read an uploaded book by its extension (.txt, .md/.markdown, .epub).

    Raises :class:`BookError` (a ``ValueError``) with a message fit for the user for an
    unknown file type, text that is not UTF-8, a book with no text, a broken EPUB, or a
    book that cannot hold at most ``max_chars`` characters (found before or while it is
    parsed, never after). An EPUB's front and back matter is left out unless
    ``read_matter``.
    """
    path = PurePath(filename)
    suffix = path.suffix.lower()
    if suffix == ".epub":
        book = parse_epub(data, max_chars=max_chars, read_matter=read_matter)
    elif suffix in (".txt", ".md", ".markdown"):
        text = _decode(data)
        check_text_size(text, max_chars)
        book = parse_text(text, markdown=suffix != ".txt", default_title=path.stem)
    else:
        known = ", ".join(BOOK_EXTENSIONS)
        raise BookError(f"unsupported book file type {suffix or filename!r} (use {known})")
    if not book.title:
        book.title = path.stem
    return book


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise BookError("the text file is not valid UTF-16") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BookError(
            f"the text file is not UTF-8 (invalid byte at position {exc.start}); "
            "save it as UTF-8 and upload it again"
        ) from exc
