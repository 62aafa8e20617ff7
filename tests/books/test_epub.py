from __future__ import annotations

import pytest

from tests.books.epub_builder import CH1, CH3, NAV, PNG, build_epub, chapter
from ttsqueue.books import BookError, parse_book, parse_epub
from ttsqueue.books.html import html_to_text

TEXT_1 = "One\n\nThe wind rose, then fell.\n\nCafé & tea.\nA new line."


def test_epub_chapters_titles_metadata_and_cover() -> None:
    book = parse_epub(build_epub())
    assert book.title == "The Lighthouse"
    assert book.author == "Ann Writer, Bo Second"
    assert book.cover == PNG
    assert book.cover_mime == "image/png"
    assert [(c.title, c.text) for c in book.chapters] == [
        ("Chapter 1: The Storm", TEXT_1 + "\n\nFront matter in the same file."),
        ("Chapter 2: Calm", "Two\n\nCalm sea."),
        ("Epilogue", "The End\n\none\n\ntwo"),
    ]


def test_epub2_toc_ncx_and_cover_meta() -> None:
    book = parse_epub(build_epub(nav=None, cover_props=""))
    assert [c.title for c in book.chapters] == ["NCX One", "NCX Two", "NCX Three"]
    assert book.cover == PNG  # from <meta name="cover" content="cover-img"/>


def test_without_a_table_of_contents_titles_are_the_first_headings() -> None:
    book = parse_epub(build_epub(nav=None, ncx=None))
    assert [c.title for c in book.chapters] == ["One", "Two", "The End"]
    assert book.chapters[1].text == "Front matter in the same file.\n\nTwo\n\nCalm sea."


def test_a_spine_document_missing_from_the_toc_continues_the_chapter_before() -> None:
    nav = NAV.replace('<li><a href="text/ch3.xhtml">Epilogue</a></li>', "")
    book = parse_epub(build_epub(nav=nav, ncx=None))
    assert [c.title for c in book.chapters] == ["Chapter 1: The Storm", "Chapter 2: Calm"]
    assert book.chapters[1].text.endswith("Calm sea.\n\nThe End\n\none\n\ntwo")


def test_a_broken_table_of_contents_falls_back_to_the_ncx() -> None:
    book = parse_epub(build_epub(nav="<html><nav><ol><li><a href="))
    assert [c.title for c in book.chapters] == ["NCX One", "NCX Two", "NCX Three"]


def test_empty_documents_are_not_chapters() -> None:
    book = parse_epub(build_epub(chapters=(CH1, chapter("<p>  </p>"), CH3)))
    assert [c.title for c in book.chapters] == ["Chapter 1: The Storm", "Epilogue"]


def test_parse_book_reads_epub_by_extension() -> None:
    book = parse_book("Lighthouse.EPUB", build_epub())
    assert book.title == "The Lighthouse"
    assert len(book.chapters) == 3


def test_html_to_text_keeps_paragraphs_and_drops_scripts() -> None:
    html = (
        "<html><head><title>T</title><style>x{}</style></head><body>"
        "<p>a <i>b</i></p><script>var s = '<p>no</p>';</script><div>c<br>d</div>"
        "<pre>x\ny</pre><p>&lt;tag&gt; &#8212; done</p></body></html>"
    )
    assert html_to_text(html) == "a b\n\nc\nd\n\nx\ny\n\n<tag> \u2014 done"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"plain text, not a zip", "not a ZIP archive"),
        (build_epub(drop=("META-INF/container.xml",)), "container.xml is missing"),
        (build_epub(drop=("OEBPS/content.opf",)), "content.opf' is missing"),
        (build_epub(drop=("OEBPS/text/ch3.xhtml",)), "ch3.xhtml' is missing"),
        (build_epub(extra={"OEBPS/content.opf": "<package><spine>"}), "damaged"),
        (build_epub(chapters=(chapter(""),) * 3), "no text"),
        (
            build_epub(
                extra={
                    "META-INF/encryption.xml": "<encryption><EncryptedData><EncryptionMethod "
                    'Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
                    "</EncryptedData></encryption>"
                }
            ),
            "DRM",
        ),
    ],
)
def test_broken_epubs_are_book_errors(data: bytes, message: str) -> None:
    with pytest.raises(BookError, match=message):
        parse_epub(data)
