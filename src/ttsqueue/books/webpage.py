"""An HTML page or file as a book: chapters at its headings, the page's furniture left out.

Left out: scripts, styles and the rest the EPUB reader drops, and a page's navigation,
asides, forms, and its site-wide header and footer (a ``<header>`` or ``<footer>`` outside
any ``<article>`` or ``<main>``; inside one, a header usually holds the article's own
title), and elements whose ARIA role says they are such furniture.

Chapters: the highest heading level among ``h1``-``h3`` that occurs at least twice splits
the page; a heading above that level (the page's ``h1`` over its ``h2`` sections) names
the book, else the page's ``<title>`` does. A page with no repeated heading is one chapter.
"""

from __future__ import annotations

import re
from collections import Counter

from ttsqueue.models import Chapter

from .html import _close_safe, _Extractor
from .model import Book, BookError

_FURNITURE = frozenset(("nav", "aside", "form", "button", "select", "dialog", "iframe"))
_SITE = frozenset(("header", "footer"))
_CONTAINERS = frozenset(("article", "main"))
_ROLES = frozenset(("navigation", "banner", "contentinfo", "complementary", "search"))
_SPLITTING = frozenset(("h1", "h2", "h3"))
_MAX_TITLE = 200
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([A-Za-z0-9_\-:.]{1,40})""", re.I
)
_SNIFF = 1024


def meta_charset(data: bytes) -> str | None:
    """The charset a ``<meta>`` tag in the first kilobyte of a page declares (UTF-16 read
    as UTF-8, as browsers do)."""
    match = _META_CHARSET.search(data[:_SNIFF])
    if match is None:
        return None
    name = match.group(1).decode("ascii")
    # A page whose <meta> can be read as ASCII is not UTF-16, whatever it says.
    return "utf-8" if name.lower().replace("_", "-").startswith("utf-16") else name


class _PageExtractor(_Extractor):
    def __init__(self) -> None:
        super().__init__(set())
        self.marks: list[tuple[int, int, str]] = []  # (paragraph index, level, heading)
        self.page_title = ""
        self._title: list[str] | None = None
        self._capture: tuple[int, list[str]] | None = None
        self._containers = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and not self.page_title:
            self._title = []
        if not self._skip:
            role = next((v for k, v in attrs if k == "role"), None)
            site = tag in _SITE and not self._containers
            if tag in _FURNITURE or site or role in _ROLES:
                self._push_skip(tag)
                return
            if tag in _CONTAINERS:
                self._containers += 1
            if tag in _SPLITTING and self._capture is None:
                super().handle_starttag(tag, attrs)
                self._capture = (int(tag[1]), [])
                return
        super().handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._title is not None:
            self.page_title = " ".join("".join(self._title).split())[:_MAX_TITLE]
            self._title = None
        if not self._skip:
            if tag in _CONTAINERS and self._containers:
                self._containers -= 1
            if self._capture is not None and tag == f"h{self._capture[0]}":
                level, parts = self._capture
                self._capture = None
                index = len(self.document.paragraphs)
                super().handle_endtag(tag)
                if len(self.document.paragraphs) > index:
                    text = " ".join("".join(parts).split())[:_MAX_TITLE]
                    self.marks.append((index, level, text))
                return
        super().handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self._title is not None:
            self._title.append(data)
        if self._capture is not None and not self._skip:
            self._capture[1].append(data)
        super().handle_data(data)


def parse_webpage(html: str, *, default_title: str = "") -> Book:
    """The chapters of an HTML page (see the module's docstring); raises
    :class:`BookError` when it has no text."""
    extractor = _PageExtractor()
    extractor.feed(_close_safe(html))
    extractor.close()
    paragraphs = extractor.document.paragraphs
    marks = extractor.marks
    counts = Counter(level for _, level, _ in marks)
    split = min((level for level, count in counts.items() if count >= 2), default=None)
    above = [m for m in marks if split is None or m[1] < split]
    title = above[0][2] if above else extractor.page_title or default_title
    dropped = {index for index, _, _ in above}  # headings over the chapters: not read
    cuts = [(index, text) for index, level, text in marks if level == split]
    chapters: list[Chapter] = []
    starts = [(0, ""), *((index, text) for index, text in cuts)]
    ends = [index for index, _ in cuts] + [len(paragraphs)]
    for (start, heading), end in zip(starts, ends, strict=True):
        first = start + 1 if heading else start
        body = [p for i, p in enumerate(paragraphs[first:end], first) if i not in dropped]
        text = "\n\n".join(body).strip()
        if text:
            chapters.append(Chapter(title=heading, text=text))
    if not chapters:
        raise BookError("the page has no text")
    return Book(title=title, author="", chapters=chapters)
