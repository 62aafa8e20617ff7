# IPA symbols look like Latin letters on purpose here.
# ruff: noqa: RUF001
"""Pronunciation lexicons and <phoneme>: what reaches each engine changes for the words
in the lexicon, and for no other word."""

from __future__ import annotations

import time

import pytest

from tests.tts.test_ssml import PlainEngine, SsmlEngine
from ttsqueue.models import Voice
from ttsqueue.tts import check_text, prepare_chunks
from ttsqueue.tts.espeak import phoneme_input
from ttsqueue.tts.ipa import espeak_phonemes, problem, to_espeak
from ttsqueue.tts.lexicon import (
    MAX_ENTRIES,
    Entry,
    Lexicon,
    LexiconError,
    check_entries,
)
from ttsqueue.tts.ssml_chunks import plain_runs

HERMIONE_IPA = "hɜːˈmaɪəni"
TEXT = (
    "Hermione met Dr Who at the station. The dr   who clock read 3:15;\n\n"
    "nobody said HERMIONE's name. Hermione-like echoes & <noise>."
)


def lexicon(*entries: Entry) -> Lexicon:
    return Lexicon(check_entries(list(entries)))


def engine_words(text: str, *, ipa_input: bool = False) -> list[str]:
    chunks = prepare_chunks(text, Voice(), PlainEngine())  # type: ignore[arg-type]
    words = []
    for chunk in chunks:
        if chunk.text.startswith("<speak>"):
            words += [w for r, _ in plain_runs(chunk.text, ipa_input=ipa_input) for w in r.split()]
        else:
            words += chunk.text.split()
    return words


def test_an_alias_changes_only_its_words() -> None:
    before = " ".join(engine_words(TEXT))
    after = " ".join(engine_words(lexicon(Entry("dr who", alias="Time Lord")).apply(TEXT)))
    assert "Doctor Who" in before and "dr who" in before  # the normaliser reads "Dr" as Doctor
    # the two matches change; every other word reaches the engine exactly as before
    assert after == before.replace("Doctor Who", "Time Lord").replace("dr who", "Time Lord")


def test_a_phoneme_reaches_an_ipa_engine_as_ipa_and_others_as_the_word() -> None:
    applied = lexicon(Entry("Hermione", phoneme=HERMIONE_IPA)).apply(TEXT)
    assert applied.startswith("<speak>")
    ipa_words = engine_words(applied, ipa_input=True)
    # "Hermione" and "HERMIONE's" (a possessive), not "Hermione-like" (another word)
    assert ipa_words.count(f"[[{HERMIONE_IPA}]]") == 1
    assert f"[[{HERMIONE_IPA}]]'s" in ipa_words
    assert engine_words(applied) == engine_words(TEXT)  # no IPA: the words as written


def test_ssml_engines_get_the_phoneme_markup_and_espeak_its_own_alphabet() -> None:
    applied = lexicon(Entry("Hermione", phoneme=HERMIONE_IPA)).apply("Hello Hermione.")
    chunks = prepare_chunks(applied, Voice(), SsmlEngine())  # type: ignore[arg-type]
    assert f'<phoneme alphabet="ipa" ph="{HERMIONE_IPA}">Hermione</phoneme>' in chunks[0].text
    converted, phonemes = phoneme_input(chunks[0].text)
    assert phonemes and "[[h3:'maI@ni]]" in converted and "Hermione" not in converted


def test_no_match_leaves_the_text_as_it_is() -> None:
    assert lexicon(Entry("Zaphod", alias="Zay fod")).apply(TEXT) == TEXT


def test_case_and_whole_words() -> None:
    lx = lexicon(Entry("NASA", alias="Nasa", match_case=True), Entry("sam", alias="Samuel"))
    out = lx.apply("NASA nasa Sam sam samwise SAM.")
    assert out.count("<sub") == 4  # NASA, Sam, sam, SAM; not nasa, not samwise
    assert '<sub alias="Nasa">NASA</sub> nasa' in out


def test_ssml_chapters_keep_their_markup_and_existing_subs() -> None:
    doc = '<speak><p>Hermione <sub alias="x">Hermione</sub> <break time="1s"/>end</p></speak>'
    out = lexicon(Entry("Hermione", alias="Her my oh nee")).apply(doc)
    assert out.count("Her my oh nee") == 1 and '<sub alias="x">Hermione</sub>' in out
    assert check_text(out) is None
    assert '<break time="1s"' in out


def test_later_entries_win() -> None:
    lx = lexicon(Entry("Io", alias="Eye oh"), Entry("io", alias="Ee oh"))
    assert 'alias="Ee oh"' in lx.apply("Io")


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        (Entry("a.*b", alias="x"), "lexicon.0.grapheme"),  # no patterns
        (Entry("", alias="x"), "lexicon.0.grapheme"),
        (Entry("one two three four five six seven", alias="x"), "lexicon.0.grapheme"),
        (Entry("x" * 101, alias="x"), "lexicon.0.grapheme"),
        (Entry("word"), "lexicon.0"),  # neither alias nor phoneme
        (Entry("word", alias="a", phoneme="a"), "lexicon.0"),
        (Entry("word", phoneme="hello€"), "lexicon.0.phoneme"),
        (Entry("word", alias="a\x00b"), "lexicon.0.alias"),
        (Entry("word", alias="x" * 201), "lexicon.0.alias"),
    ],
)
def test_bad_entries_name_their_field(entry: Entry, field: str) -> None:
    with pytest.raises(LexiconError) as raised:
        check_entries([entry])
    assert raised.value.field == field


def test_entry_count_is_limited() -> None:
    with pytest.raises(LexiconError):
        check_entries([Entry(f"w{i}", alias="x") for i in range(MAX_ENTRIES + 1)])


def test_matching_is_linear() -> None:
    lx = lexicon(*(Entry(f"a{i} b c d e f", alias="x") for i in range(MAX_ENTRIES)))
    text = " ".join(["a1 b c d e"] * 40_000)  # every word starts a near miss
    started = time.perf_counter()
    assert lx.apply(text) == text
    assert time.perf_counter() - started < 10  # ~1 s on a loaded 2-core machine


def test_ipa_to_espeak() -> None:
    assert to_espeak(HERMIONE_IPA) == "h3:'maI@ni"
    assert to_espeak("ˈtʃiːz") == "'tSi:z"
    assert to_espeak("ˈθɪŋk") == "'TINk"
    assert espeak_phonemes("") is None
    assert problem("ˈtʃiːz") is None
    assert problem("abc") is not None  # 'c' is not an IPA phoneme


def test_ssml_phoneme_with_unknown_symbols_is_refused_at_the_door() -> None:
    assert check_text('<speak><phoneme alphabet="ipa" ph="q€">x</phoneme></speak>')
    assert check_text('<speak><phoneme alphabet="ipa" ph="tʃiːz">x</phoneme></speak>') is None
    # another alphabet is read as its text, as before
    assert check_text('<speak><phoneme alphabet="x-sampa" ph="tS">x</phoneme></speak>') is None
