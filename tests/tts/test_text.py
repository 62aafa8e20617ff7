"""Text normalisation: what a narrator would say."""

from __future__ import annotations

import pytest

from ttsqueue.tts import numbers
from ttsqueue.tts.text import normalize


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        # abbreviations
        ("Dr. Watson came.", "Doctor Watson came."),
        ("Mr. and Mrs. Smith met Ms. Jones.", "Mister and Missus Smith met Miz Jones."),
        ("Mr Brown left.", "Mister Brown left."),
        ("St. Paul lived on Baker St. in London.", "Saint Paul lived on Baker Street in London."),
        ("He lived on Baker St. Then he moved.", "He lived on Baker Street. Then he moved."),
        ("Fruit, e.g. apples, i.e. food.", "Fruit, for example apples, that is food."),
        ("Cats vs. dogs", "Cats versus dogs"),
        ("Pens, pencils, etc. are here.", "Pens, pencils, et cetera are here."),
        ("See p. 12 and No. 5.", "See page twelve and number five."),
        ("John Smith Jr. was late.", "John Smith Junior was late."),
        ("At 9 a.m. we ate.", "At nine AM we ate."),
        ("We left at 5 p.m. Then it rained.", "We left at five PM. Then it rained."),
        # money
        ("It cost $3.50.", "It cost three dollars and fifty cents."),
        (
            "Only $1 or $0.99 or $2.5",
            "Only one dollar or ninety-nine cents or two dollars and fifty cents",
        ),
        ("A £20 note and €1.01", "A twenty pound note and one euro and one cent"),
        (
            "He owes $1,234,567.",
            "He owes one million two hundred thirty-four thousand "
            "five hundred sixty-seven dollars.",
        ),
        ("A $3.5 million deal", "A three point five million dollar deal"),
        # numbers
        ("1,234 people", "one thousand two hundred thirty-four people"),
        (
            "In 1984 and 1066 and 2000 and 2007 and 2024.",
            "In nineteen eighty-four and ten sixty-six and two thousand "
            "and two thousand seven and twenty twenty-four.",
        ),
        ("In 1900 or 1905", "In nineteen hundred or nineteen oh five"),
        ("the 1st, 2nd, 3rd, 4th and 21st", "the first, second, third, fourth and twenty-first"),
        ("the 100th time", "the one hundredth time"),
        ("a 15% rise and 2.5 % more", "a fifteen percent rise and two point five percent more"),
        ("pi is 3.14", "pi is three point one four"),
        ("It was -5 outside", "It was minus five outside"),
        ("Agent 007 has 42 cats", "Agent zero zero seven has forty-two cats"),
        ("the 1980s and the '90s", "the nineteen eighties and the nineties"),
        ("pages 10\u201320", "pages ten to twenty"),
        ("version 1.2.3 of MP3", "version 1.2.3 of MP3"),
        # dates and times
        ("On March 5, 1984 it rained.", "On March fifth, nineteen eighty-four it rained."),
        ("On 5 March we met.", "On the fifth of March we met."),
        ("2020-01-05", "January fifth, twenty twenty"),
        (
            "12/25/2020 or 25/12/2020",
            "December twenty-fifth, twenty twenty or December twenty-fifth, twenty twenty",
        ),
        ("At 3:30 or 10:05 or 4:00.", "At three thirty or ten oh five or four o'clock."),
        # Roman numerals in headings
        ("Chapter IV", "Chapter four"),
        ("CHAPTER XII. The Storm", "CHAPTER twelve. The Storm"),
        ("Part ii", "Part two"),
        ("XIV.\n\nIt began.", "fourteen.\n\nIt began."),
        ("Chapter IIII", "Chapter IIII"),
        ("I went home.", "I went home."),
        # markup not read
        ("As shown[1] before.[23]", "As shown before."),
        ("Einstein^2 said so", "Einstein said so"),
        ("water\u00b9 and fire\u00b2\u00b3.", "water and fire."),
        ("See https://example.com/page?x=1. Then go.", "See. Then go."),
        ("Visit www.example.org, then rest.", "Visit, then rest."),
        ("One.\n\n* * *\n\nTwo.", "One.\n\nTwo."),
        # whitespace
        ("  lots   of\tspace  \n\n\n\n new  paragraph ", "lots of space\n\nnew paragraph"),
        ("soft\u00adhyphen zero\u200bwidth", "softhyphen zerowidth"),
        ("\ufb01ne \u2026 ok", "fine ... ok"),
        ("a\r\nb\r\rc", "a\nb\n\nc"),
    ],
)
def test_normalize(text: str, spoken: str) -> None:
    assert normalize(text) == spoken


def test_normalize_leaves_plain_prose_alone() -> None:
    prose = 'It was the best of times, it was the worst of times. "Why?" she asked.'
    assert normalize(prose) == prose


def test_normalize_is_idempotent_on_its_output() -> None:
    text = "Dr. Who paid $3.50 on 5 March 1984 (15%) at 3:30 p.m. in Chapter IV."
    once = normalize(text)
    assert normalize(once) == once
    assert not any(ch.isdigit() for ch in once)


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (13, "thirteen"),
        (40, "forty"),
        (101, "one hundred one"),
        (1_000_001, "one million one"),
        (2_000_000_000, "two billion"),
        (10**15, "one zero zero zero zero zero zero zero zero zero zero zero zero zero zero zero"),
    ],
)
def test_cardinal(n: int, words: str) -> None:
    assert numbers.cardinal(n) == words


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (1, "first"),
        (2, "second"),
        (5, "fifth"),
        (12, "twelfth"),
        (20, "twentieth"),
        (99, "ninety-ninth"),
        (1000, "one thousandth"),
    ],
)
def test_ordinal(n: int, words: str) -> None:
    assert numbers.ordinal(n) == words


def test_roman_numerals_round_trip() -> None:
    for n in range(1, 4000):
        assert numbers.roman_to_int(numbers.int_to_roman(n)) == n
    assert numbers.roman_to_int("IC") is None
    assert numbers.roman_to_int("") is None
    assert numbers.roman_to_int("ABC") is None


def test_other_languages_keep_their_numbers() -> None:
    text = "Dr. M\u00fcller zahlte $3.50 am 5. Mai 1984.[1] Kapitel IV\n\nXII"
    assert normalize(text, "de") == "Dr. M\u00fcller zahlte $3.50 am 5. Mai 1984. Kapitel IV\n\n12"
    assert normalize("1984", "en-gb") == "nineteen eighty-four"
    assert normalize("1984", None) == "nineteen eighty-four"


@pytest.mark.parametrize("text", ["2020-13-01", "2020-01-32", "13/13/2020", "0/12/2020"])
def test_what_is_not_a_date_is_not_read_as_one(text: str) -> None:
    spoken = normalize(text)
    assert not any(month in spoken for month in ("January", "December", "Thirteen"))
    assert not any(ch.isdigit() for ch in spoken)


def test_a_fragment_between_markup_keeps_its_edges_and_collapses_the_rest() -> None:
    assert normalize("  Hello \n\n world  ,  ok ", fragment=True) == " Hello world, ok "
    assert normalize("Dr. Smith  said  hi .", fragment=True) == "Doctor Smith said hi."
    assert normalize("a\tb", fragment=True) == "a b"
