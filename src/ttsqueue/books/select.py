"""Which chapters of a book to read: ``"1-3,5,9-"`` (1-based, in the book's order)."""

from __future__ import annotations

from .model import BookError

MAX_SELECTION_CHARS = 1000


def selected(spec: str, count: int) -> list[int]:
    """The 0-based indices of the chapters ``spec`` names, in reading order, each once.

    ``spec`` is a comma-separated list of chapter numbers (``5``), ranges (``1-3``)
    and open ranges (``9-``: to the end); raises :class:`BookError` naming the problem.
    """
    if len(spec) > MAX_SELECTION_CHARS:
        raise BookError(f"at most {MAX_SELECTION_CHARS} characters")
    chosen: set[int] = set()
    for part in spec.split(","):
        first, dash, last = part.strip().partition("-")
        start = _number(first, count)
        end = (_number(last, count) if last.strip() else count) if dash else start
        if end < start:
            raise BookError(f"{part.strip()!r} runs backwards")
        if len(chosen) < count:
            chosen.update(range(start - 1, end))
    if not chosen:
        raise BookError("names no chapter")
    return sorted(chosen)


def _number(text: str, count: int) -> int:
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        raise BookError(f"{text!r} is not a chapter number (use e.g. 1-3,5,9-)")
    number = int(text)
    if not 1 <= number <= count:
        raise BookError(f"chapter {number} does not exist: the book has {count} chapters")
    return number
