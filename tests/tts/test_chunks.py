"""Splitting into chunks: sentence and paragraph pauses, limits, and no text ever lost."""

from __future__ import annotations

import random
import re

import pytest

from ttsqueue.models import Voice
from ttsqueue.tts import Chunk, prepare_chunks
from ttsqueue.tts.splitting import split_sentences, split_text
from ttsqueue.tts.text import normalize


class FakeEngine:
    name = "fake"

    def __init__(self, max_chunk_chars: int) -> None:
        self.max_chunk_chars = max_chunk_chars


def chunks(text: str, max_chars: int = 200) -> list[Chunk]:
    return split_text(text, max_chars=max_chars, sentence_pause_ms=250, paragraph_pause_ms=600)


def assert_nothing_lost(normalised: str, result: list[Chunk], max_chars: int) -> None:
    # Every non-space character, in order, exactly once ...
    assert "".join("".join(c.text.split()) for c in result) == "".join(normalised.split())
    # ... and every word intact unless a single word is longer than the limit (CJK
    # sentence punctuation ends a sentence with no space after it).
    words = re.sub("([\u3002\uff01\uff1f]+[\"')\\]]*)", r"\1 ", normalised).split()
    if all(len(w) <= max_chars for w in words):
        assert [w for c in result for w in c.text.split()] == words
    for chunk in result:
        assert 0 < len(chunk.text) <= max_chars
        assert chunk.text == chunk.text.strip()


@pytest.mark.parametrize(
    ("paragraph", "sentences"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("Mr. Smith met Dr. Jones. They talked.", ["Mr. Smith met Dr. Jones.", "They talked."]),
        ("J. R. R. Tolkien wrote it. Good.", ["J. R. R. Tolkien wrote it.", "Good."]),
        ("He lives in the U.S. now. Yes.", ["He lives in the U.S. now.", "Yes."]),
        ('"Help!" he cried. "Why?" She left.', ['"Help!" he cried.', '"Why?"', "She left."]),
        ("Wait... what? No.", ["Wait... what?", "No."]),
        ("It ended (quietly.) Then more.", ["It ended (quietly.)", "Then more."]),
        ("It was I. Then you.", ["It was I.", "Then you."]),
        (
            "Chapter four\nThe Storm\nIt was dark. Very.",
            ["Chapter four", "The Storm", "It was dark.", "Very."],
        ),
        (
            "a long line of hard-wrapped prose that goes on and on past fifty\n"
            "characters and continues.",
            [
                "a long line of hard-wrapped prose that goes on and on past fifty "
                "characters and continues."
            ],
        ),
        ("\u4f60\u597d\u3002\u518d\u89c1\uff01", ["\u4f60\u597d\u3002", "\u518d\u89c1\uff01"]),
    ],
)
def test_split_sentences(paragraph: str, sentences: list[str]) -> None:
    assert split_sentences(paragraph) == sentences


def test_pauses_follow_sentences_and_paragraphs() -> None:
    result = chunks("First one. Second one.\n\nNew paragraph. Last.")
    assert result == [
        Chunk("First one.", 250),
        Chunk("Second one.", 600),
        Chunk("New paragraph.", 250),
        Chunk("Last.", 600),
    ]


def test_voice_overrides_pauses() -> None:
    engine = FakeEngine(200)
    text = "One. Two.\n\nThree."
    default = prepare_chunks(text, Voice(), engine)
    assert [c.pause_after_ms for c in default] == [250, 600, 600]
    custom = prepare_chunks(text, Voice(sentence_pause_ms=100, paragraph_pause_ms=0), engine)
    assert [c.pause_after_ms for c in custom] == [100, 0, 0]


def test_long_sentence_splits_at_clauses_first() -> None:
    sentence = "When the rain came, we ran inside; the dog, however, stayed out: it loved the rain."
    result = chunks(sentence, max_chars=40)
    assert [c.text for c in result] == [
        "When the rain came, we ran inside;",
        "the dog, however, stayed out:",
        "it loved the rain.",
    ]
    assert [c.pause_after_ms for c in result] == [83, 83, 600]


