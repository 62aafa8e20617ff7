"""Reading books: plain text (Project Gutenberg's included), Markdown and EPUB files into
titled chapters."""

from __future__ import annotations

from pathlib import PurePath

from .epub import parse_epub as _parse_epub
from .model import Book, BookError
from .pdf import parse_pdf
from .plaintext import decode_text
from .text import parse_text
from .webpage import meta_charset, parse_webpage

__all__ = [
    "BOOK_EXTENSIONS",
    "Book",
    "BookError",
    "check_text_size",
    "decode_text",
    "parse_book",
    "parse_epub",
    "parse_html",
    "parse_pdf",
    "parse_text",
]

BOOK_EXTENSIONS = (".txt", ".md", ".markdown", ".epub", ".html", ".htm", ".pdf")


# Markup a text book may hold beyond its text: a body is refused before it is parsed
# when it is longer than this many times the characters a book may hold.
MARKUP_ALLOWANCE = 2
# A web page carries far more markup than text (navigation, scripts, attributes).
HTML_MARKUP_ALLOWANCE = 8
# A text PDF spends tens of bytes per character (fonts, layout); more is refused unread.
PDF_BYTES_PER_CHAR = 64


def parse_epub(data: bytes, *, max_chars: int | None = None, read_matter: bool = False) -> Book:
    return _parse_epub(data, max_chars=max_chars, read_matter=read_matter)


def check_text_size(text: str, max_chars: int | None) -> None:
    """Refuse, before parsing, a text book too long to hold at most ``max_chars``
    characters once its markup is gone."""
    if max_chars is not None and len(text) > MARKUP_ALLOWANCE * max_chars:
        raise BookError(
            f"the text is {len(text)} characters long; a book holds at most {max_chars}"
        )


def parse_html(
    data: bytes,
    *,
    charset: str | None = None,
    max_chars: int | None = None,
    default_title: str = "",
) -> Book:
    """An HTML page as a book, its size checked before it is parsed; the encoding is the
    declared ``charset``, else the page's ``<meta charset>``, else as plain text's."""
    if max_chars is not None and len(data) > HTML_MARKUP_ALLOWANCE * max_chars:
        raise BookError(
            f"the page is {len(data)} bytes long; a book holds at most {max_chars} characters"
        )
    html = decode_text(data, charset or meta_charset(data))
    return parse_webpage(html, default_title=default_title)


def parse_book(
    filename: str, data: bytes, *, max_chars: int | None = None, read_matter: bool = False
) -> Book:
    """Read an uploaded book by its extension (.txt, .md/.markdown, .epub, .html/.htm,
    .pdf).

    Raises :class:`BookError` (a ``ValueError``) with a message fit for the user for an
    unknown file type, text whose encoding cannot be read (see
    :func:`~ttsqueue.books.plaintext.decode_text`), a book with no text, a broken EPUB, or a
    book that cannot hold at most ``max_chars`` characters (found before or while it is
    parsed, never after). An EPUB's front and back matter is left out unless
    ``read_matter``.
    """
    path = PurePath(filename)
    suffix = path.suffix.lower()
    if suffix == ".epub":
        book = parse_epub(data, max_chars=max_chars, read_matter=read_matter)
    elif suffix == ".pdf":
        if max_chars is not None and len(data) > PDF_BYTES_PER_CHAR * max_chars:
            raise BookError(
                f"the PDF is {len(data)} bytes long; a book holds at most {max_chars} characters"
            )
        book = parse_pdf(data, max_chars=max_chars, default_title=path.stem)
    elif suffix in (".html", ".htm"):
        book = parse_html(data, max_chars=max_chars, default_title=path.stem)
    elif suffix in (".txt", ".md", ".markdown"):
        text = decode_text(data)
        check_text_size(text, max_chars)
        book = parse_text(text, markdown=suffix != ".txt", default_title=path.stem)
    else:
        known = ", ".join(BOOK_EXTENSIONS)
        raise BookError(f"unsupported book file type {suffix or filename!r} (use {known})")
    if not book.title:
        book.title = path.stem
    return book
