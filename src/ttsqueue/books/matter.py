"""Front and back matter of an EPUB: the pages a listener does not want read aloud.

A spine document is matter when the book says so — an EPUB 2 ``<guide>`` reference,
an EPUB 3 landmark (``<nav epub:type="landmarks">``), an ``epub:type`` (or DPUB-ARIA
``role="doc-…"``) on its ``<body>`` or first ``<section>`` — or when its title in the
table of contents, or its first heading, is one such page's usual heading ("Contents",
"Copyright", "Index", "Acknowledgements", "About the Author", "Also by …"). Near the
start of the book, a page that is only an image is the cover, and a short page that
only repeats the book's title is the title page.

Preface, foreword, introduction, prologue, epilogue, afterword and notes are read.

Only the first and last :data:`PROBED` documents are opened for their markup (front and
back matter sit there), and only their first :data:`PROBE_BYTES`: classifying costs a
bounded amount of work per book beside reading it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import unquote
from xml.etree import ElementTree

PROBED = 8  # documents at each end of the spine whose markup is looked at
PROBE_BYTES = 64 * 1024
SHORT_PAGE_CHARS = 300  # a title page holds no more text than this

COVER = "cover"
TITLE_PAGE = "title page"
COPYRIGHT = "copyright"
CONTENTS = "contents"
INDEX = "index"
ACKNOWLEDGEMENTS = "acknowledgements"
ABOUT_THE_AUTHOR = "about the author"
ALSO_BY = "also by"
COLOPHON = "colophon"
LIST = "list of illustrations or tables"

# epub:type values (EPUB 3 Structural Semantics), EPUB 2 guide types and DPUB-ARIA
# roles without their "doc-" prefix → kind.
SEMANTIC_TYPES = {
    "cover": COVER,
    "titlepage": TITLE_PAGE,
    "title-page": TITLE_PAGE,
    "halftitlepage": TITLE_PAGE,
    "copyright-page": COPYRIGHT,
    "imprint": COPYRIGHT,
    "colophon": COLOPHON,
    "toc": CONTENTS,
    "landmarks": CONTENTS,
    "index": INDEX,
    "acknowledgments": ACKNOWLEDGEMENTS,
    "acknowledgements": ACKNOWLEDGEMENTS,
    "loi": LIST,
    "lot": LIST,
}
HEADINGS = {
    "cover": COVER,
    "title page": TITLE_PAGE,
    "copyright": COPYRIGHT,
    "copyright page": COPYRIGHT,
    "contents": CONTENTS,
    "table of contents": CONTENTS,
    "index": INDEX,
    "acknowledgements": ACKNOWLEDGEMENTS,
    "acknowledgments": ACKNOWLEDGEMENTS,
    "acknowledgement": ACKNOWLEDGEMENTS,
    "acknowledgment": ACKNOWLEDGEMENTS,
    "about the author": ABOUT_THE_AUTHOR,
    "about the authors": ABOUT_THE_AUTHOR,
    "colophon": COLOPHON,
    "list of illustrations": LIST,
    "list of figures": LIST,
    "list of tables": LIST,
}
HEADING_PREFIXES = {"also by ": ALSO_BY, "other books by ": ALSO_BY, "books by ": ALSO_BY}
_NOT_LETTERS = re.compile(r"[^\w ]|[\d_]")
_MAX_HEADING = 200


def heading_kind(heading: str) -> str | None:
    """The kind of page a heading names, if it names one."""
    words = " ".join(_NOT_LETTERS.sub(" ", heading[:_MAX_HEADING].casefold()).split())
    if words in HEADINGS:
        return HEADINGS[words]
    return next((k for p, k in HEADING_PREFIXES.items() if words.startswith(p)), None)


def semantic_kind(types: str) -> str | None:
    """The kind named by a space-separated ``epub:type``/``role``/guide ``type`` value."""
    for value in types.casefold().split():
        value = value.rsplit(":", 1)[-1].removeprefix("doc-")
        if value in SEMANTIC_TYPES:
            return SEMANTIC_TYPES[value]
    return None


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _resolve(base: str, href: str) -> str:
    href = unquote(href.split("#", 1)[0])
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), href)).lstrip("/")


def guide(package: ElementTree.Element, opf_path: str) -> dict[str, str]:
    """EPUB 2 ``<guide>`` references to matter: document path → kind."""
    found: dict[str, str] = {}
    for element in package.iter():
        if _local(element.tag) == "reference" and element.get("href"):
            kind = semantic_kind(element.get("type", ""))
            if kind:
                found.setdefault(_resolve(opf_path, element.get("href", "")), kind)
    return found


def landmarks(nav: ElementTree.Element, nav_path: str) -> dict[str, str]:
    """EPUB 3 landmarks to matter: document path → kind."""
    found: dict[str, str] = {}
    for element in nav.iter():
        if _local(element.tag) != "nav" or "landmarks" not in _types(element).split():
            continue
        for link in element.iter():
            if _local(link.tag) == "a" and link.get("href"):
                kind = semantic_kind(_types(link))
                if kind:
                    found.setdefault(_resolve(nav_path, link.get("href", "")), kind)
    return found


def _types(element: ElementTree.Element) -> str:
    return " ".join(v for k, v in element.attrib.items() if _local(k) == "type")


@dataclass(slots=True)
class Probe:
    """What the start of a document shows: its declared types, first heading, text
    length and whether it has an image."""

    types: list[str] = field(default_factory=list)
    heading: str = ""
    text_chars: int = 0
    images: int = 0


class _Prober(HTMLParser):
    _SKIP = frozenset(("script", "style", "head", "title"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.probe = Probe()
        self._sections = 0
        self._skip = 0
        self._heading: list[str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "body" or (tag == "section" and self._sections == 0):
            self._sections += tag == "section"
            for name in ("epub:type", "role"):
                if values.get(name):
                    self.probe.types.append(str(values[name]))
        elif tag in ("img", "svg", "image"):
            self.probe.images += 1
        elif tag in ("h1", "h2", "h3") and not self.probe.heading and self._heading is None:
            self._heading = []
        if tag in self._SKIP:
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in ("h1", "h2", "h3") and self._heading is not None:
            self.probe.heading = " ".join("".join(self._heading).split())[:_MAX_HEADING]
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._heading is not None:
            self._heading.append(data)
        if self.probe.text_chars <= SHORT_PAGE_CHARS:
            self._text.append(data)
        self.probe.text_chars += len("".join(data.split()))

    def text(self) -> str:
        return " ".join(" ".join(self._text).split())


def probe(markup: str) -> tuple[Probe, str]:
    """The probe of a document's first :data:`PROBE_BYTES`, and its text when short."""
    parser = _Prober()
    parser.feed(markup[:PROBE_BYTES])
    return parser.probe, parser.text()


