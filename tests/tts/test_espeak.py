"""The espeak-ng engine, through the real library."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

from ttsqueue.models import Voice
from ttsqueue.tts import (
    EngineError,
    Speech,
    check_voice,
    engine_names,
    get_engine,
    list_voices,
    prepare_chunks,
    silence,
    synthesize_chunk,
)
from ttsqueue.tts.espeak import pitch_for, rate_for

SHORT = "The cat sat on the mat."
LONG = (
    "The cat sat on the mat, and then it looked out of the window for a long while, "
    "watching the birds in the garden and the clouds drifting over the distant hills."
)


def speak(text: str, **voice: object) -> Speech:
    return get_engine("espeak").synthesize(text, Voice(**voice))  # type: ignore[arg-type]


def rms(pcm: bytes) -> float:
    samples = memoryview(pcm).cast("h")
    return (sum(s * s for s in samples) / max(1, len(samples))) ** 0.5


def test_espeak_is_always_available() -> None:
    assert "espeak" in engine_names()
    engine = get_engine("espeak")
    assert engine is get_engine("espeak")  # cached per process
    assert engine.name == "espeak"
    assert engine.max_chunk_chars >= 200


def test_speech_is_audible_16_bit_pcm() -> None:
    speech = speak(SHORT)
    assert speech.sample_rate == 22050 == getattr(get_engine("espeak"), "sample_rate", None)
    assert len(speech.pcm) % 2 == 0
    assert 0.5 < speech.duration_s < 5
    assert rms(speech.pcm) > 300  # not silence


def test_duration_grows_with_text_length() -> None:
    assert speak(LONG).duration_s > 2 * speak(SHORT).duration_s


def test_speed_changes_duration() -> None:
    normal = speak(LONG).duration_s
    fast = speak(LONG, speed=2.0).duration_s
    slow = speak(LONG, speed=0.6).duration_s
    assert fast < 0.7 * normal
    assert slow > 1.3 * normal


def test_pitch_changes_the_audio_not_the_length() -> None:
    low = speak(SHORT, pitch=0.3)
    high = speak(SHORT, pitch=1.8)
    assert low.pcm != high.pcm
    assert abs(low.duration_s - high.duration_s) < 0.3 * low.duration_s


def test_rate_and_pitch_mapping_is_clamped() -> None:
    assert rate_for(1.0) == 175
    assert rate_for(2.0) == 350
    assert rate_for(0.1) == 80
    assert rate_for(10.0) == 450
    assert pitch_for(None) == 50
    assert pitch_for(2.0) == 100
    assert pitch_for(0.0) == 0


def test_empty_text_is_empty_speech() -> None:
    speech = speak("   ")
    assert speech.pcm == b""
    assert speech.duration_s == 0


def test_voice_list() -> None:
    voices = list_voices("espeak")
    names = {v.name for v in voices}
    assert {"en-us", "en-gb", "de", "fr-fr", "es"} <= names
    en_us = next(v for v in voices if v.name == "en-us")
    assert en_us.engine == "espeak"
    assert en_us.language == "en-us"
    assert "America" in en_us.description
    assert len(names) == len(voices)  # no duplicates
    assert en_us in list_voices()


@pytest.mark.parametrize(
    "name",
    [
        "en-us",
        "en",
        "en-gb",
        "de",
        "fr",
        "gmw/en-US",
        "EN-US",
        "en-us+f3",
        "en-gb",
        "fr-fr",
        "English (America)",
        "cmn",
    ],
)
def test_accepted_voice_names_speak(name: str) -> None:
    voice = Voice(name=name)
    assert check_voice(voice) is None
    assert speak("Hello.", name=name).duration_s > 0.2


@pytest.mark.parametrize("name", ["xx-yy", "vulcan", "", "en-us+nonsense", "../../etc", "+f3"])
def test_unknown_voice_is_rejected(name: str) -> None:
    message = check_voice(Voice(name=name))
    assert message == f"unknown voice {name!r} for engine espeak"
    with pytest.raises(EngineError, match="unknown voice"):
        speak("Hello.", name=name)


def test_check_voice_rejects_bad_settings() -> None:
    assert check_voice(Voice(engine="festival")) == (
        f"unknown engine 'festival' (available: {', '.join(engine_names())})"
    )
    assert "speed" in (check_voice(Voice(speed=0)) or "")
    assert "speed" in (check_voice(Voice(speed=float("nan"))) or "")
    assert "pitch" in (check_voice(Voice(pitch=3.0)) or "")
    assert "sentence_pause_ms" in (check_voice(Voice(sentence_pause_ms=-1)) or "")
    assert "paragraph_pause_ms" in (check_voice(Voice(paragraph_pause_ms=60_000)) or "")
    assert check_voice(Voice(speed=1.5, pitch=0.5, sentence_pause_ms=0)) is None


def test_get_engine_unknown() -> None:
    with pytest.raises(EngineError, match="unknown engine 'nope'"):
        get_engine("nope")


def test_silence() -> None:
    assert silence(1000, 22050) == bytes(44100)
    assert silence(0, 22050) == b""
    assert silence(-5, 22050) == b""


def test_synthesize_chunk_in_a_process_pool() -> None:
    voice = Voice(speed=1.2)
    chunks = prepare_chunks(
        "Dr. Smith arrived.\n\nHe paid $3.50. Then he left.", voice, get_engine("espeak")
    )
    assert [c.text for c in chunks] == [
        "Doctor Smith arrived.",
        "He paid three dollars and fifty cents.",
        "Then he left.",
    ]
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(
                synthesize_chunk, ["espeak"] * 3, [c.text for c in chunks], [voice.to_dict()] * 3
            )
        )
    assert all(r.sample_rate == 22050 and r.duration_s > 0.3 for r in results)
    assert results[1].duration_s > results[2].duration_s
    assert pickle.loads(pickle.dumps(results[0])) == results[0]


def test_synthesize_chunk_reports_unknown_voice() -> None:
    with pytest.raises(EngineError, match="unknown voice 'zz'"):
        synthesize_chunk("espeak", "Hello.", Voice(name="zz").to_dict())


def test_prepare_chunks_normalises_in_the_voice_language() -> None:
    engine = get_engine("espeak")
    german = prepare_chunks("Es kostet 3 Euro.", Voice(name="de"), engine)
    english = prepare_chunks("It costs 3 euros.", Voice(name="en-gb"), engine)
    assert [c.text for c in german] == ["Es kostet 3 Euro."]
    assert [c.text for c in english] == ["It costs three euros."]