def test_clause_longer_than_limit_splits_at_words() -> None:
    result = chunks("one two three four five six seven eight nine ten.", max_chars=14)
    assert [c.text for c in result] == [
        "one two three",
        "four five six",
        "seven eight",
        "nine ten.",
    ]
    assert [c.pause_after_ms for c in result] == [0, 0, 0, 600]


def test_word_longer_than_limit_is_cut() -> None:
    result = chunks("a " + "x" * 25 + " b", max_chars=10)
    assert [c.text for c in result] == ["a", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxx b"]


def test_empty_and_blank_text_gives_no_chunks() -> None:
    assert chunks("") == []
    assert chunks(" \n\n \t\n") == []
    assert prepare_chunks("* * *\n\n[1]", Voice(), FakeEngine(100)) == []


_WORDS = (
    "the cat Dr. Mr. Mrs. St. e.g. i.e. etc. U.S. J. $3.50 1,234 1984 3rd 15% 3:30 "
    "Chapter IV [1] ^2 https://example.com/a.b www.x.org said, quietly; then: "
    "\u2014 ( ) \"Hello!\" 'Why?' ... no. Yes! what? \u4f60\u597d\u3002 caf\u00e9 "
    "supercalifragilisticexpialidocious-and-then-some-more-words-joined-together"
).split()
_SEPARATORS = [" "] * 12 + ["  ", "\n", "\n\n", "\n \n", "\t", ". ", ", "]


def random_text(rng: random.Random, words: int) -> str:
    parts: list[str] = []
    for _ in range(words):
        word = rng.choice(_WORDS)
        if rng.random() < 0.05:
            word = word.upper()
        if rng.random() < 0.02:
            word = "x" * rng.randint(50, 400)  # longer than some limits
        parts.append(word)
        parts.append(rng.choice(_SEPARATORS))
    return "".join(parts)


@pytest.mark.parametrize("seed", range(40))
def test_no_text_is_ever_lost(seed: int) -> None:
    rng = random.Random(seed)
    text = random_text(rng, rng.randint(0, 1500))
    max_chars = rng.choice([1, 7, 40, 120, 400, 1000])
    engine = FakeEngine(max_chars)
    result = prepare_chunks(text, Voice(), engine)
    assert_nothing_lost(normalize(text), result, max_chars)
    assert all(c.pause_after_ms in (0, 83, 250, 600) for c in result)
    if result:
        assert result[-1].pause_after_ms == 600


def test_no_text_lost_in_a_real_looking_chapter() -> None:
    paragraph = (
        "It was the best of times, it was the worst of times, it was the age of wisdom, it "
        "was the age of foolishness, it was the epoch of belief, it was the epoch of "
        "incredulity, it was the season of Light, it was the season of Darkness, it was the "
        "spring of hope, it was the winter of despair, we had everything before us, we had "
        "nothing before us, we were all going direct to Heaven, we were all going direct "
        "the other way\u2014in short, the period was so far like the present period, that "
        "some of its noisiest authorities insisted on its being received, for good or for "
        "evil, in the superlative degree of comparison only."
    )
    text = "CHAPTER I.\nThe Period\n\n" + "\n\n".join([paragraph] * 30)
    for max_chars in (80, 250, 1000):
        result = prepare_chunks(text, Voice(), FakeEngine(max_chars))
        assert_nothing_lost(normalize(text), result, max_chars)
        assert result[0] == Chunk("CHAPTER one.", 250)
        assert result[1] == Chunk("The Period", 600)


_PLAIN = (
    "the a river boat walked quietly under old bridges while children laughed and "
    "someone somewhere sang about rain wind stones evening lanterns harbour"
).split()


def plain_book(rng: random.Random, paragraphs: int) -> str:
    """Text the normaliser has no reason to touch: plain words, commas and full stops."""
    out = []
    for _ in range(paragraphs):
        sentences = []
        for _ in range(rng.randint(1, 8)):
            words = [rng.choice(_PLAIN) for _ in range(rng.randint(1, 30))]
            if len(words) > 3 and rng.random() < 0.5:
                words[1] += ","
            sentences.append(" ".join(words).capitalize() + rng.choice([".", "!", "?"]))
        out.append(" ".join(sentences))
    return "\n\n".join(out)


def spoken_words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Za-z]+", text)]


