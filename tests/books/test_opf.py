"""Book metadata (series, description, year, ...) read from an EPUB's package document."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from tests.books.epub_builder import OPF, build_epub
from ttsqueue.bookinfo import BookInfo
from ttsqueue.books import parse_epub
from ttsqueue.books.opf import book_info, description_text, series_position

DESCRIPTION = (
    "&lt;p&gt;A keeper &amp;amp; a &lt;i&gt;storm&lt;/i&gt;.&lt;/p&gt;&lt;p&gt;Then calm.&lt;/p&gt;"
)
EPUB3_META = f"""
    <dc:description>{DESCRIPTION}</dc:description>
    <dc:date>2011-06-15</dc:date>
    <dc:publisher>Harbour Press</dc:publisher>
    <dc:identifier>urn:isbn:978-0-316-12906-0</dc:identifier>
    <dc:subject>Fiction / Maritime</dc:subject>
    <dc:subject>Storms</dc:subject>
    <meta property="belongs-to-collection" id="c1">Lights of the Coast</meta>
    <meta refines="#c1" property="collection-type">series</meta>
    <meta refines="#c1" property="group-position">2.0</meta>
    <meta property="dcterms:modified">2020-01-01T00:00:00Z</meta>
"""

EPUB2_META = """
    <dc:date opf:event="modification" xmlns:opf="http://www.idpf.org/2007/opf">2019</dc:date>
    <dc:date opf:event="publication" xmlns:opf="http://www.idpf.org/2007/opf">1998-01-01</dc:date>
    <dc:identifier opf:scheme="ISBN" xmlns:opf="http://www.idpf.org/2007/opf">0-306-40615-2</dc:identifier>
    <meta name="calibre:series" content="Old Lights"/>
    <meta name="calibre:series_index" content="3.50"/>
"""


def epub_with(meta: str) -> bytes:
    opf = OPF.format(cover_props="").replace("<dc:language>en</dc:language>", meta)
    return build_epub(extra={"OEBPS/content.opf": opf})


def test_epub3_metadata_series_description_year_publisher_isbn_genre() -> None:
    book = parse_epub(epub_with("<dc:language>en-GB</dc:language>" + EPUB3_META))
    assert book.info == BookInfo(
        series="Lights of the Coast",
        series_position="2",
        description="A keeper & a storm.\n\nThen calm.",
        year=2011,
        publisher="Harbour Press",
        language="en-GB",
        isbn="9780316129060",
        genre="Fiction / Maritime",
    )


def test_epub2_calibre_series_publication_date_and_isbn_scheme() -> None:
    info = parse_epub(epub_with("<dc:language>fr</dc:language>" + EPUB2_META)).info
    assert (info.series, info.series_position) == ("Old Lights", "3.5")
    assert info.year == 1998  # the publication date, not the modification
    assert info.isbn == "0306406152"
    assert info.language == "fr"


def test_a_book_without_such_metadata_has_an_empty_info() -> None:
    info = parse_epub(build_epub()).info
    assert info == BookInfo(language="en")
    assert info.to_dict() == {"language": "en"}


def test_bad_values_are_left_out_or_cleaned_never_refused() -> None:
    meta = (
        "<dc:language>not a language tag!</dc:language>"
        "<dc:identifier>urn:isbn:9780316129061</dc:identifier>"  # wrong check digit
        "<dc:date>someday</dc:date>"
        "<dc:publisher>Bad\x7fPress</dc:publisher>"
        '<meta name="calibre:series" content="S"/><meta name="calibre:series_index" content="x"/>'
    )
    info = parse_epub(epub_with(meta)).info
    assert info == BookInfo(series="S", publisher="Bad Press")


def test_a_collection_that_is_not_a_series_is_not_the_series() -> None:
    meta = """<meta property="belongs-to-collection" id="s">Set</meta>
    <meta refines="#s" property="collection-type">set</meta>"""
    package = ElementTree.fromstring(
        f'<package xmlns="http://www.idpf.org/2007/opf"><metadata>{meta}</metadata></package>'
    )
    assert book_info(package).series == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("2", "2"), ("2.0", "2"), ("2.50", "2.5"), (" 12 ", "12"), ("x", ""), ("-1", ""), ("", "")],
)
def test_series_position(raw: str, expected: str) -> None:
    assert series_position(raw) == expected


def test_description_markup_is_removed_in_linear_time() -> None:
    assert description_text("<p>One</p><p>Two <b>bold</b></p>") == "One\n\nTwo bold"
    hostile = "<" * 200_000 + "a"  # no closing '>': every try stops at the next '<'
    assert len(description_text(hostile)) <= 10_000
