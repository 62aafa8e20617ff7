"""EPUB 2 and 3 books, read with the standard library only.

Chapters follow the spine; titles come from the table of contents (``nav.xhtml`` or
``toc.ncx``), else the document's first heading. A spine document the table of contents
does not name continues the chapter before it (e-book tools split long chapters into
several files), and a table-of-contents entry pointing into the middle of a document
(``chapter.xhtml#part2``) starts a chapter there.

Every limit is checked before or while the bytes are read, never after: the number of
files in the archive, each file's size (declared, and counted while it is inflated), the
total inflated, the spine's length, the nesting depth of the XML files, and the text the
book holds. A spine that names a document twice is refused (the EPUB rules forbid it, and
it would read the same document again for each mention).
"""

from __future__ import annotations

import io
import lzma
import posixpath
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from urllib.parse import unquote
from xml.etree import ElementTree

from ttsqueue.bookinfo import BookInfo
from ttsqueue.models import Chapter

from . import matter
from .html import html_to_paragraphs
from .model import Book, BookError
from .opf import book_info

MAX_FILES = 10_000  # files in the archive
MAX_MEMBER_BYTES = 8 * 1024 * 1024  # one file inside the archive, inflated
MAX_TOTAL_BYTES = 64 * 1024 * 1024  # everything read from the archive, inflated
MAX_SPINE = 5_000  # documents in the reading order
MAX_XML_DEPTH = 100  # nesting of the package, container and table-of-contents files
MAX_COVER_BYTES = 10 * 1024 * 1024  # a larger cover is left out, the book still reads
# With a limit on a book's characters, its documents may hold this many bytes of XHTML
# per character, in all: parsing markup costs time even where it holds no text.
DOCUMENT_BYTES_PER_CHAR = 4
_READ_CHUNK = 64 * 1024
# What the standard library raises for a damaged archive, or one it cannot read.
_BROKEN: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,  # a compression method or zip version zipfile does not have
    RuntimeError,  # an encrypted member
    ValueError,
    EOFError,
    OSError,
    zlib.error,  # corrupt deflated data
    lzma.LZMAError,
    struct.error,
)
_DAMAGED: tuple[type[Exception], ...] = (*_BROKEN, ElementTree.ParseError, KeyError)
_CONTAINER = "META-INF/container.xml"
_XHTML_TYPES = ("application/xhtml+xml", "text/html", "application/xml")


@dataclass(frozen=True, slots=True)
class _Item:
    id: str
    path: str  # inside the archive
    media_type: str
    properties: frozenset[str]


@dataclass(slots=True)
class _Package:
    title: str = ""
    author: str = ""
    items: dict[str, _Item] = field(default_factory=dict)
    spine: list[_Item] = field(default_factory=list)
    ncx: _Item | None = None
    cover_id: str | None = None  # EPUB 2 <meta name="cover" content="id">
    info: BookInfo = field(default_factory=BookInfo)
    guide: dict[str, str] = field(default_factory=dict)  # EPUB 2 guide: path → matter kind


class _Archive:
    """The zip file, read within the limits: no file over ``MAX_MEMBER_BYTES`` and no
    more than ``MAX_TOTAL_BYTES`` in all, counted while inflating (a file may lie about
    its size in the directory)."""

    def __init__(self, zip_file: zipfile.ZipFile) -> None:
        self.zip = zip_file
        self.names = frozenset(zip_file.namelist())
        self.total = 0

    def read(self, path: str, limit: int = MAX_MEMBER_BYTES) -> bytes:
        try:
            info = self.zip.getinfo(path)
        except KeyError:
            raise BookError(f"this EPUB file is damaged: {path!r} is missing") from None
        if info.file_size > limit:
            raise BookError(
                f"this EPUB contains a file that is too large ({path!r}: over "
                f"{limit // (1024 * 1024)} MiB)"
            )
        pieces: list[bytes] = []
        size = 0
        with self.zip.open(info) as member:
            while piece := member.read(_READ_CHUNK):
                size += len(piece)
                self.total += len(piece)
                if size > limit:
                    raise BookError(f"this EPUB contains a file that is too large ({path!r})")
                if self.total > MAX_TOTAL_BYTES:
                    raise BookError(
                        f"this EPUB holds more than {MAX_TOTAL_BYTES // (1024 * 1024)} MiB "
                        "of text and images"
                    )
                pieces.append(piece)
        return b"".join(pieces)

    def xml(self, path: str) -> ElementTree.Element:
        return parse_xml(self.read(path), path)


