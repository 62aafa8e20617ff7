"""Text PDFs as books, generated in the test with fpdf2."""

from __future__ import annotations

import pytest
from fpdf import FPDF

from ttsqueue.books import BookError, parse_book, parse_pdf

LOREM = (
    "The keeper climbed the stairs every evening and lit the great lamp, whatever the "
    "weather, and the ships passed safely by the rocks below the tower. "
)


def make_pdf(
    chapters: list[tuple[str, str]], *, outline: bool, header: str = "The Lamp Book"
) -> bytes:
    pdf = FPDF()
    pdf.set_title("The Lamp")
    pdf.set_author("Ann Writer")
    pdf.set_auto_page_break(True, margin=20)

    def running_header() -> None:
        pdf.set_y(8)
        pdf.set_font("Helvetica", size=8)
        pdf.cell(0, 5, header, align="C")
        pdf.set_y(20)
        pdf.set_font("Helvetica", size=11)

    def page_number() -> None:
        pdf.set_y(-15)
        pdf.set_font("Helvetica", size=8)
        pdf.cell(0, 5, str(pdf.page_no()), align="C")

    pdf.header = running_header  # type: ignore[method-assign]
    pdf.footer = page_number  # type: ignore[method-assign]
    for title, body in chapters:
        pdf.add_page()
        pdf.set_font("Helvetica", size=16)
        if outline:
            pdf.start_section(title)
        pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, body)
    return bytes(pdf.output())


BOOK = [
    ("Chapter 1", LOREM * 12 + "An extra-\nordinary night."),
    ("Chapter 2", LOREM * 12),
    ("Chapter 3", "The end of the lamp."),
]


@pytest.mark.parametrize("outline", [True, False], ids=["outline", "headings"])
def test_a_text_pdf_becomes_chapters_without_page_furniture(outline: bool) -> None:
    book = parse_book("lamp.pdf", make_pdf(BOOK, outline=outline))
    assert (book.title, book.author) == ("The Lamp", "Ann Writer")
    titles = [c.title for c in book.chapters]
    assert titles == ["Chapter 1", "Chapter 2", "Chapter 3"]
    every = "\n".join(c.text for c in book.chapters)
    assert "The Lamp Book" not in every  # the running header
    assert not any(line.strip().isdigit() for line in every.split("\n"))  # page numbers
    assert "extraordinary night" in every  # the hyphenated line end joined
    assert book.chapters[2].text.endswith("The end of the lamp.")
    assert every.count("The keeper climbed") == 24


def test_a_pdf_without_a_text_layer_is_refused() -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 50, 50)  # a drawing, as a scan's image would be: no text
    with pytest.raises(BookError, match="no text layer"):
        parse_book("scan.pdf", bytes(pdf.output()))


def test_broken_and_oversized_pdfs_are_book_errors() -> None:
    with pytest.raises(BookError, match="cannot be read"):
        parse_pdf(b"%PDF-1.4\n garbage")
    data = make_pdf(BOOK, outline=False)
    with pytest.raises(BookError, match="more than 100 characters"):
        parse_pdf(data, max_chars=100)
    with pytest.raises(BookError, match="bytes long"):
        parse_book("lamp.pdf", data, max_chars=10)
