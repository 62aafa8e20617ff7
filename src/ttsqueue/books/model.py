"""What a parsed book is, and the error a user sees when it cannot be read."""

from __future__ import annotations

from dataclasses import dataclass, field

from ttsqueue.bookinfo import BookInfo
from ttsqueue.models import Chapter


class BookError(ValueError):
    """A book file that cannot be read; the message is shown to the user as is."""


@dataclass(slots=True)
class Book:
    title: str
    author: str
    chapters: list[Chapter]
    cover: bytes | None = None
    cover_mime: str | None = None
    info: BookInfo = field(default_factory=BookInfo)  # series, description, year, ...
    skipped: list[tuple[str, str]] = field(default_factory=list)  # matter left out: (title, kind)