def parse_xml(data: bytes, path: str) -> ElementTree.Element:
    """An XML file's root, refusing entity declarations and nesting deeper than
    ``MAX_XML_DEPTH`` while it is parsed."""
    if b"<!ENTITY" in data:
        raise BookError(f"this EPUB file is damaged: {path!r} declares XML entities")
    parser: ElementTree.XMLPullParser[ElementTree.Element] = ElementTree.XMLPullParser(
        events=("start", "end")
    )
    root: ElementTree.Element | None = None
    depth = 0
    for start in range(0, max(len(data), 1), _READ_CHUNK):
        parser.feed(data[start : start + _READ_CHUNK])
        for event, element in parser.read_events():  # type: ignore[misc]
            if event == "start":
                depth += 1
                if depth > MAX_XML_DEPTH:
                    raise BookError(
                        f"this EPUB file is damaged: {path!r} nests elements more than "
                        f"{MAX_XML_DEPTH} deep"
                    )
                if root is None:
                    root = element  # type: ignore[assignment]
            else:
                depth -= 1
    parser.close()
    if root is None:
        raise ElementTree.ParseError("no element found")
    return root


def parse_epub(data: bytes, *, max_chars: int | None = None, read_matter: bool = False) -> Book:
    """Read an EPUB (bytes of the .epub file) into a :class:`Book`; with ``max_chars``,
    refuse a book holding more text, as soon as the documents read so far hold more.
    Front and back matter (:mod:`ttsqueue.books.matter`) is left out unless
    ``read_matter``."""
    try:
        zip_file = zipfile.ZipFile(io.BytesIO(data))
    except _BROKEN as exc:
        raise BookError("this is not a valid EPUB file (it is not a ZIP archive)") from exc
    with zip_file:
        if len(zip_file.infolist()) > MAX_FILES:
            raise BookError(f"this EPUB holds more than {MAX_FILES} files")
        try:
            return _read(_Archive(zip_file), max_chars, read_matter)
        except BookError:
            raise
        except _DAMAGED as exc:
            raise BookError(f"this EPUB file is damaged and cannot be read ({exc})") from exc


def _read(archive: _Archive, max_chars: int | None, read_matter: bool) -> Book:
    _refuse_drm(archive)
    opf_path = _rootfile(archive)
    package = _package(archive, opf_path)
    toc = _toc(archive, package)
    skipped = [] if read_matter else _skip_matter(archive, package, toc)
    chapters = _chapters(archive, package, toc, max_chars)
    if not chapters:
        raise BookError("the book has no text")
    cover = _cover(package)
    cover_data = None
    if cover is not None and cover.path in archive.names:
        info = archive.zip.getinfo(cover.path)
        if info.file_size <= MAX_COVER_BYTES:
            cover_data = archive.read(cover.path, MAX_COVER_BYTES)
    return Book(
        title=package.title,
        author=package.author,
        chapters=chapters,
        cover=cover_data,
        cover_mime=cover.media_type if cover_data is not None and cover else None,
        info=package.info,
        skipped=skipped,
    )


def _local(tag: object) -> str:
    """An element's name without its namespace."""
    return str(tag).rsplit("}", 1)[-1]


def _find_all(element: ElementTree.Element, name: str) -> list[ElementTree.Element]:
    return [e for e in element.iter() if _local(e.tag) == name]


