from __future__ import annotations

import pytest

from ttsqueue.books import BookError, parse_book, parse_text

MARKDOWN_BOOK = """\
# The Lighthouse

For my sister.

## Chapter 1: The Storm

The wind rose *slowly*, then **all at once**. See [the map](http://example.com/map).

- a rope
- a lamp

### Night

The lamp went out.

## Chapter 2

Morning came.
"""


def titles_and_texts(book_chapters: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(c.title, c.text) for c in book_chapters]


def test_markdown_title_heading_over_chapter_headings_names_the_book() -> None:
    book = parse_text(MARKDOWN_BOOK, markdown=True, default_title="file")
    assert book.title == "The Lighthouse"
    assert book.author == ""
    assert titles_and_texts(book.chapters) == [
        ("", "For my sister."),
        (
            "Chapter 1: The Storm",
            "The wind rose slowly, then all at once. See the map.\n\n"
            "a rope\na lamp\n\nNight\n\nThe lamp went out.",
        ),
        ("Chapter 2", "Morning came."),
    ]


def test_markdown_byline_under_the_title_is_the_author() -> None:
    text = "# The Clock\n\n*by Ann Writer*\n\n## One\n\nTick.\n"
    book = parse_text(text, markdown=True)
    assert (book.title, book.author) == ("The Clock", "Ann Writer")
    assert [(c.title, c.text) for c in book.chapters] == [("One", "Tick.")]


def test_markdown_level_one_headings_are_chapters() -> None:
    book = parse_text("# One\n\nfirst\n\n# Two\n\nsecond\n", markdown=True, default_title="b")
    assert book.title == "b"
    assert titles_and_texts(book.chapters) == [("One", "first"), ("Two", "second")]


def test_markdown_without_leading_text_has_no_untitled_chapter() -> None:
    book = parse_text("\n\n  \n## A\n\nx\n## B\ny\n", markdown=True)
    assert [c.title for c in book.chapters] == ["A", "B"]


def test_markdown_setext_headings_and_code_fences() -> None:
    text = "Intro line.\n\nFirst\n=====\n\n```\n# not a heading\n```\n\nSecond\n------\n\nEnd.\n"
    book = parse_text(text, markdown=True)
    assert titles_and_texts(book.chapters) == [
        ("", "Intro line."),
        ("First", "# not a heading"),
        ("Second", "End."),
    ]


def test_plain_text_chapter_lines() -> None:
    text = (
        "A note before the story.\r\n\r\n"
        "Prologue\n\nIt begins.\n\n"
        "CHAPTER IV.\n\nIt was dark.\n\n\n\nVery dark.\n\n"
        "Chapter One: The Beginning\nLine one.\nLine two.\n\n"
        "  Chapter 12  \n\nTwelve.\n\n"
        "Chapter Twenty-One - Late\n\nLater.\n\n"
        "Epilogue\nThe end.\n"
    )
    book = parse_text(text, markdown=False, default_title="story")
    assert book.title == "story"
    assert titles_and_texts(book.chapters) == [
        ("", "A note before the story."),
        ("Prologue", "It begins."),
        ("CHAPTER IV.", "It was dark.\n\nVery dark."),
        ("Chapter One: The Beginning", "Line one. Line two."),  # hard wrap joined
        ("Chapter 12", "Twelve."),
        ("Chapter Twenty-One - Late", "Later."),
        ("Epilogue", "The end."),
    ]


def test_plain_text_sentences_mentioning_chapters_are_not_headings() -> None:
    text = "As chapter 3 explains, nothing.\nChapter and verse.\n# not markdown here\n"
    book = parse_text(text, markdown=False)
    assert len(book.chapters) == 1
    assert book.chapters[0].title == ""
    assert book.chapters[0].text == " ".join(text.split("\n")).strip()


def test_heading_without_text_is_skipped() -> None:
    book = parse_text("Chapter 1\n\nChapter 2\n\nSome text.", markdown=False)
    assert titles_and_texts(book.chapters) == [("Chapter 2", "Some text.")]


@pytest.mark.parametrize(
    ("text", "markdown"),
    [("", True), ("   \n\n", False), ("# Title only\n", True), ("Chapter 1\n", False)],
)
def test_a_book_without_text_is_an_error(text: str, markdown: bool) -> None:
    with pytest.raises(BookError, match="no text"):
        parse_text(text, markdown=markdown)


def test_parse_book_dispatches_on_the_extension() -> None:
    md = parse_book("notes/The Lighthouse.MD", MARKDOWN_BOOK.encode())
    assert md.title == "The Lighthouse"
    assert len(md.chapters) == 3
    txt = parse_book("tale.txt", "\ufeffChapter 1\nHéllo.".encode())
    assert txt.title == "tale"
    assert titles_and_texts(txt.chapters) == [("Chapter 1", "Héllo.")]
    utf16 = parse_book("tale.txt", "Bonjour.".encode("utf-16"))
    assert utf16.chapters[0].text == "Bonjour."


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("book.pdf", b"%PDF", "the PDF cannot be read"),
        ("book.doc", b"x", "unsupported book file type '.doc'"),
        ("README", b"text", "unsupported book file type 'README'"),
        ("book.txt", b"\xff\xfe\x00\xd8", "not valid UTF-16"),
        ("book.md", b"\n\n", "no text"),
    ],
)
def test_parse_book_errors_are_book_errors(filename: str, data: bytes, message: str) -> None:
    with pytest.raises(BookError, match=message) as info:
        parse_book(filename, data)
    assert isinstance(info.value, ValueError)
