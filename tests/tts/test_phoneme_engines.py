# IPA symbols look like Latin letters on purpose here.
# ruff: noqa: RUF001
"""<phoneme> and lexicon phonemes change what espeak-ng and piper say (real engines)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.skips import need_module
from ttsqueue.models import Voice
from ttsqueue.tts import get_engine, prepare_chunks, synthesize_chunk
from ttsqueue.tts.lexicon import Entry, Lexicon, check_entries


def speak(text: str, engine: str = "espeak", name: str = "en-us") -> bytes:
    voice = Voice(engine=engine, name=name)
    chunks = prepare_chunks(text, voice, get_engine(engine))
    return b"".join(synthesize_chunk(engine, c.text, voice.to_dict()).pcm for c in chunks)


CHEESE = '<phoneme alphabet="ipa" ph="ˈtʃiːz">xqzv</phoneme>'


def test_espeak_says_the_phonemes_not_the_letters() -> None:
    cheese = speak("<speak>Say cheese now.</speak>")
    spelled = speak("<speak>Say xqzv now.</speak>")  # no vowel: espeak-ng spells it out
    said = speak(f"<speak>Say {CHEESE} now.</speak>")
    assert abs(len(said) - len(cheese)) < 0.03 * len(cheese)
    assert len(spelled) > len(said) + 0.2 * len(cheese)


def test_an_espeak_lexicon_entry_changes_the_audio_of_its_word_only() -> None:
    lexicon = Lexicon(check_entries([Entry("xqzv", phoneme="ˈtʃiːz")]))
    assert lexicon.apply("Say it again.") == "Say it again."  # untouched: the same input
    applied = lexicon.apply("Say xqzv now.")
    assert applied == f"<speak>Say {CHEESE} now.</speak>"
    # espeak-ng varies a little from call to call: compare lengths, not bytes
    cheese = len(speak("<speak>Say cheese now.</speak>"))
    assert abs(len(speak(applied)) - cheese) < 0.03 * cheese
    assert len(speak("<speak>Say xqzv now.</speak>")) > cheese * 1.2


def test_text_in_double_brackets_stays_text_for_espeak() -> None:
    with_brackets = speak(f"<speak>[[ksks]] {CHEESE}</speak>")
    assert len(with_brackets) > len(speak(f"<speak>{CHEESE}</speak>")) + 10_000


def test_piper_maps_the_ipa_through_its_phoneme_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_module("onnxruntime")
    from tests.tts.test_piper import write_voice
    from ttsqueue.tts.piper import PiperEngine

    write_voice(tmp_path / "voices", "tiny")
    monkeypatch.setenv("TTSQUEUE_PIPER_VOICES_DIR", str(tmp_path / "voices"))
    model = PiperEngine().model("tiny")
    assert model.phonemes("[[ˈtʃiːz]]") == list("ˈtʃiːz")
    # the IPA reaches the model: the same ids as espeak-ng's own phonemes for "cheese"
    said = speak(
        '<speak><phoneme alphabet="ipa" ph="tʃˈiːz">xqzv</phoneme></speak>', "piper", "tiny"
    )
    assert said == speak("cheese", "piper", "tiny")
