"""Book metadata from an EPUB's package document (OPF), for the audiobook's tags.

Read from ``<metadata>``: ``dc:description`` (markup removed), the year of ``dc:date``
(EPUB 2's ``opf:event="publication"`` first), ``dc:publisher``, ``dc:language``, an ISBN
among the ``dc:identifier``\\s, the first ``dc:subject`` as genre, and the series from
EPUB 3's ``belongs-to-collection`` (with ``collection-type`` and ``group-position``
refinements) or calibre's ``calibre:series`` / ``calibre:series_index``.

A book is never refused for its metadata: a value that breaks a rule is cleaned (control
characters become spaces), cut to its limit, or left out.
"""

from __future__ import annotations

import html
import re
from xml.etree import ElementTree

from ttsqueue.bookinfo import (
    LANGUAGE,
    MAX_DESCRIPTION_CHARS,
    MAX_FIELD_CHARS,
    BookInfo,
    isbn_problem,
    normal_isbn,
)

_TAG = re.compile(r"<[^<>]*>")  # linear: each failed try stops at the next '<'
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_YEAR = re.compile(r"\s*(\d{4})")
_POSITION = re.compile(r"\s*(\d{1,4})(?:\.(\d{1,6}))?\s*")
_BLOCK_END = re.compile(r"(?i)</(?:p|div|h[1-6]|li)\s*>|<br\s*/?>")


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _attr(element: ElementTree.Element, name: str) -> str:
    """An attribute by its local name, in any namespace (``opf:event``, ``event``)."""
    for key, value in element.attrib.items():
        if _local(key) == name:
            return value
    return ""


def _line(value: str, limit: int = MAX_FIELD_CHARS) -> str:
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]


def description_text(value: str) -> str:
    """Plain text of a description that may hold (escaped) HTML; paragraphs kept."""
    value = _BLOCK_END.sub("\n\n", value[: 4 * MAX_DESCRIPTION_CHARS])
    value = html.unescape(_TAG.sub("", value))
    paragraphs = (" ".join(_CONTROL.sub(" ", p).split()) for p in value.split("\n\n"))
    return "\n\n".join(p for p in paragraphs if p)[:MAX_DESCRIPTION_CHARS].strip()


def series_position(value: str) -> str:
    """``"2.0"`` → ``"2"``, ``"2.50"`` → ``"2.5"``; anything else → ``""``."""
    found = _POSITION.fullmatch(value)
    if not found:
        return ""
    whole, fraction = str(int(found.group(1))), (found.group(2) or "").rstrip("0")[:2]
    return f"{whole}.{fraction}" if fraction else whole


def _year(dates: list[ElementTree.Element]) -> int | None:
    ranked = sorted(
        dates,
        key=lambda d: {"publication": 0, "": 1, "original-publication": 1}.get(
            _attr(d, "event"), 2
        ),
    )
    for date in ranked:
        found = _YEAR.match(date.text or "")
        if found and int(found.group(1)) >= 1:
            return int(found.group(1))
    return None


def _isbn(identifiers: list[ElementTree.Element]) -> str:
    candidates = []
    for identifier in identifiers:
        value = (identifier.text or "").strip()
        lowered = value.lower()
        if lowered.startswith("urn:isbn:"):
            value = value[9:]
        elif lowered.startswith("isbn:"):
            value = value[5:]
        elif _attr(identifier, "scheme").lower() != "isbn":
            candidates.append(value)  # an unlabelled ISBN still counts if it checks out
            continue
        if len(value) <= 20 and isbn_problem(value) is None:
            return normal_isbn(value)
    for value in candidates:
        if len(value) <= 20 and isbn_problem(value) is None:
            return normal_isbn(value)
    return ""


def _series(metas: list[ElementTree.Element]) -> tuple[str, str]:
    refines: dict[str, dict[str, str]] = {}
    for meta in metas:
        target = meta.get("refines", "")
        if target.startswith("#") and meta.get("property"):
            refines.setdefault(target[1:], {})[meta.get("property", "")] = (meta.text or "").strip()
    collections = [m for m in metas if m.get("property") == "belongs-to-collection"]
    collections.sort(
        key=lambda m: refines.get(m.get("id", ""), {}).get("collection-type") != "series"
    )
    for collection in collections:
        name = _line(collection.text or "")
        kind = refines.get(collection.get("id", ""), {}).get("collection-type", "series")
        if name and kind == "series":
            position = refines.get(collection.get("id", ""), {}).get("group-position", "")
            return name, series_position(position)
    named = {m.get("name", ""): m.get("content", "") for m in metas if m.get("name")}
    name = _line(named.get("calibre:series", ""))
    if name:
        return name, series_position(named.get("calibre:series_index", ""))
    return "", ""


def book_info(package: ElementTree.Element) -> BookInfo:
    """The metadata of a package document's root element."""
    metadata = next((e for e in package if _local(e.tag) == "metadata"), package)
    by_name: dict[str, list[ElementTree.Element]] = {}
    for element in metadata.iter():
        by_name.setdefault(_local(element.tag), []).append(element)

    def first(name: str, limit: int = MAX_FIELD_CHARS) -> str:
        for element in by_name.get(name, []):
            value = _line("".join(element.itertext()), limit)
            if value:
                return value
        return ""

    language = first("language")
    series, position = _series(by_name.get("meta", []))
    descriptions = by_name.get("description", [])
    return BookInfo(
        series=series,
        series_position=position,
        description=description_text("".join(descriptions[0].itertext())) if descriptions else "",
        year=_year(by_name.get("date", [])),
        publisher=first("publisher"),
        language=language if LANGUAGE.fullmatch(language) else "",
        isbn=_isbn(by_name.get("identifier", [])),
        genre=first("subject"),
    )
