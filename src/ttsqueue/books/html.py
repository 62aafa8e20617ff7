"""(X)HTML to plain text for reading aloud: paragraphs kept, scripts and styles dropped."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser

_BLOCKS = frozenset(
    "address article aside blockquote body caption dd div dl dt figcaption figure footer "
    "h1 h2 h3 h4 h5 h6 header hr li main ol p pre section table tbody td th thead tr ul".split()
)
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
_SKIPPED = frozenset(("script", "style", "head", "title", "svg", "math", "noscript", "template"))
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())


@dataclass(slots=True)
class Document:
    paragraphs: list[str] = field(default_factory=list)
    heading: str = ""  # the text of the first h1..h6
    anchors: list[tuple[int, str]] = field(default_factory=list)  # (paragraph index, id)

    def split_at_anchors(self) -> list[tuple[str, list[str]]]:
        """The paragraphs cut at each anchor: [("", before the first), (id, after it), …]."""
        cuts = [(0, ""), *self.anchors, (len(self.paragraphs), "")]
        return [
            (anchor, self.paragraphs[start:end])
            for (start, anchor), (end, _) in itertools.pairwise(cuts)
        ]


class _Extractor(HTMLParser):
    def __init__(self, anchors: set[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.document = Document()
        self._wanted = set(anchors)  # its own copy: found ids are dropped from it
        self._line: list[str] = []  # the paragraph being read
        self._lines: list[str] = []  # its earlier lines (split by <br>)
        self._skip: list[str] = []  # open elements whose content is dropped
        self._skipping: Counter[str] = Counter()  # the same, for membership in O(1)
        self._heading: list[str] | None = None
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip:
            if tag not in _VOID:
                self._push_skip(tag)
            return
        if tag in _SKIPPED:
            self._push_skip(tag)
            return
        if tag in _BLOCKS:
            self._end_paragraph()
        elif tag == "br":
            self._end_line()
        for name, value in attrs:
            if name in ("id", "name") and value in self._wanted:
                self._end_paragraph()
                self.document.anchors.append((len(self.document.paragraphs), value))
                self._wanted.discard(value)
        if tag in _HEADINGS and not self.document.heading:
            self._heading = []
        if tag == "pre":
            self._pre += 1

    def _push_skip(self, tag: str) -> None:
        self._skip.append(tag)
        self._skipping[tag] += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            if self._skipping[tag]:
                while self._skip:
                    popped = self._skip.pop()
                    self._skipping[popped] -= 1
                    if popped == tag:
                        break
            return
        if tag in _HEADINGS and self._heading is not None:
            self.document.heading = " ".join("".join(self._heading).split())
            self._heading = None
        if tag == "pre":
            self._pre = max(self._pre - 1, 0)
        if tag in _BLOCKS:
            self._end_paragraph()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre and "\n" in data:
            first, *rest = data.split("\n")
            self._line.append(first)
            for line in rest:
                self._end_line()
                self._line.append(line)
        else:
            self._line.append(data)
        if self._heading is not None:
            self._heading.append(data)

    def _end_line(self) -> None:
        line = " ".join("".join(self._line).split())
        if line:
            self._lines.append(line)
        self._line = []

    def _end_paragraph(self) -> None:
        self._end_line()
        if self._lines:
            self.document.paragraphs.append("\n".join(self._lines))
        self._lines = []

    def close(self) -> None:
        super().close()
        self._end_paragraph()


def _close_safe(html: str) -> str:
    """``html`` with every ``<`` after the last ``>`` written as ``&lt;``.

    The standard library's parser, at the end of the input, rescans from each ``<`` that
    starts no complete tag to the end of the text: quadratic in a run such as
    ``<a <a <a``. Such a ``<`` is read as text either way; escaped, it is text at once.
    """
    last = html.rfind(">")
    tail = html[last + 1 :]
    return html[: last + 1] + tail.replace("<", "&lt;") if "<" in tail else html


def html_to_paragraphs(html: str, anchors: set[str] | None = None) -> Document:
    """The text of ``html`` as paragraphs, noting where the elements with ``anchors``
    as their id start (a table of contents can point into the middle of a document)."""
    extractor = _Extractor(anchors or set())
    extractor.feed(_close_safe(html))
    extractor.close()
    return extractor.document


def html_to_text(html: str) -> str:
    """Plain text: one blank line between paragraphs."""
    return "\n\n".join(html_to_paragraphs(html).paragraphs)