def _text(element: ElementTree.Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _refuse_drm(archive: _Archive) -> None:
    if "META-INF/rights.xml" in archive.names:
        raise BookError("this EPUB is protected by DRM and cannot be read")
    if "META-INF/encryption.xml" in archive.names:
        root = archive.xml("META-INF/encryption.xml")
        for method in _find_all(root, "EncryptionMethod"):
            algorithm = method.get("Algorithm", "")
            if "obfuscation" not in algorithm and "font" not in algorithm:
                raise BookError("this EPUB is protected by DRM and cannot be read")


def _rootfile(archive: _Archive) -> str:
    if _CONTAINER not in archive.names:
        raise BookError("this EPUB file is damaged: META-INF/container.xml is missing")
    for rootfile in _find_all(archive.xml(_CONTAINER), "rootfile"):
        path = rootfile.get("full-path")
        if path and rootfile.get("media-type", "application/oebps-package+xml").endswith(
            "package+xml"
        ):
            return path
    raise BookError("this EPUB file is damaged: it names no package document")


def _resolve(base: str, href: str) -> str:
    """``href`` (relative to the document at ``base``) as a path in the archive."""
    href = unquote(href.split("#", 1)[0])
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), href)).lstrip("/")


def _package(archive: _Archive, opf_path: str) -> _Package:
    root = archive.xml(opf_path)
    package = _Package(info=book_info(root), guide=matter.guide(root, opf_path))
    for element in root.iter():
        name = _local(element.tag)
        if name == "title" and not package.title:
            package.title = _text(element)
        elif name == "meta" and element.get("name") == "cover":
            package.cover_id = element.get("content")
        elif name == "item" and element.get("id") and element.get("href"):
            item = _Item(
                id=element.get("id", ""),
                path=_resolve(opf_path, element.get("href", "")),
                media_type=element.get("media-type", ""),
                properties=frozenset(element.get("properties", "").split()),
            )
            package.items[item.id] = item
    creators = [_text(e) for e in _find_all(root, "creator")]
    package.author = ", ".join(c for c in creators if c)
    named: set[str] = set()
    for spine in _find_all(root, "spine"):
        package.ncx = package.items.get(spine.get("toc", ""))
        for ref in _find_all(spine, "itemref"):
            spine_item = package.items.get(ref.get("idref", ""))
            if spine_item is None:
                raise BookError("this EPUB file is damaged: its spine names a missing file")
            if spine_item.id in named:
                raise BookError(
                    f"this EPUB file is damaged: its spine names {spine_item.path!r} twice"
                )
            named.add(spine_item.id)
            if len(named) > MAX_SPINE:
                raise BookError(f"this EPUB has more than {MAX_SPINE} documents in its spine")
            if ref.get("linear", "yes") != "no":
                package.spine.append(spine_item)
    if not package.spine:
        raise BookError("this EPUB file is damaged: it has no reading order (spine)")
    if package.ncx is None:
        package.ncx = next(
            (i for i in package.items.values() if i.media_type == "application/x-dtbncx+xml"),
            None,
        )
    return package


def _cover(package: _Package) -> _Item | None:
    images = [i for i in package.items.values() if i.media_type.startswith("image/")]
    for item in images:
        if "cover-image" in item.properties:
            return item
    named = package.items.get(package.cover_id or "")
    if named is not None and named.media_type.startswith("image/"):
        return named
    return next((i for i in images if "cover" in i.id.lower() or "cover" in i.path), None)


# A table of contents: (document path, fragment or "") → title, in reading order.
_Toc = dict[tuple[str, str], str]


def _toc(archive: _Archive, package: _Package) -> _Toc:
    """The EPUB 3 navigation document's table of contents, else the EPUB 2 NCX one.

    A missing or broken table of contents is not fatal: titles then come from headings.
    """
    nav = next((i for i in package.items.values() if "nav" in i.properties), None)
    for item, read in ((nav, _nav_toc), (package.ncx, _ncx_toc)):
        if item is None or item.path not in archive.names:
            continue
        try:
            toc = read(archive.xml(item.path), item.path)
        except ElementTree.ParseError:
            continue
        if toc:
            return toc
    return {}


def _target(base: str, href: str) -> tuple[str, str]:
    fragment = href.split("#", 1)[1] if "#" in href else ""
    return _resolve(base, href), unquote(fragment)


def _nav_toc(root: ElementTree.Element, path: str) -> _Toc:
    navs = _find_all(root, "nav")
    toc_nav = next(
        (n for n in navs if any(v == "toc" for k, v in n.attrib.items() if _local(k) == "type")),
        navs[0] if navs else None,
    )
    toc: _Toc = {}
    for link in _find_all(toc_nav, "a") if toc_nav is not None else []:
        title, href = _text(link), link.get("href")
        if href and title:
            toc.setdefault(_target(path, href), title)
    return toc


