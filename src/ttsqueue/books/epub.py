"""EPUB books (being written)."""

from __future__ import annotations

from .model import Book, BookError


def parse_epub(data: bytes) -> Book:
    raise BookError("EPUB books are not supported yet")