def _normal(text: str) -> str:
    return " ".join(_NOT_LETTERS.sub(" ", text.casefold()).split())


def kinds(
    spine: Sequence[str],
    *,
    declared: dict[str, str],
    titles: dict[str, str],
    read: Callable[[str], str],
    book_title: str,
) -> dict[str, str]:
    """Which spine documents (paths, in reading order) are matter: path → kind.

    ``declared`` holds the guide's and landmarks' kinds by path, ``titles`` each
    document's title in the table of contents, ``read`` returns a document's markup.
    """
    found: dict[str, str] = {}
    ends = set(range(min(PROBED, len(spine)))) | set(range(max(0, len(spine) - PROBED), len(spine)))
    for index, path in enumerate(spine):
        kind = declared.get(path) or (heading_kind(titles[path]) if path in titles else None)
        if kind is None and index in ends:
            page, text = probe(read(path))
            kind = next((k for t in page.types if (k := semantic_kind(t))), None)
            kind = kind or heading_kind(page.heading)
            if kind is None and index < 3:
                kind = _cover_or_title(page, text, book_title)
        if kind:
            found[path] = kind
    return found


def _cover_or_title(page: Probe, text: str, book_title: str) -> str | None:
    if page.images and page.text_chars <= 20:
        return COVER
    title = _normal(book_title)
    if title and page.text_chars <= SHORT_PAGE_CHARS and _normal(text).startswith(title):
        return TITLE_PAGE
    return None