@pytest.mark.parametrize("seed", range(12))
def test_every_word_of_the_input_reaches_the_engine_in_order(seed: int) -> None:
    # Checked against the input itself, not against what the normaliser made of it: a
    # normaliser that drops or reorders text fails here even when the splitter is right.
    rng = random.Random(seed)
    text = plain_book(rng, rng.randint(1, 60))
    max_chars = rng.choice([40, 120, 400, 1000])
    result = prepare_chunks(text, Voice(), FakeEngine(max_chars))
    assert [w for c in result for w in spoken_words(c.text)] == spoken_words(text)
    assert sum(c.pause_after_ms == 600 for c in result) == text.count("\n\n") + 1


def test_the_last_paragraph_of_a_long_book_is_read() -> None:
    paragraphs = [f"Paragraph {'one two three'.split()[i % 3]} ends here." for i in range(400)]
    paragraphs[-1] = "And the harbour lanterns went out."
    text = "\n\n".join(paragraphs)
    result = prepare_chunks(text, Voice(), FakeEngine(300))
    assert result[-1].text == "And the harbour lanterns went out."
    assert len(result) == 400


@pytest.mark.parametrize(
    ("text", "max_chars", "expected"),
    [
        # words are packed while the chunk, with the space between, fits exactly
        ("one two three four five.", 13, [Chunk("one two three", 0), Chunk("four five.", 600)]),
        # a sentence exactly as long as the limit stays whole, and ends as a sentence
        ("Yes, indeed.", 12, [Chunk("Yes, indeed.", 600)]),
        ("One. Two.", 4, [Chunk("One.", 250), Chunk("Two.", 600)]),
        # a clause exactly as long as the limit stays whole
        ("ab cd, ef gh.", 6, [Chunk("ab cd,", 83), Chunk("ef gh.", 600)]),
        # a clause cut at words still ends with a clause pause
        (
            "aaaa bbbb cccc, dd.",
            9,
            [Chunk("aaaa bbbb", 0), Chunk("cccc,", 83), Chunk("dd.", 600)],
        ),
    ],
)
def test_chunks_fill_up_to_the_limit_exactly(
    text: str, max_chars: int, expected: list[Chunk]
) -> None:
    assert chunks(text, max_chars=max_chars) == expected


@pytest.mark.parametrize(
    ("paragraph", "sentences"),
    [
        ("It ended. (Then more.) Fine.", ["It ended.", "(Then more.)", "Fine."]),
        ('He left. "Why?" she asked.', ["He left.", '"Why?" she asked.']),
        ('"Go." He went.', ['"Go."', "He went."]),
        ("See (Dr. Smith) now.", ["See (Dr. Smith) now."]),
        ("He met (Mr. Jones) there. Then left.", ["He met (Mr. Jones) there.", "Then left."]),
        ("A short line\nThen another", ["A short line", "Then another"]),
        ("A short line\nand it goes on", ["A short line and it goes on"]),
        ("Total\n42 apples", ["Total", "42 apples"]),
        ("Total\n4 apples", ["Total", "4 apples"]),
        ("Total\n4", ["Total", "4"]),
        ('Chapter One\n"Hello," she said.', ["Chapter One", '"Hello," she said.']),
        ("Title\nit goes on\nEnd", ["Title it goes on", "End"]),
        ("x" * 50 + "\nNext", ["x" * 50, "Next"]),
        ("x" * 51 + "\nNext", ["x" * 51 + " Next"]),
        ('He left. "why," she asked.', ['He left. "why," she asked.']),
        ('It ended. "', ["It ended.", '"']),
    ],
)
def test_sentence_ends_around_quotes_and_brackets(paragraph: str, sentences: list[str]) -> None:
    assert split_sentences(paragraph) == sentences
