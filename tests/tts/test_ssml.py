"""The SSML subset: detection, safe parsing, user-facing errors, chunks and plain rendering."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from ttsqueue import tts
from ttsqueue.models import Voice
from ttsqueue.tts import Chunk, Speech, check_text, prepare_chunks, synthesize_chunk
from ttsqueue.tts.ssml import is_ssml, parse
from ttsqueue.tts.ssml_chunks import plain_runs


class PlainEngine:
    name = "plain"
    accepts_ssml = False

    def __init__(self, max_chunk_chars: int = 1000) -> None:
        self.max_chunk_chars = max_chunk_chars


class SsmlEngine(PlainEngine):
    name = "ssml"
    accepts_ssml = True


@dataclass
class Recorder:
    """An engine that records what it was asked to say and how fast."""

    name: str = "recorder"
    max_chunk_chars: int = 1000
    accepts_ssml: bool = False
    calls: list[tuple[str, float, float | None]] = field(default_factory=list)

    def voices(self) -> list[tts.VoiceInfo]:
        return []

    def synthesize(self, text: str, voice: Voice) -> Speech:
        self.calls.append((text, voice.speed, voice.pitch))
        return Speech(b"\x00\x00" * len(text), 1000)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    engine = Recorder()
    monkeypatch.setitem(tts._engines, "recorder", engine)
    yield engine


def words_of(chunks: list[Chunk]) -> list[str]:
    """The words a plain engine is given for ``chunks``, in order."""
    return [w for c in chunks for text, _ in plain_runs(c.text) for w in text.split()]


def plain(doc: str, **voice: object) -> list[Chunk]:
    return prepare_chunks(doc, Voice(**voice), PlainEngine())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<speak>Hi</speak>", True),
        ("  \n<speak xmlns='http://www.w3.org/2001/10/synthesis'>Hi</speak>", True),
        ('<?xml version="1.0"?>\n<speak>Hi</speak>', True),
        ("<speak/>", True),
        ("<!DOCTYPE speak><speak>Hi</speak>", True),  # read as SSML, then refused
        ("Hello <speak>there</speak>", False),
        ("<speaker>Bob</speaker> said hi", False),
        ("The cat sat.", False),
    ],
)
def test_which_texts_are_ssml(text: str, expected: bool) -> None:
    assert is_ssml(text) is expected


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            "<speak>\n<p>One\n<s>two</p>\n</speak>",
            "SSML is not well-formed: mismatched tag at line 3",
        ),
        ("<speak>a &nbsp; b</speak>", "SSML is not well-formed: undefined entity at line 1"),
        ("<speak>a</speak> trailing", "SSML is not well-formed: junk after document element"),
        ("<speak>unclosed", "SSML is not well-formed: no element found at line 1"),
        (
            '<!DOCTYPE speak [<!ENTITY a "aaaa">]><speak>&a;</speak>',
            "SSML must not contain DOCTYPE or ENTITY declarations (line 1)",
        ),
        (
            '<?xml version="1.0"?>\n<!DOCTYPE speak SYSTEM "file:///etc/passwd">\n<speak/>',
            "SSML must not contain DOCTYPE or ENTITY declarations (line 2)",
        ),
        ('<speak><break time="soon"/></speak>', "break time 'soon' at line 1 is not like 500ms"),
        ('<speak><break time="11s"/></speak>', "break time at line 1 is over 10000 ms"),
        ('<speak><break strength="huge"/></speak>', "break strength 'huge' at line 1 is not one"),
        ('<speak><prosody rate="zoom">x</prosody></speak>', "prosody rate 'zoom' at line 1"),
        ('<speak><prosody rate="0%">x</prosody></speak>', "prosody rate '0%'"),
        ('<speak><prosody pitch="200Hz">x</prosody></speak>', "prosody pitch '200Hz'"),
        ('<?xml version="1.0"?><p>Not speech</p>', "SSML must have <speak> as its root"),
        ("<speak>" + "<voice>" * 150 + "x" + "</voice>" * 150 + "</speak>", "nested more than"),
    ],
)
def test_check_text_names_the_problem(doc: str, message: str) -> None:
    problem = check_text(doc)
    assert problem is not None and message in problem
    with pytest.raises(tts.EngineError, match="SSML"):
        plain(doc)


@pytest.mark.parametrize(
    "text",
    [
        "Just a chapter. With <angle brackets> & ampersands.",
        "<speak>Fine <break time='500ms'/> and "
        "<prosody rate='80%' pitch='+2st'>well</prosody>.</speak>",
        '<?xml version="1.0" encoding="ISO-8859-1"?><speak>Caf\u00e9 \u00fcber alles</speak>',
        "<speak></speak>",
    ],
)
def test_check_text_accepts_plain_text_and_good_ssml(text: str) -> None:
    assert check_text(text) is None


def test_entity_expansion_is_refused_at_once() -> None:
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10))
    started = time.monotonic()
    assert "DOCTYPE" in (check_text(f"<!DOCTYPE speak [{lol}]><speak>&l9;</speak>") or "")
    assert time.monotonic() - started < 5


def test_xml_declaration_is_dropped_and_lines_still_count() -> None:
    doc = '<?xml version="1.0" encoding="ISO-8859-1"?>\n<speak>\nCaf\u00e9 <b>x</speak>'
    assert check_text(doc) == "SSML is not well-formed: mismatched tag at line 3"
    assert parse('<?xml version="1.0" encoding="ISO-8859-1"?><speak>Caf\u00e9</speak>').text() == (
        "Caf\u00e9"
    )


def test_plain_rendering_of_the_subset() -> None:
    doc = """<speak>
      <p>Read by <sub alias="the World Wide Web Consortium">W3C</sub>, letter by letter:
      <say-as interpret-as="characters">cat</say-as> and
      <say-as interpret-as="spell-out">a1</say-as>.</p>
      <p><say-as interpret-as="cardinal">1,234</say-as> <say-as interpret-as="ordinal">3</say-as>
      <say-as interpret-as="date" format="dmy">05/03/2024</say-as>
      <say-as interpret-as="telephone">555-0123</say-as>
      <say-as interpret-as="unheard-of">as is</say-as></p>
      <p><phoneme alphabet="ipa" ph="t\u0259\u02c8m\u0251\u02d0to\u028a">tomato</phoneme>
      <voice name="someone">voiced</voice> <emphasis>stressed</emphasis>
      <custom>unknown <nested>element</nested></custom> &amp; Mr. Smith's 2 cats.</p>
    </speak>"""
    texts = [text for c in plain(doc) for text, _ in plain_runs(c.text)]
    assert texts == [
        "Read by the World Wide Web Consortium, letter by letter: C A T and A one.",
        "one thousand two hundred thirty-four third March fifth, twenty twenty-four "
        "five five five, zero one two three as is",
        "tomato voiced stressed unknown element & Mister Smith's two cats.",
    ]


def test_paragraph_sentence_and_break_pauses() -> None:
    doc = (
        '<speak><break time="1.5s"/><p><s>One</s><s>two</s></p><p>Three. Four.'
        '<break strength="x-strong"/> Five <break time="300ms"/><break time="200ms"/>six'
        '<break strength="none"/></p><p>Seven</p></speak>'
    )
    chunks = plain(doc)
    assert [(words_of([c]), c.pause_after_ms) for c in chunks] == [
        ([], 1500),  # silence before the first word
        (["One"], 250),
        (["two"], 600),
        (["Three."], 250),
        (["Four."], 1200),
        (["Five"], 500),  # breaks in a row add up
        (["six"], 0),  # strength none: no pause, even at a paragraph end
        (["Seven"], 600),  # the chapter's end
    ]
    custom = plain(doc, sentence_pause_ms=100, paragraph_pause_ms=900)
    assert [c.pause_after_ms for c in custom] == [1500, 100, 900, 100, 1200, 500, 0, 900]


def test_blank_lines_in_ssml_text_are_paragraphs() -> None:
    chunks = plain("<speak>First part\n\n  second part</speak>")
    assert [(words_of([c]), c.pause_after_ms) for c in chunks] == [
        (["First", "part"], 600),
        (["second", "part"], 600),
    ]


def test_ssml_engine_chunks_keep_the_markup_as_small_documents() -> None:
    doc = (
        "<speak><p>The <emphasis level='strong'>big</emphasis> dog. "
        "<prosody rate='slow' pitch='low'>It is <say-as interpret-as='characters'>ok</say-as>"
        "</prosody>, <sub alias='sort of'>s/o</sub> &lt;fine&gt;.</p></speak>"
    )
    chunks = prepare_chunks(doc, Voice(), SsmlEngine())  # type: ignore[arg-type]
    assert [c.text for c in chunks] == [
        '<speak>The <emphasis level="strong">big</emphasis> dog.</speak>',
        '<speak><prosody rate="75%" pitch="80%">It is</prosody> <prosody rate="75%" pitch="80%">'
        '<say-as interpret-as="characters">ok</say-as></prosody>, sort of &lt;fine&gt;.</speak>',
    ]
    assert [c.pause_after_ms for c in chunks] == [250, 600]
    for chunk in chunks:
        assert parse(chunk.text).tag == "speak"


def test_prosody_rate_becomes_the_speed_of_the_chunk(recorder: Recorder) -> None:
    doc = (
        "<speak>Normal words <prosody rate='x-slow'>slow words <prosody rate='200%'>back to "
        "normal</prosody></prosody>, <prosody rate='1.5' pitch='+50%'>quick</prosody>. "
        "<prosody rate='x-fast'>Very fast.</prosody></speak>"
    )
    voice = Voice(engine="recorder", name="any", speed=2.0)
    chunks = prepare_chunks(doc, voice, recorder)
    for chunk in chunks:
        synthesize_chunk("recorder", chunk.text, voice.to_dict())
    assert recorder.calls == [
        ("Normal words", 2.0, None),
        ("slow words", 1.0, None),
        ("back to normal,", 2.0, None),  # the glued comma goes with the words before it
        ("quick.", 3.0, 1.5),
        ("Very fast.", 3.5, None),
    ]
    assert [c.pause_after_ms for c in chunks] == [0, 0, 0, 250, 600]


def test_speed_from_prosody_stays_within_bounds(recorder: Recorder) -> None:
    voice = Voice(engine="recorder", name="any", speed=3.0, pitch=1.8)
    doc = "<speak><prosody rate='x-fast' pitch='x-high'>Fast</prosody></speak>"
    for chunk in prepare_chunks(doc, voice, recorder):
        synthesize_chunk("recorder", chunk.text, voice.to_dict())
    assert recorder.calls == [("Fast", 4.0, 2.0)]


def test_plain_text_that_only_looks_like_ssml_is_read_as_it_is(recorder: Recorder) -> None:
    voice = Voice(engine="recorder", name="any").to_dict()
    synthesize_chunk("recorder", "<speak>unclosed, read as text", voice)
    synthesize_chunk("recorder", "Plain words.", voice)
    assert recorder.calls == [
        ("<speak>unclosed, read as text", 1.0, None),
        ("Plain words.", 1.0, None),
    ]
    # A plain chapter with markup inside is not SSML, and is split as before.
    chunks = prepare_chunks("Hello. <speak>there</speak> and <b>more</b>.", Voice(), recorder)
    assert [c.text for c in chunks] == ["Hello.", "<speak>there</speak> and <b>more</b>."]


def test_an_empty_document_gives_no_chunks() -> None:
    assert plain("<speak>  </speak>") == []
    assert plain("<speak><p/><s></s><mark name='x'/></speak>") == []


def test_long_sentences_split_at_clauses_then_words() -> None:
    doc = (
        "<speak>When the rain came, we ran <emphasis>inside</emphasis>; the dog, however, "
        "stayed out: it loved the rain.</speak>"
    )
    chunks = prepare_chunks(doc, Voice(), PlainEngine(40))  # type: ignore[arg-type]
    assert [" ".join(words_of([c])) for c in chunks] == [
        "When the rain came, we ran inside;",
        "the dog, however, stayed out:",
        "it loved the rain.",
    ]
    assert [c.pause_after_ms for c in chunks] == [83, 83, 600]
    tiny = prepare_chunks("<speak>a bbbbbbbbbbbbbbbbbbbbbbbbb c</speak>", Voice(), PlainEngine(10))  # type: ignore[arg-type]
    assert [words_of([c]) for c in tiny] == [["a"], ["bbbbbbbbbb"], ["bbbbbbbbbb"], ["bbbbb", "c"]]


_WORDS = "the cat sat on a mat and then it ran far away, quickly. slowly! why? Yes no".split()
_INLINE = [
    ("<emphasis>", "</emphasis>"),
    ("<prosody rate='fast'>", "</prosody>"),
    ("<prosody rate='70%' pitch='-10%'>", "</prosody>"),
    ("<voice name='x'>", "</voice>"),
    ("<unknown>", "</unknown>"),
    ("<phoneme alphabet='x-sampa' ph='x'>", "</phoneme>"),  # not IPA: read as text
]


def random_doc(rng: random.Random, size: int) -> tuple[str, list[str]]:
    """A random SSML document and the words it holds, in order."""
    words: list[str] = []

    def inline(depth: int) -> str:
        parts: list[str] = []
        for _ in range(rng.randint(1, 8)):
            roll = rng.random()
            if roll < 0.15 and depth < 4:
                opening, closing = rng.choice(_INLINE)
                parts.append(opening + inline(depth + 1) + closing)
            elif roll < 0.2:
                parts.append(
                    rng.choice(["<break/>", "<break time='300ms'/>", "<break strength='weak'/>"])
                )
            else:
                word = rng.choice(_WORDS)
                if rng.random() < 0.02:
                    word = "x" * rng.randint(30, 120)
                words.append(word)
                parts.append(word)
        return rng.choice([" ", "  ", "\n"]).join(parts)

    body: list[str] = []
    for _ in range(size):
        roll = rng.random()
        if roll < 0.3:
            body.append("<p>" + inline(0) + "</p>")
        elif roll < 0.5:
            body.append("<s>" + inline(0) + "</s>")
        else:
            body.append(inline(0))
    return "<speak>\n" + "\n".join(body) + "\n</speak>", words


@pytest.mark.parametrize("seed", range(25))
def test_no_word_of_the_ssml_is_ever_lost(seed: int) -> None:
    rng = random.Random(seed)
    doc, words = random_doc(rng, rng.randint(1, 60))
    assert check_text(doc) is None
    max_chars = rng.choice([5, 40, 120, 1000])
    for engine in (PlainEngine(max_chars), SsmlEngine(max_chars)):
        chunks = prepare_chunks(doc, Voice(), engine)  # type: ignore[arg-type]
        got = words_of(chunks)
        if all(len(w) <= max_chars for w in words):
            assert got == words
        assert "".join(got) == "".join(words)  # long words are cut, never dropped
        for chunk in chunks:
            assert parse(chunk.text).tag == "speak"
            assert 0 <= chunk.pause_after_ms <= 10_000
            assert len(" ".join(text for text, _ in plain_runs(chunk.text))) <= max(max_chars, 1)
