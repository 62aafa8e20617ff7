from __future__ import annotations

import pytest

from ttsqueue.bookinfo import BookInfo, BookInfoError, check, isbn_problem


@pytest.mark.parametrize(
    "isbn", ["9780316129060", "978-0-316-12906-0", "0-306-40615-2", "080442957X", "0 8044 2957 x"]
)
def test_valid_isbns(isbn: str) -> None:
    assert isbn_problem(isbn) is None


@pytest.mark.parametrize(
    "isbn", ["9780316129061", "0306406153", "080442957Y", "97803161290", "", "isbn"]
)
def test_invalid_isbns(isbn: str) -> None:
    assert isbn_problem(isbn) is not None


def test_check_normalises_the_isbn_and_names_a_bad_field() -> None:
    assert check(BookInfo(isbn="0 8044 2957 x")).isbn == "080442957X"
    with pytest.raises(BookInfoError) as raised:
        check(BookInfo(language="x"))
    assert raised.value.field == "language"
    with pytest.raises(BookInfoError) as raised:
        check(BookInfo(description="tab\tand\nnewline ok, NUL not\x00"))
    assert raised.value.field == "description"
    assert check(BookInfo(description="tab\tand\nnewline ok")).description.endswith("ok")


def test_the_submission_wins_field_by_field_and_round_trips() -> None:
    epub = BookInfo(series="S", series_position="1", year=1990, language="en")
    mine = BookInfo(year=2020, genre="Drama")
    merged = mine.over(epub)
    assert merged == BookInfo(
        series="S", series_position="1", year=2020, language="en", genre="Drama"
    )
    assert BookInfo.from_dict(merged.to_dict()) == merged
    assert BookInfo.from_dict(None) == BookInfo()
    assert BookInfo().to_dict() == {}
