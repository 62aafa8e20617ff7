"""Front and back matter (cover, title page, copyright, contents, index,
acknowledgements, about the author) is recognised and left out; the book is kept."""

from __future__ import annotations

import pytest

from tests.books.epub_builder import CH1, CH3, OPF, build_epub, chapter
from ttsqueue.books import parse_book, parse_epub
from ttsqueue.books.matter import heading_kind, probe, semantic_kind

MANIFEST_END = "  </manifest>"
SPINE = """  <spine toc="ncx">
    <itemref idref="nav" linear="no"/>
    <itemref idref="cover"/>
    <itemref idref="title"/>
    <itemref idref="copy"/>
    <itemref idref="contents"/>
    <itemref idref="preface"/>
    <itemref idref="c1"/>
    <itemref idref="c3"/>
    <itemref idref="thanks"/>
    <itemref idref="about"/>
    <itemref idref="index"/>
  </spine>"""
ITEMS = "".join(
    f'    <item id="{i}" href="text/{i}.xhtml" media-type="application/xhtml+xml"/>\n'
    for i in ("cover", "title", "copy", "contents", "preface", "thanks", "about", "index")
)
GUIDE = """  <guide>
    <reference type="copyright-page" href="text/copy.xhtml" title="Copyright"/>
    <reference type="text" href="text/ch1.xhtml" title="Start"/>
  </guide>"""

NAV = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<body>
  <nav epub:type="toc"><ol>
    <li><a href="text/preface.xhtml">Preface</a></li>
    <li><a href="text/ch1.xhtml">Chapter 1: The Storm</a></li>
    <li><a href="text/ch3.xhtml">Epilogue</a></li>
    <li><a href="text/about.xhtml">About the Author</a></li>
  </ol></nav>
  <nav epub:type="landmarks"><ol>
    <li><a epub:type="toc" href="text/contents.xhtml">Table of Contents</a></li>
    <li><a epub:type="bodymatter" href="text/ch1.xhtml">Start</a></li>
  </ol></nav>
</body></html>"""

DOCS = {
    "cover": chapter('<div><img src="../images/cover.png" alt="Cover"/></div>'),
    "title": chapter("<h1>The Lighthouse</h1><p>Ann Writer</p><p>Harbour Press</p>"),
    "copy": chapter("<p>Copyright 2011 Ann Writer. All rights reserved.</p>"),
    "contents": chapter("<p>Chapter 1 ... 3</p><p>Epilogue ... 9</p>"),
    "preface": chapter("<h1>Preface</h1><p>Why I wrote this.</p>"),
    "thanks": chapter(
        '<body epub:type="backmatter acknowledgments" xmlns:epub="x"><p>My thanks.</p></body>'
    ),
    "about": chapter("<p>Ann lives by the sea.</p>"),
    "index": chapter("<h2>Index</h2><p>lamp, 3; storm, 1</p>"),
}


def matter_epub() -> bytes:
    opf = (
        OPF.format(cover_props="").replace(MANIFEST_END, ITEMS + MANIFEST_END).split("  <spine")[0]
        + SPINE
        + "\n"
        + GUIDE
        + "\n</package>"
    )
    extra = {"OEBPS/content.opf": opf}
    extra.update({f"OEBPS/text/{name}.xhtml": html for name, html in DOCS.items()})
    return build_epub(extra=extra, nav=NAV, ncx=None)


def test_front_and_back_matter_is_left_out_by_default() -> None:
    book = parse_epub(matter_epub())
    assert [c.title for c in book.chapters] == ["Preface", "Chapter 1: The Storm", "Epilogue"]
    assert "Why I wrote this." in book.chapters[0].text
    assert [kind for _, kind in book.skipped] == [
        "cover",
        "title page",
        "copyright",
        "contents",
        "acknowledgements",
        "about the author",
        "index",
    ]
    assert ("About the Author", "about the author") in book.skipped


def test_read_matter_keeps_every_page() -> None:
    book = parse_book("b.epub", matter_epub(), read_matter=True)
    texts = " ".join(c.text for c in book.chapters)
    for words in ("All rights reserved", "Epilogue ... 9", "My thanks", "Ann lives", "lamp, 3"):
        assert words in texts
    assert book.skipped == []


def test_a_book_that_looks_all_matter_is_read_whole() -> None:
    docs = (chapter("<h1>Index</h1><p>a</p>"), chapter("<h1>Contents</h1><p>b</p>"), CH3)
    book = parse_epub(build_epub(nav=None, ncx=None, chapters=(docs[0], docs[1], docs[0])))
    assert len(book.chapters) >= 1
    assert book.skipped == []


def test_a_document_the_toc_points_into_is_kept() -> None:
    # ch 2 holds an anchor the table of contents names: not skipped even with a heading
    ch2 = chapter('<h1>Copyright</h1><p>Front.</p><h2 id="start">Two</h2><p>Calm sea.</p>')
    book = parse_epub(build_epub(chapters=(CH1, ch2, CH3)))
    assert "Calm sea." in " ".join(c.text for c in book.chapters)


@pytest.mark.parametrize(
    ("heading", "kind"),
    [
        ("Contents", "contents"),
        ("TABLE OF CONTENTS", "contents"),
        ("Acknowledgments", "acknowledgements"),
        ("About the Author", "about the author"),
        ("Also by Ann Writer", "also by"),
        ("Index", "index"),
        ("Copyright © 2011", "copyright"),
        ("Chapter 1: Contents of the Box", None),
        ("Preface", None),
        ("Prologue", None),
        ("", None),
    ],
)
def test_heading_kind(heading: str, kind: str | None) -> None:
    assert heading_kind(heading) == kind


def test_semantic_kinds_from_epub_type_guide_and_roles() -> None:
    assert semantic_kind("frontmatter titlepage") == "title page"
    assert semantic_kind("doc-toc") == "contents"
    assert semantic_kind("copyright-page") == "copyright"
    assert semantic_kind("frontmatter preface") is None
    assert semantic_kind("bodymatter chapter") is None


def test_probe_reads_only_the_start_of_a_document() -> None:
    page, _ = probe("<body><h1>" + "x" * 200_000 + "</h1></body>")
    assert page.heading == ""  # the heading never closed within the probe
    page, text = probe('<section epub:type="index"><h2>Index</h2><p>a, 1</p></section>')
    assert page.types == ["index"] and page.heading == "Index" and text == "Index a, 1"
