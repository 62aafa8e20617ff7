"""Reading books: plain text, Markdown and EPUB files into titled chapters."""

from __future__ import annotations

from pathlib import PurePath

from .model import Book, BookError
from .text import parse_text

__all__ = ["BOOK_EXTENSIONS", "Book", "BookError", "parse_book", "parse_epub", "parse_text"]

BOOK_EXTENSIONS = (".txt", ".md", ".markdown", ".epub")


def parse_epub(data: bytes) -> Book:
    from .epub import parse_epub as _parse_epub

    return _parse_epub(data)


def parse_book(filename: str, data: bytes) -> Book:
    """Read an uploaded book by its extension (.txt, .md/.markdown, .epub).

    Raises :class:`BookError` (a ``ValueError``) with a message fit for the user for an
    unknown file type, text that is not UTF-8, a book with no text, or a broken EPUB.
    """
    path = PurePath(filename)
    suffix = path.suffix.lower()
    if suffix == ".epub":
        book = parse_epub(data)
    elif suffix in (".txt", ".md", ".markdown"):
        book = parse_text(_decode(data), markdown=suffix != ".txt", default_title=path.stem)
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
