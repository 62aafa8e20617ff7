"""EPUB 2 and 3 books, read with the standard library only.

Chapters follow the spine; titles come from the table of contents (``nav.xhtml`` or
``toc.ncx``), else the document's first heading. A spine document the table of contents
does not name continues the chapter before it (e-book tools split long chapters into
several files), and a table-of-contents entry pointing into the middle of a document
(``chapter.xhtml#part2``) starts a chapter there.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from dataclasses import dataclass, field
from urllib.parse import unquote
from xml.etree import ElementTree

from ttsqueue.models import Chapter

from .html import html_to_paragraphs
from .model import Book, BookError

_MAX_MEMBER_BYTES = 64 * 1024 * 1024  # one file inside the archive, uncompressed
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


def parse_epub(data: bytes) -> Book:
    """Read an EPUB (bytes of the .epub file) into a :class:`Book`."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise BookError("this is not a valid EPUB file (it is not a ZIP archive)") from exc
    with archive:
        try:
            return _read(archive)
        except BookError:
            raise
        except (ElementTree.ParseError, KeyError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
            raise BookError(f"this EPUB file is damaged and cannot be read ({exc})") from exc


def _read(archive: zipfile.ZipFile) -> Book:
    _refuse_drm(archive)
    opf_path = _rootfile(archive)
    package = _package(archive, opf_path)
    toc = _toc(archive, package)
    chapters = _chapters(archive, package, toc)
    if not chapters:
        raise BookError("the book has no text")
    cover = _cover(package)
    return Book(
        title=package.title,
        author=package.author,
        chapters=chapters,
        cover=_member(archive, cover.path) if cover else None,
        cover_mime=cover.media_type if cover else None,
    )


def _member(archive: zipfile.ZipFile, path: str) -> bytes:
    try:
        info = archive.getinfo(path)
    except KeyError:
        raise BookError(f"this EPUB file is damaged: {path!r} is missing") from None
    if info.file_size > _MAX_MEMBER_BYTES:
        raise BookError(f"this EPUB contains a file that is too large ({path!r})")
    return archive.read(info)


def _xml(archive: zipfile.ZipFile, path: str) -> ElementTree.Element:
    return ElementTree.fromstring(_member(archive, path))


def _local(tag: object) -> str:
    """An element's name without its namespace."""
    return str(tag).rsplit("}", 1)[-1]


def _find_all(element: ElementTree.Element, name: str) -> list[ElementTree.Element]:
    return [e for e in element.iter() if _local(e.tag) == name]


def _text(element: ElementTree.Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _refuse_drm(archive: zipfile.ZipFile) -> None:
    names = set(archive.namelist())
    if "META-INF/rights.xml" in names:
        raise BookError("this EPUB is protected by DRM and cannot be read")
    if "META-INF/encryption.xml" in names:
        root = _xml(archive, "META-INF/encryption.xml")
        for method in _find_all(root, "EncryptionMethod"):
            algorithm = method.get("Algorithm", "")
            if "obfuscation" not in algorithm and "font" not in algorithm:
                raise BookError("this EPUB is protected by DRM and cannot be read")


def _rootfile(archive: zipfile.ZipFile) -> str:
    if _CONTAINER not in archive.namelist():
        raise BookError("this EPUB file is damaged: META-INF/container.xml is missing")
    for rootfile in _find_all(_xml(archive, _CONTAINER), "rootfile"):
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


def _package(archive: zipfile.ZipFile, opf_path: str) -> _Package:
    root = _xml(archive, opf_path)
    package = _Package()
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
    for spine in _find_all(root, "spine"):
        package.ncx = package.items.get(spine.get("toc", ""))
        for ref in _find_all(spine, "itemref"):
            spine_item = package.items.get(ref.get("idref", ""))
            if spine_item is None:
                raise BookError("this EPUB file is damaged: its spine names a missing file")
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


def _toc(archive: zipfile.ZipFile, package: _Package) -> _Toc:
    """The EPUB 3 navigation document's table of contents, else the EPUB 2 NCX one.

    A missing or broken table of contents is not fatal: titles then come from headings.
    """
    nav = next((i for i in package.items.values() if "nav" in i.properties), None)
    for item, read in ((nav, _nav_toc), (package.ncx, _ncx_toc)):
        if item is None or item.path not in archive.namelist():
            continue
        try:
            toc = read(_xml(archive, item.path), item.path)
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
        label = next(iter(_find_all(point, "text")), None)
        content = next((e for e in point if _local(e.tag) == "content"), None)
        if label is not None and content is not None and content.get("src"):
            title = _text(label)
            if title:
                toc.setdefault(_target(path, content.get("src", "")), title)
    return toc


def _chapters(archive: zipfile.ZipFile, package: _Package, toc: _Toc) -> list[Chapter]:
    chapters: list[Chapter] = []
    documents = [
        i for i in package.spine if i.media_type in _XHTML_TYPES and "nav" not in i.properties
    ]
    for item in documents:
        anchors = {fragment: title for (path, fragment), title in toc.items() if path == item.path}
        document = html_to_paragraphs(_decode(_member(archive, item.path)), set(anchors) - {""})
        sections = document.split_at_anchors()
        for index, (anchor, paragraphs) in enumerate(sections):
            text = "\n\n".join(paragraphs)
            title = anchors.get(anchor) if anchor else anchors.get("")
            if title is None and index == 0 and not toc and document.heading:
                title = document.heading  # no table of contents: the first heading
            if title is None and chapters:
                if text:  # a continuation of the chapter before
                    last = chapters[-1]
                    joined = f"{last.text}\n\n{text}" if last.text else text
                    chapters[-1] = Chapter(title=last.title, text=joined)
                continue
            chapters.append(Chapter(title=title or document.heading or "", text=text))
    return [c for c in chapters if c.text]


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig", errors="replace")
