"""Every parser of a user's bytes runs in time linear in its input.

Each case feeds one parser an adversarial input (the shapes that made a backtracking
pattern or a rescanning loop quadratic) at doubling sizes and fails when the time grows
by more than ``MAX_GROWTH`` per doubling (a linear parser grows about 2x, a quadratic one
4x). Times are this thread's CPU time, the best of three runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.hostile import inputs
from tests.hostile.scaling import MAX_GROWTH, growth
from ttsqueue.books import parse_book, parse_epub, parse_html, parse_pdf, parse_text
from ttsqueue.books.html import html_to_paragraphs
from ttsqueue.tts.ssml import check
from ttsqueue.tts.ssml_chunks import ssml_chunks
from ttsqueue.tts.text import normalize, split_text


def markdown(text: str) -> Any:
    return parse_text(text, markdown=True)


def plain(text: str) -> Any:
    return parse_text(text, markdown=False)


def pdf_of(chapters: list[tuple[str, str]]) -> bytes:
    from tests.books.test_pdf import make_pdf

    return make_pdf(chapters, outline=False)


def page(data: bytes) -> Any:
    return parse_html(data)


def txt(data: bytes) -> Any:
    return parse_book("book.txt", data)


def split(text: str) -> Any:
    return split_text(text, max_chars=300, sentence_pause_ms=300, paragraph_pause_ms=600)


def chunks(text: str) -> Any:
    return ssml_chunks(
        text,
        language="en",
        max_chars=300,
        sentence_pause_ms=300,
        paragraph_pause_ms=600,
        ssml=False,
    )


def speak(body: str) -> str:
    return f"<speak>{body}</speak>"


ANCHORS = {f"a{i}" for i in range(0, 1 << 18, 2)}  # every other paragraph starts a chapter
Case = tuple[Callable[[Any], Any], Callable[[int], Any]]

CASES: dict[str, Case] = {
    # Markdown and plain text
    "markdown emphasis": (markdown, lambda n: "# Title\n\n" + "*a " * n),
    "markdown underscores": (markdown, lambda n: "x\n\n" + "_a " * n),
    "markdown strong": (markdown, lambda n: "x\n\n" + "**a " * n),
    "markdown strong underscores": (markdown, lambda n: "x\n\n" + "__a " * n),
    "markdown strikethrough": (markdown, lambda n: "x\n\n" + "~~a " * n),
    "markdown links": (markdown, lambda n: "x\n\n" + "[a](" * n),
    "markdown images": (markdown, lambda n: "x\n\n" + "![a](" * n),
    "markdown brackets": (markdown, lambda n: "x\n\n" + "[" * n + "]"),
    "markdown reference links": (markdown, lambda n: "x\n\n" + "[a][" * n),
    "markdown inline html": (markdown, lambda n: "x\n\n" + "<" * n),
    "markdown code spans": (markdown, lambda n: "x\n\n" + "`a" * n),
    "markdown heading of spaces": (markdown, lambda n: "# T" + " " * n + "x"),
    "markdown heading hashes": (markdown, lambda n: "# T" + " #" * n + "x"),
    "markdown rule": (markdown, lambda n: "x\n\n" + "- " * n + "x"),
    "markdown quotes": (markdown, lambda n: "x\n\n" + "> " * n + "x"),
    "markdown setext lines": (markdown, lambda n: "x\n\n" + "a\n" * n),
    "markdown headings": (markdown, lambda n: "## a\n" * n),
    "markdown fences": (markdown, lambda n: "```\n" * n),
    "plain chapter lines": (plain, lambda n: "Chapter 1\nText.\n" * n),
    "plain long line": (plain, lambda n: "chapter one " * n),
    "plain part headings": (plain, lambda n: "PART II\n\nText.\n\n" * n),
    "plain roman numerals": (plain, lambda n: "IV.\n\nText.\n\n" * n),
    "plain empty parts": (plain, lambda n: "\nBOOK ONE\n" * n + "\nText."),
    "plain wrapped paragraph": (plain, lambda n: "word word\n" * n),
    "plain verse": (plain, lambda n: "  a line\n" * n),
    "gutenberg start markers": (
        plain,
        lambda n: "Title: T\n" * n + "*** START OF THE PROJECT GUTENBERG EBOOK ***\n" * n,
    ),
    "gutenberg no end": (
        plain,
        lambda n: "*** START OF THE PROJECT GUTENBERG EBOOK ***\nProduced by\n" + "a\n" * n,
    ),
    "gutenberg first line": (
        plain,
        lambda n: (
            "The Project Gutenberg EBook of " + ", by" * n + "\n*** START OF THIS "
            "PROJECT GUTENBERG EBOOK\nx"
        ),
    ),
    "web page headings": (page, lambda n: b"<h2>a</h2><p>b</p>" * n),
    "web page nested furniture": (page, lambda n: b"<nav>" * n + b"<p>a</p>"),
    "web page unclosed headings": (page, lambda n: b"<h1>a" * n),
    "web page articles": (page, lambda n: b"<article><header>x</header>" * n + b"<p>a"),
    "pdf pages": (parse_pdf, lambda n: pdf_of([("Chapter 1", "a b. " * 4)] * max(1, n // 64))),
    "pdf one long chapter": (parse_pdf, lambda n: pdf_of([("Chapter 1", "ab " * n)])),
    "txt in windows-1252": (txt, lambda n: b"caf\xe9 \x93a\x94\n" * n),
    "txt in utf-16 without a mark": (txt, lambda n: "ab\n".encode("utf-16-le") * n),
    # HTML and XHTML (EPUB documents)
    "html unclosed tags": (html_to_paragraphs, lambda n: "<a " * n),
    "html unclosed comments": (html_to_paragraphs, lambda n: "<!--" * n),
    "html unclosed end tags": (html_to_paragraphs, lambda n: "</" * n),
    "html unclosed cdata": (html_to_paragraphs, lambda n: "<![CDATA[" * n),
    "html unclosed instructions": (html_to_paragraphs, lambda n: "<?" * n),
    "html unclosed attributes": (html_to_paragraphs, lambda n: "<a b='" * n),
    "html nested skipped elements": (html_to_paragraphs, lambda n: "<svg>" * n + "</g>" * n),
    "html paragraphs": (html_to_paragraphs, lambda n: "<p>a" * n),
    "html line breaks": (html_to_paragraphs, lambda n: "<br>" * n),
    "html preformatted lines": (html_to_paragraphs, lambda n: "<pre>" + "a\n" * n),
    "html entities": (html_to_paragraphs, lambda n: "&amp;" * n),
    "html anchors": (
        lambda h: html_to_paragraphs(h, ANCHORS),
        lambda n: "".join(f'<p id="a{i}">x</p>' for i in range(n)),
    ),
    # EPUB: the archive, the package, the tables of contents
    "epub spine": (parse_epub, inputs.many_documents),
    "epub repeated spine": (parse_epub, inputs.repeated_spine),
    "epub table of contents": (parse_epub, inputs.long_toc),
    "epub nested ncx": (parse_epub, inputs.nested_ncx),
    "epub files": (parse_epub, inputs.many_files),
    "epub deep package": (parse_epub, inputs.deep_opf),
    "epub one long document": (parse_epub, lambda n: inputs.one_document("<p>a b " * n)),
    # SSML: checked at the door, cut into chunks in the worker
    "ssml sentences": (check, lambda n: speak("<s>a</s>" * n)),
    "ssml entities": (check, lambda n: speak("&amp;" * n)),
    "ssml cardinal digits": (
        check,
        lambda n: speak(f"<say-as interpret-as='cardinal'>{'9' * n}</say-as>"),
    ),
    "ssml ordinal digits": (
        check,
        lambda n: speak(f"<say-as interpret-as='ordinal'>{'9' * n}</say-as>"),
    ),
    "ssml date digits": (check, lambda n: speak(f"<say-as interpret-as='date'>{'9' * n}</say-as>")),
    "ssml telephone": (
        check,
        lambda n: speak(f"<say-as interpret-as='telephone'>{'9-' * n}</say-as>"),
    ),
    "ssml pitch digits": (check, lambda n: speak(f"<prosody pitch='+{'9' * n}st'>a</prosody>")),
    "ssml aliases": (check, lambda n: speak("<sub alias='x'>y</sub>" * n)),
    "ssml nesting": (check, lambda n: speak("<p>" * 90 + "a " * n + "</p>" * 90)),
    "ssml chunks": (chunks, lambda n: speak("<s>a, b</s> <break time='1ms'/>" * n)),
    "ssml chunks spelled": (
        chunks,
        lambda n: speak(f"<say-as interpret-as='characters'>{'ab ' * n}</say-as>"),
    ),
    # Normalisation and splitting
    "numbers long digits": (normalize, lambda n: "1" * n + "a"),
    "numbers grouped": (normalize, lambda n: "1" + ",111" * n + "st"),
    "numbers money": (normalize, lambda n: "$" + "1" * n),
    "numbers decimals": (normalize, lambda n: "1." * n),
    "numbers ranges": (normalize, lambda n: "1\u2013" * n),
    "numbers percent": (normalize, lambda n: "1 " * n + "%"),
    "normalise titles": (normalize, lambda n: "Mr. " * n),
    "normalise spaces": (normalize, lambda n: " " * n + "x"),
    "normalise scene break": (normalize, lambda n: "!" * n + "a"),
    "normalise urls": (normalize, lambda n: "http://" * n),
    "normalise roman numerals": (normalize, lambda n: "Chapter " + "M" * n),
    "normalise footnotes": (normalize, lambda n: "a^1" * n),
    "normalise street": (normalize, lambda n: "Main St." + " " * n + "x"),
    "split dots": (split, lambda n: "a" + "." * n + "b"),
    "split words": (split, lambda n: "a " * n),
    "split clauses": (split, lambda n: "a, " * n),
    "split one long word": (split, lambda n: "a" * n),
    "split lines": (split, lambda n: "a\n" * n),
    "split dashes": (split, lambda n: "a \u2014" * n),
}


@pytest.mark.parametrize(("parse", "make"), list(CASES.values()), ids=list(CASES))
def test_parser_time_grows_linearly(
    parse: Callable[[Any], Any], make: Callable[[int], Any]
) -> None:
    measured = growth(parse, make, start=256)
    if measured.per_doubling > MAX_GROWTH:  # a second look, past a stray pause
        measured = min(measured, growth(parse, make, start=256), key=lambda g: g.per_doubling)
    assert measured.per_doubling <= MAX_GROWTH, str(measured)


def test_the_measure_catches_a_quadratic_parser() -> None:
    """The yardstick itself: a quadratic function fails it, a linear one passes."""

    def quadratic(text: str) -> int:
        return sum(text[:i].count("a") for i in range(0, len(text), 8))

    assert growth(quadratic, lambda n: "a" * n, start=256).per_doubling > MAX_GROWTH
    assert (
        growth(lambda t: t.count("a"), lambda n: "a" * n, start=1 << 16).per_doubling <= MAX_GROWTH
    )
