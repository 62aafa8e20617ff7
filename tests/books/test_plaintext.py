"""Plain text from the wild: encodings, Project Gutenberg's wrapper, headings, wrapping."""

from __future__ import annotations

import pytest

from ttsqueue.books import BookError, parse_book, parse_text
from ttsqueue.books.plaintext import CharsetError, decode_text, join_wrapped, strip_gutenberg

SAMPLE = "\u201cCaf\u00e9 na\u00efve,\u201d she said \u2014 \u20ac5 \u00e6on."


@pytest.mark.parametrize(
    "data",
    [
        SAMPLE.encode("utf-8"),
        b"\xef\xbb\xbf" + SAMPLE.encode("utf-8"),
        SAMPLE.encode("utf-16"),  # with its BOM
        b"\xff\xfe" + SAMPLE.encode("utf-16-le"),
        b"\xfe\xff" + SAMPLE.encode("utf-16-be"),
        SAMPLE.encode("cp1252"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16", "utf-16-le-bom", "utf-16-be-bom", "cp1252"],
)
def test_the_encoding_is_found_without_mojibake(data: bytes) -> None:
    assert decode_text(data) == SAMPLE


def test_latin1_text_reads_as_latin1() -> None:
    text = "Caf\u00e9 \u00e0 la cr\u00e8me, \u00bd \u00a7 \u00ff."
    assert decode_text(text.encode("latin-1")) == text


def test_bytes_windows_1252_leaves_undefined_fall_back_to_latin1() -> None:
    assert decode_text(b"caf\xe9 \x81") == "caf\u00e9 \x81"


def test_utf16_without_a_mark_is_recognised_by_its_nul_bytes() -> None:
    text = "Chapter 1\n\nIt was a dark night, caf\u00e9."
    assert decode_text(text.encode("utf-16-le")) == text
    assert decode_text(text.encode("utf-16-be")) == text


def test_a_declared_charset_is_used() -> None:
    assert decode_text("\u0416\u0438\u0437\u043d\u044c".encode("koi8-r"), "koi8-r") == (
        "\u0416\u0438\u0437\u043d\u044c"
    )
    # Declared Latin-1 reads 0x80-0x9F as Windows-1252 does, as browsers do.
    assert decode_text(b"\x93quoted\x94", "ISO-8859-1") == "\u201cquoted\u201d"
    assert decode_text(b"\x93quoted\x94", '"us-ascii"') == "\u201cquoted\u201d"


@pytest.mark.parametrize(
    ("data", "declared", "message"),
    [
        (b"abc", "no-such-charset", "unknown charset 'no-such-charset'"),
        (b"abc", "rot13", "unknown charset"),
        (b"caf\xe9", "utf-8", r"not valid utf-8 \(invalid byte at position 3\)"),
        (b"\xff\xfe\x00\xd8", None, "not valid UTF-16"),
    ],
)
def test_undecodable_text_is_a_book_error(data: bytes, declared: str | None, message: str) -> None:
    with pytest.raises(BookError, match=message) as info:
        decode_text(data, declared)
    assert isinstance(info.value, CharsetError) == ("charset" in message)


GUTENBERG = """\
\ufeffThe Project Gutenberg eBook of The Lamplighter\u2019s Tale, by Ann Writer

This eBook is for the use of anyone anywhere in the United States and
most other parts of the world at no cost and with almost no restrictions
whatsoever.

Title: The Lamplighter\u2019s Tale

Author: Ann Writer

Release Date: May 1, 2001 [eBook #9999]

Language: English

*** START OF THE PROJECT GUTENBERG EBOOK THE LAMPLIGHTER\u2019S TALE ***

Produced by Some Volunteer and the Online Distributed
Proofreading Team.




THE LAMPLIGHTER\u2019S TALE

by Ann Writer


CONTENTS

CHAPTER I. The Lamp
CHAPTER II. The Dark


BOOK ONE


CHAPTER I. The Lamp

It was a caf\u00e9 \u201cby the sea,\u201d and the lamp
was lit each night at six. The keeper
walked the pier.

He came back.


CHAPTER II. The Dark

The lamp went out; in 1999
she wrote about it.

I.

That was the first time.

*** END OF THE PROJECT GUTENBERG EBOOK THE LAMPLIGHTER\u2019S TALE ***

Updated editions will replace the previous one.
Section 5. General Information About Project Gutenberg electronic works
"""


def test_a_gutenberg_text_in_windows_1252_reads_as_the_book_alone() -> None:
    data = GUTENBERG.lstrip("\ufeff").replace("\n", "\r\n").encode("cp1252")
    book = parse_book("pg9999.txt", data)
    assert (book.title, book.author) == ("The Lamplighter\u2019s Tale", "Ann Writer")
    assert [c.title for c in book.chapters] == [
        "",
        "BOOK ONE: CHAPTER I. The Lamp",
        "CHAPTER II. The Dark",
        "I.",
    ]
    front, lamp, dark, first = (c.text for c in book.chapters)
    assert "Produced by" not in front and "Gutenberg" not in front
    assert front.startswith("THE LAMPLIGHTER\u2019S TALE")
    assert lamp == (
        "It was a caf\u00e9 \u201cby the sea,\u201d and the lamp was lit each night at six. "
        "The keeper walked the pier.\n\nHe came back."
    )
    assert dark == "The lamp went out; in 1999 she wrote about it."
    assert first == "That was the first time."
    assert all("Gutenberg" not in c.text and "Section 5" not in c.text for c in book.chapters)


def test_a_gutenberg_text_in_utf16_reads_the_same() -> None:
    utf16 = parse_book("pg9999.txt", GUTENBERG.encode("utf-16"))
    cp1252 = parse_book("pg9999.txt", GUTENBERG.lstrip("\ufeff").encode("cp1252"))
    assert utf16.title == cp1252.title and utf16.author == cp1252.author
    assert [(c.title, c.text) for c in utf16.chapters] == [
        (c.title, c.text) for c in cp1252.chapters
    ]


def test_older_gutenberg_markers_and_first_line_title() -> None:
    text = (
        "The Project Gutenberg EBook of Old Days, by Bo Author\n\n"
        "*** START OF THIS PROJECT GUTENBERG EBOOK OLD DAYS ***\n\n"
        "Once upon a time.\n\n"
        "End of the Project Gutenberg EBook of Old Days, by Bo Author\n\n"
        "*** END OF THIS PROJECT GUTENBERG EBOOK OLD DAYS ***\n"
    )
    unwrapped = strip_gutenberg(text)
    assert (unwrapped.title, unwrapped.author) == ("Old Days", "Bo Author")
    assert unwrapped.text.strip() == "Once upon a time."
    small_print = (
        "Some legal text.\n*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\n"
        "The tale.\n"
    )
    assert strip_gutenberg(small_print).text.strip() == "The tale."


def test_text_without_a_gutenberg_marker_is_left_alone() -> None:
    text = "Title: Not a header\n\nThe Project Gutenberg is mentioned here.\n"
    assert strip_gutenberg(text).text == text
    assert strip_gutenberg(text).title == ""
    assert parse_text(text, markdown=False, default_title="file").title == "file"


def test_part_and_roman_headings_split_only_when_they_stand_alone() -> None:
    text = (
        "PART II\n\nThe start.\n\n"
        "Book the First\n\nMore.\n\n"
        "IV\n\nFour.\n\n"
        "He opened part two\nof the letter. In the book one\nsaw a line with\nIV\nin it.\n"
    )
    book = parse_text(text, markdown=False)
    assert [(c.title, c.text) for c in book.chapters] == [
        ("PART II", "The start."),
        ("Book the First", "More."),
        (
            "IV",
            "Four.\n\nHe opened part two of the letter. In the book one saw a line with IV in it.",
        ),
    ]


def test_prose_lines_that_look_like_headings_do_not_split() -> None:
    text = (
        "I walked home.\nI\nran.\n\nPart of the way I ran.\n\nBook one more room, he said.\n\n"
        "Volume two hundred and six pages long, the ledger was.\n"
    )
    book = parse_text(text, markdown=False)
    assert [c.title for c in book.chapters] == [""]
    assert book.chapters[0].text.startswith("I walked home. I ran.\n\nPart of the way")


def test_hard_wrapped_lines_join_and_indented_lines_keep_their_breaks() -> None:
    lines = ["one", "two", "", "three", "  verse a", "  verse b", "", "", "four"]
    assert join_wrapped(lines) == ["one two", "", "three", "verse a", "verse b", "", "", "four"]


def test_nul_bytes_that_are_not_utf16_fall_back_to_a_single_byte_reading() -> None:
    data = "ab".encode("utf-16-le") + b"\x00\xd8"  # a lone surrogate: not UTF-16
    assert decode_text(data) == "a\x00b\x00\x00\u00d8"
