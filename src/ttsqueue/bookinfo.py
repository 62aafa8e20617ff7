"""What players and libraries show about a book beyond its title and author: series and
position, description, year, publisher, language, ISBN and genre.

It comes from an EPUB's package document (:mod:`ttsqueue.books.opf`) and from the
submission (which wins field by field), travels in the job's metadata under ``book``,
and is written into the audiobook's tags (:mod:`ttsqueue.audio.tags`). Pure data and
checks, no I/O.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from ttsqueue import strings

MAX_FIELD_CHARS = 500  # series, publisher, genre
MAX_DESCRIPTION_CHARS = 10_000
MIN_YEAR, MAX_YEAR = 1, 9999
# "3", "2.5", "12": a position in a series (Audiobookshelf's ``series-part``)
SERIES_POSITION = re.compile(r"\d{1,4}(?:\.\d{1,2})?")
# BCP 47 as EPUB's dc:language writes it: "en", "en-GB", "zh-Hant-TW"
LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,4}")
_ISBN_JUNK = re.compile(r"[\s-]")


@dataclass(frozen=True, slots=True)
class BookInfo:
    series: str = ""
    series_position: str = ""
    description: str = ""
    year: int | None = None
    publisher: str = ""
    language: str = ""
    isbn: str = ""
    genre: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The fields that are set (an empty info is an empty dict)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v not in ("", None)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> BookInfo:
        data = data or {}
        year = data.get("year")
        return cls(
            **{f: str(data.get(f) or "") for f in _TEXT_FIELDS},
            year=int(year) if isinstance(year, int | str) and str(year).isdigit() else None,
        )

    def over(self, base: BookInfo) -> BookInfo:
        """This info with ``base`` filling the fields this one leaves empty."""
        return BookInfo(
            **{
                f.name: getattr(base, f.name)
                if getattr(self, f.name) in ("", None)
                else getattr(self, f.name)
                for f in dataclasses.fields(self)
            }
        )


_TEXT_FIELDS = (
    "series",
    "series_position",
    "description",
    "publisher",
    "language",
    "isbn",
    "genre",
)


class BookInfoError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def isbn_problem(isbn: str) -> str | None:
    """What is wrong with an ISBN-10 or ISBN-13 (hyphens and spaces allowed), or None."""
    digits = _ISBN_JUNK.sub("", isbn).upper()
    if len(digits) == 13 and digits.isdigit():
        total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits))
        return None if total % 10 == 0 else "the ISBN-13 check digit does not match"
    if len(digits) == 10 and digits[:9].isdigit() and (digits[9].isdigit() or digits[9] == "X"):
        values = [int(d) for d in digits[:9]] + [10 if digits[9] == "X" else int(digits[9])]
        total = sum(v * (10 - i) for i, v in enumerate(values))
        return None if total % 11 == 0 else "the ISBN-10 check digit does not match"
    return "an ISBN-10 or ISBN-13 (digits, hyphens and spaces)"


def normal_isbn(isbn: str) -> str:
    return _ISBN_JUNK.sub("", isbn).upper()


def check(info: BookInfo) -> BookInfo:
    """``info`` with its ISBN normalised, or :class:`BookInfoError` naming the field."""
    for name in _TEXT_FIELDS:
        value = getattr(info, name)
        bad = strings.problem(value, text=name == "description")
        if bad:
            raise BookInfoError(name, bad)
        limit = MAX_DESCRIPTION_CHARS if name == "description" else MAX_FIELD_CHARS
        if len(value) > limit:
            raise BookInfoError(name, f"at most {limit} characters")
    if info.series_position and not SERIES_POSITION.fullmatch(info.series_position):
        raise BookInfoError("series_position", "a number such as 3 or 2.5")
    if info.series_position and not info.series:
        raise BookInfoError("series_position", "needs a series")
    if info.year is not None and not MIN_YEAR <= info.year <= MAX_YEAR:
        raise BookInfoError("year", f"between {MIN_YEAR} and {MAX_YEAR}")
    if info.language and not LANGUAGE.fullmatch(info.language):
        raise BookInfoError("language", "a language tag such as en or en-GB")
    if info.isbn:
        bad = isbn_problem(info.isbn)
        if bad:
            raise BookInfoError("isbn", bad)
        info = dataclasses.replace(info, isbn=normal_isbn(info.isbn))
    return info
