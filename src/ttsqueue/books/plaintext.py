"""Plain text from the wild: its encoding, a Project Gutenberg wrapper, hard-wrapped lines.

Encoding, in order (a small heuristic rather than a statistical detector, because the
encodings a plain-text book comes in are few and each is recognised exactly):

1. a byte-order mark: UTF-8, UTF-16 LE or BE;
2. a charset the sender declared (``text/plain; charset=...``), decoded strictly;
3. strict UTF-8: text in a legacy single-byte encoding that happens to be valid UTF-8
   is vanishingly rare, so a strict decode that succeeds is UTF-8;
4. UTF-16 without a mark, when every other byte of the start is NUL (ASCII text in it);
5. Windows-1252, else Latin-1. The two differ only in bytes 0x80-0x9F, which Latin-1
   maps to C1 control characters that no book contains; Windows-1252 maps them to
   curly quotes, dashes and the euro sign, which books do. A declared ``iso-8859-1`` or
   ``us-ascii`` is read as Windows-1252 for the same reason (as browsers do). Latin-1 is
   only the answer for the five bytes Windows-1252 leaves undefined.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from .model import BookError


class CharsetError(BookError):
    """A declared charset that is no text encoding."""


_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Labels whose bytes 0x80-0x9F are better read as Windows-1252 than as C1 controls.
_AS_CP1252 = {"iso8859-1", "ascii"}
_SNIFF = 200  # bytes looked at for UTF-16 without a mark


def decode_text(data: bytes, charset: str | None = None) -> str:
    """The text in ``data`` (see the module's docstring for how the encoding is found).

    Raises :class:`BookError` for an unknown declared charset, or bytes that are not in
    the declared one or in the UTF-16 a byte-order mark announces.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _strict(data, encoding, "UTF-8" if bom == codecs.BOM_UTF8 else "UTF-16")
    if charset:
        try:
            name = codecs.lookup(charset.strip().strip('"')).name
        except LookupError:
            raise CharsetError(f"unknown charset {charset[:50]!r}") from None
        if name in _AS_CP1252:
            return _single_byte(data)
        return _strict(data, name, charset.strip()[:50])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    head = data[:_SNIFF]
    if len(head) >= 4 and len(data) % 2 == 0:
        guess = None
        if head[1::2].count(0) == len(head) // 2:
            guess = "utf-16-le"
        elif head[0::2].count(0) == len(head) // 2:
            guess = "utf-16-be"
        if guess:
            try:
                return data.decode(guess)
            except UnicodeDecodeError:
                pass  # not UTF-16 after all
    return _single_byte(data)


def _strict(data: bytes, encoding: str, label: str) -> str:
    try:
        return data.decode(encoding)
    except LookupError:  # a codec that is not a text encoding, such as rot13
        raise CharsetError(f"unknown charset {label!r}") from None
    except UnicodeDecodeError as exc:
        raise BookError(
            f"the text is not valid {label} (invalid byte at position {exc.start})"
        ) from None


def _single_byte(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# Project Gutenberg's wrapper: the modern markers, the older "*** START OF THIS ..." and
# "***START**THE SMALL PRINT!" variants, and the "End of the Project Gutenberg EBook"
# line that closes older texts. Lines longer than _MAX_MARKER are never markers.
_START = re.compile(
    r"^\s*\*{3}\s*START\s+OF\s+(?:THE|THIS)\s+PROJECT\s+GUTENBERG\s+E-?(?:BOOK|TEXT)\b"
    r"|^\s*\*END\*\s*THE\s+SMALL\s+PRINT",
    re.IGNORECASE,
)
_END = re.compile(
    r"^\s*\*{3}\s*END\s+OF\s+(?:THE|THIS)\s+PROJECT\s+GUTENBERG\s+E-?(?:BOOK|TEXT)\b"
    r"|^\s*End\s+of\s+(?:the\s+)?Project\s+Gutenberg(?:'s|\u2019s)?\s",
    re.IGNORECASE,
)
_FIRST_LINE = re.compile(
    r"^\W*The\s+Project\s+Gutenberg\s+E-?(?:Book|Text)\s+of\s+(.+?)(?:,\s+by\s+(.+?))?\s*$",
    re.IGNORECASE,
)
_FIELD = re.compile(r"^(Title|Author)\s*:\s*(\S.*?)\s*$", re.IGNORECASE)
_PRODUCED = re.compile(
    r"^\s*(?:Produced|Prepared|Transcribed|E-?text\s+prepared)\s+by\b", re.IGNORECASE
)
_MAX_MARKER = 300
_MAX_FIELD = 200


@dataclass(slots=True)
class Unwrapped:
    text: str
    title: str = ""
    author: str = ""


def strip_gutenberg(text: str) -> Unwrapped:
    """``text`` without a Project Gutenberg header and licence, with the title and author
    the header names; ``text`` unchanged when it has no start marker."""
    lines = text.split("\n")
    start = next(
        (i for i, line in enumerate(lines) if len(line) <= _MAX_MARKER and _START.match(line)),
        None,
    )
    if start is None:
        return Unwrapped(text)
    title = author = ""
    for line in lines[:start]:
        if len(line) > _MAX_FIELD:
            continue
        field = _FIELD.match(line)
        if field and field.group(1).lower() == "title" and not title:
            title = field.group(2)
        elif field and not author:
            author = field.group(2)
    if not title:
        first = next((line for line in lines[:start] if line.strip()), "")
        match = _FIRST_LINE.match(first) if len(first) <= _MAX_FIELD else None
        if match:
            title, author = match.group(1), author or (match.group(2) or "")
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if len(lines[i]) <= _MAX_MARKER and _END.match(lines[i])
        ),
        len(lines),
    )
    body = lines[start + 1 : end]
    # A "Produced by ..." credit opens many texts: its paragraph is not the book.
    opening = next((i for i, line in enumerate(body) if line.strip()), None)
    if opening is not None and _PRODUCED.match(body[opening]):
        stop = next((i for i in range(opening, len(body)) if not body[i].strip()), len(body))
        body = body[stop:]
    return Unwrapped("\n".join(body), title.strip(), author.strip())


_INDENTED = re.compile(r"^[ \t]")


def join_wrapped(lines: list[str]) -> list[str]:
    """Paragraphs of hard-wrapped lines joined into one line each, blank lines kept.

    A line joins the one before it unless either is blank or it is indented (verse,
    a letter's address, a table keep their lines)."""
    out: list[str] = []
    paragraph: list[str] = []
    for line in lines:
        stripped = line.strip()
        if paragraph and (not stripped or _INDENTED.match(line)):
            out.append(" ".join(paragraph))
            paragraph = []
        if not stripped:
            out.append("")
        else:
            paragraph.append(stripped)
    if paragraph:
        out.append(" ".join(paragraph))
    return out