def _ncx_toc(root: ElementTree.Element, path: str) -> _Toc:
    toc: _Toc = {}
    for point in _find_all(root, "navPoint"):  # document order = reading order
        # The label is a child's (not a nested navPoint's): each subtree is read once.
        labels = (e for e in point if _local(e.tag) == "navLabel")
        label = next((t for n in labels for t in _find_all(n, "text")), None)
        content = next((e for e in point if _local(e.tag) == "content"), None)
        if label is not None and content is not None and content.get("src"):
            title = _text(label)
            if title:
                toc.setdefault(_target(path, content.get("src", "")), title)
    return toc


def _skip_matter(archive: _Archive, package: _Package, toc: _Toc) -> list[tuple[str, str]]:
    """Take front and back matter out of the spine; the (title, kind) of each document
    taken out. A document the table of contents points into (``#fragment``) stays, and
    so does everything when every document looks like matter."""
    declared = dict(package.guide)
    nav = next((i for i in package.items.values() if "nav" in i.properties), None)
    if nav is not None and nav.path in archive.names:
        try:
            declared = {**matter.landmarks(archive.xml(nav.path), nav.path), **declared}
        except ElementTree.ParseError:
            pass
    titles = {path: title for (path, fragment), title in toc.items() if not fragment}
    anchored = {path for path, fragment in toc if fragment}
    documents = [
        i for i in package.spine if i.media_type in _XHTML_TYPES and "nav" not in i.properties
    ]
    kinds = matter.kinds(
        [i.path for i in documents if i.path not in anchored],
        declared=declared,
        titles=titles,
        read=lambda path: _probe(archive, path),
        book_title=package.title,
    )
    if all(i.path in kinds for i in documents):
        return []
    package.spine = [i for i in package.spine if i.path not in kinds]
    return [(titles.get(path) or kind, kind) for path, kind in kinds.items()]


def _probe(archive: _Archive, path: str) -> str:
    """The start of a document (what :func:`matter.probe` looks at), read without
    inflating the rest of it: a bounded amount of work however large the file."""
    if path not in archive.names:
        return ""
    with archive.zip.open(path) as member:
        data = member.read(matter.PROBE_BYTES)
    try:
        return _decode(data)
    except UnicodeDecodeError:
        return ""


def _chapters(
    archive: _Archive, package: _Package, toc: _Toc, max_chars: int | None
) -> list[Chapter]:
    # (title, paragraphs); a continuation adds to the last one's list, joined at the end
    chapters: list[tuple[str, list[str]]] = []
    documents = [
        i for i in package.spine if i.media_type in _XHTML_TYPES and "nav" not in i.properties
    ]
    by_path: dict[str, dict[str, str]] = {}
    for (path, fragment), toc_title in toc.items():
        by_path.setdefault(path, {})[fragment] = toc_title
    chars = 0
    budget = None if max_chars is None else DOCUMENT_BYTES_PER_CHAR * max_chars
    for item in documents:
        if budget is not None and item.path in archive.names:
            budget -= archive.zip.getinfo(item.path).file_size  # what it may inflate to
            if budget < 0:
                raise BookError(
                    f"the book's documents hold more than {DOCUMENT_BYTES_PER_CHAR} bytes "
                    f"of XHTML per character a book may hold ({max_chars})"
                )
        anchors = by_path.get(item.path, {})
        document = html_to_paragraphs(_decode(archive.read(item.path)), set(anchors) - {""})
        sections = document.split_at_anchors()
        for index, (anchor, paragraphs) in enumerate(sections):
            chars += sum(len(p) + 2 for p in paragraphs)
            if max_chars is not None and chars > max_chars:
                raise BookError(f"the book holds more than {max_chars} characters of text")
            title = anchors.get(anchor) if anchor else anchors.get("")
            if title is None and index == 0 and not toc and document.heading:
                title = document.heading  # no table of contents: the first heading
            if title is None and chapters:
                chapters[-1][1].extend(paragraphs)  # a continuation of the chapter before
                continue
            chapters.append((title or document.heading or "", list(paragraphs)))
    joined = [Chapter(title=title, text="\n\n".join(p)) for title, p in chapters]
    return [c for c in joined if c.text]


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig", errors="replace")
