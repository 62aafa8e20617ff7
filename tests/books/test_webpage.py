"""HTML pages as books: chapters at headings, the page's furniture left out."""

from __future__ import annotations

import pytest

from ttsqueue.books import BookError, parse_book, parse_html

PAGE = """<!doctype html>
<html><head><meta charset="windows-1252"><title>Site \u2013 The Clock</title>
<style>p { color: red }</style><script>var x = "<p>no</p>";</script></head>
<body>
<header><a href="/">Home</a> | <a href="/about">About</a></header>
<nav><ul><li>Chapter list</li></ul></nav>
<main><article>
<header><h1>The Clock</h1><p class="byline">A short tale</p></header>
<p>It ticked \u201call\u201d night.</p>
<h2>One</h2>
<p>The first
hour.</p><aside>Advertisement: buy clocks</aside>
<h3>A scene</h3><p>Still one.</p>
<h2>Two</h2>
<div role="navigation">Next page</div>
<p>The second hour.</p>
</article></main>
<footer>Copyright the site</footer>
<form><button>Subscribe</button></form>
</body></html>
"""


def test_a_page_becomes_chapters_at_its_repeated_headings() -> None:
    book = parse_html(PAGE.encode("cp1252"))
    assert book.title == "The Clock"
    assert [(c.title, c.text) for c in book.chapters] == [
        ("", "A short tale\n\nIt ticked \u201call\u201d night."),
        ("One", "The first hour.\n\nA scene\n\nStill one."),
        ("Two", "The second hour."),
    ]
    every = " ".join(c.text for c in book.chapters)
    for furniture in ("Home", "Chapter list", "Advertisement", "Next page", "Copyright",
                      "Subscribe", "color", "var x"):  # fmt: skip
        assert furniture not in every


def test_a_page_without_repeated_headings_is_one_chapter_named_by_its_title() -> None:
    page = "<html><head><title>Notes</title></head><body><p>a</p><p>b</p></body></html>"
    book = parse_html(page.encode())
    assert book.title == "Notes"
    assert [(c.title, c.text) for c in book.chapters] == [("", "a\n\nb")]


def test_an_html_upload_and_its_errors() -> None:
    book = parse_book("clock.htm", PAGE.encode("cp1252"))
    assert [c.title for c in book.chapters] == ["", "One", "Two"]
    assert parse_book("page.html", b"<p>Only text.</p>").title == "page"
    with pytest.raises(BookError, match="no text"):
        parse_book("page.html", b"<nav>menu</nav><script>x</script>")
    with pytest.raises(BookError, match="a book holds at most 10 characters"):
        parse_html(b"<p>" + b"a" * 100, max_chars=10)


def test_the_page_encoding_comes_from_the_header_then_its_meta_tag() -> None:
    page = '<meta charset="koi8-r"><h1>\u041a\u043e\u0442</h1><p>\u041c\u044f\u0443.</p>'
    data = page.encode("koi8-r")
    assert parse_html(data).title == "\u041a\u043e\u0442"
    assert parse_html(data, charset="cp1252").title != "\u041a\u043e\u0442"
    # A <meta> readable as ASCII cannot be UTF-16, whatever it says.
    assert parse_html(b"<meta charset='utf-16'><p>plain</p>").chapters[0].text == "plain"
