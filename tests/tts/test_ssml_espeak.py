"""SSML chapters read by the real espeak-ng: its markup reaches the engine and is heard."""

from __future__ import annotations

from typing import Any

import pytest

from ttsqueue import tts
from ttsqueue.models import Voice
from ttsqueue.tts import espeak_lib, get_engine, prepare_chunks, silence, synthesize_chunk

LONG = (
    "The cat sat on the mat, and then it looked out of the window for a long while, "
    "watching the birds in the garden."
)


def chapter(doc: str, voice: Voice | None = None) -> tuple[bytes, int]:
    """The chapter's audio as the worker builds it: each chunk, then its pause."""
    voice = voice or Voice()
    out: list[bytes] = []
    rate = 22050
    for chunk in prepare_chunks(doc, voice, get_engine(voice.engine)):
        speech = synthesize_chunk(voice.engine, chunk.text, voice.to_dict())
        rate = speech.sample_rate
        out.append(speech.pcm + silence(chunk.pause_after_ms, rate))
    return b"".join(out), rate


def seconds(doc: str, voice: Voice | None = None) -> float:
    pcm, rate = chapter(doc, voice)
    return len(pcm) / 2 / rate


def test_espeak_declares_ssml_and_receives_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert getattr(get_engine("espeak"), "accepts_ssml", False) is True
    calls: list[tuple[str, bool]] = []
    original = espeak_lib.synthesize

    def spy(text: str, voice: str, **kwargs: Any) -> tuple[bytes, int]:
        calls.append((text, bool(kwargs.get("ssml"))))
        return original(text, voice, **kwargs)

    monkeypatch.setattr(espeak_lib, "synthesize", spy)
    pcm, _ = chapter("<speak>A <emphasis>big</emphasis> cat.</speak>")
    assert calls == [('<speak>A <emphasis level="moderate">big</emphasis> cat.</speak>', True)]
    assert len(pcm) > 0
    calls.clear()
    chapter("A plain chapter.")
    assert calls == [("A plain chapter.", False)]


def test_a_two_second_break_adds_about_two_seconds() -> None:
    without = seconds("<speak>The cat sat on the mat and looked at the birds.</speak>")
    with_break = seconds(
        '<speak>The cat sat on the mat and <break time="2s"/> looked at the birds.</speak>'
    )
    assert 1.7 < with_break - without < 2.7


def test_prosody_rate_changes_the_duration() -> None:
    normal = seconds(f"<speak>{LONG}</speak>")
    slow = seconds(f'<speak><prosody rate="x-slow">{LONG}</prosody></speak>')
    fast = seconds(f'<speak><prosody rate="x-fast">{LONG}</prosody></speak>')
    assert slow > 1.4 * normal
    assert fast < 0.8 * normal
    # ... relative to the voice's own speed
    quick_voice = Voice(speed=2.0)
    assert seconds(f'<speak><prosody rate="50%">{LONG}</prosody></speak>', quick_voice) == (
        pytest.approx(normal, rel=0.2)
    )


def test_prosody_pitch_changes_the_audio() -> None:
    low, _ = chapter('<speak><prosody pitch="x-low">The cat sat.</prosody></speak>')
    high, _ = chapter('<speak><prosody pitch="x-high">The cat sat.</prosody></speak>')
    assert low != high


def test_say_as_characters_spells_the_word() -> None:
    word = seconds("<speak>cat</speak>")
    spelled = seconds('<speak><say-as interpret-as="characters">cat</say-as></speak>')
    assert spelled > word + 0.15
    # A plain engine gets the letters from us, and they take as long to say.
    letters = seconds("<speak>C A T</speak>")
    assert spelled == pytest.approx(letters, rel=0.35)


def test_the_voice_still_chooses_the_language() -> None:
    text = "<speak>Der Hund l\u00e4uft schnell \u00fcber die Stra\u00dfe.</speak>"
    german, _ = chapter(text, Voice(name="de"))
    english, _ = chapter(text, Voice(name="en-us"))
    assert german != english


def test_bad_ssml_fails_as_an_engine_error() -> None:
    with pytest.raises(tts.EngineError, match="mismatched tag"):
        prepare_chunks("<speak><p>x</s></speak>", Voice(), get_engine("espeak"))
