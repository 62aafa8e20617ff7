"""Text to speech: engines, voices, and turning a chapter into chunks to synthesize.

The worker does::

    chunks = prepare_chunks(chapter_text, voice, get_engine(voice.engine))
    for chunk in chunks:  # in a process pool
        speech = synthesize_chunk(voice.engine, chunk.text, voice.to_dict())
        ... speech.pcm + silence(chunk.pause_after_ms, speech.sample_rate)

A chapter whose text is an SSML document (``<speak>...``, see :mod:`ttsqueue.tts.ssml`)
gives chunks that are small SSML documents themselves: engines that accept SSML
(``accepts_ssml``: espeak) read their markup, the others get our plain rendering.
:func:`check_text` tells a submitter what is wrong with a chapter's SSML.

Engines: ``espeak`` (always), ``piper`` (the ``[piper]`` extra and a voice model),
``openai`` (any OpenAI-compatible ``/v1/audio/speech`` server, when
``TTSQUEUE_OPENAI_BASE_URL`` is set).
"""

from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import replace
from typing import Any

from ttsqueue.models import Voice
from ttsqueue.tts.base import (
    DEFAULT_PARAGRAPH_PAUSE_MS,
    DEFAULT_SENTENCE_PAUSE_MS,
    MAX_PAUSE_MS,
    MAX_PITCH,
    MAX_SPEED,
    MIN_PITCH,
    MIN_SPEED,
    ChecksVoices,
    Chunk,
    Engine,
    EngineError,
    KnowsLanguages,
    SpeaksSsml,
    Speech,
    VoiceInfo,
)
from ttsqueue.tts.ssml import SsmlError, check, is_ssml, parse
from ttsqueue.tts.ssml_chunks import SPEAK_OPEN, plain_runs, ssml_chunks
from ttsqueue.tts.text import normalize, split_text

__all__ = [
    "Chunk",
    "Engine",
    "EngineError",
    "Speech",
    "VoiceInfo",
    "check_text",
    "check_voice",
    "engine_names",
    "get_engine",
    "list_voices",
    "prepare_chunks",
    "silence",
    "synthesize_chunk",
]

ALL_ENGINES = ("espeak", "piper", "openai", "noop")
_engines: dict[str, Engine] = {}


def _unavailable(name: str) -> str | None:
    """Why engine ``name`` cannot run here, or None when it can."""
    if name not in ALL_ENGINES:
        return f"unknown engine {name!r} (available: {', '.join(engine_names())})"
    if name == "piper" and (
        importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("numpy") is None
    ):
        return "engine 'piper' needs the piper extra: pip install 'ttsqueue[piper]'"
    if name == "openai" and not os.environ.get("TTSQUEUE_OPENAI_BASE_URL"):
        return "engine 'openai' is not configured (set TTSQUEUE_OPENAI_BASE_URL)"
    return None


def engine_names() -> list[str]:
    """The engines usable in this process."""
    return [name for name in ALL_ENGINES if _unavailable(name) is None]


def _create(name: str) -> Engine:
    if name == "espeak":
        from ttsqueue.tts.espeak import EspeakEngine

        return EspeakEngine()
    if name == "piper":
        from ttsqueue.tts.piper import PiperEngine

        return PiperEngine()
    if name == "noop":
        from ttsqueue.tts.noop import NoopEngine

        return NoopEngine()
    from ttsqueue.tts.openai_http import OpenAIEngine

    return OpenAIEngine.from_env()


def get_engine(name: str) -> Engine:
    """The engine called ``name``, created once per process."""
    engine = _engines.get(name)
    if engine is None:
        problem = _unavailable(name)
        if problem:
            raise EngineError(problem)
        engine = _engines[name] = _create(name)
    return engine


def list_voices(engine: str | None = None) -> list[VoiceInfo]:
    """The voices of one engine, or of every engine usable here."""
    names = [engine] if engine is not None else engine_names()
    return [info for name in names for info in get_engine(name).voices()]


def check_voice(voice: Voice) -> str | None:
    """None when ``voice`` can be used, else a message for the user naming the problem."""
    try:
        engine = get_engine(voice.engine)
    except EngineError as exc:
        return str(exc)
    if not (math.isfinite(voice.speed) and MIN_SPEED <= voice.speed <= MAX_SPEED):
        return f"speed must be between {MIN_SPEED} and {MAX_SPEED}"
    if voice.pitch is not None and not (
        math.isfinite(voice.pitch) and MIN_PITCH <= voice.pitch <= MAX_PITCH
    ):
        return f"pitch must be between {MIN_PITCH} and {MAX_PITCH}"
    for field in ("sentence_pause_ms", "paragraph_pause_ms"):
        value = getattr(voice, field)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PAUSE_MS
        ):
            return f"{field} must be a whole number from 0 to {MAX_PAUSE_MS}"
    try:
        if isinstance(engine, ChecksVoices):
            return engine.check_voice_name(voice.name)
        if voice.name not in {info.name for info in engine.voices()}:
            return f"unknown voice {voice.name!r} for engine {voice.engine}"
    except EngineError as exc:
        return str(exc)
    return None


def check_text(text: str) -> str | None:
    """None when a chapter's ``text`` can be read, else a message for the user naming the
    problem (malformed SSML, a DOCTYPE, a bad attribute value), such as ``SSML is not
    well-formed: mismatched tag at line 3``; the caller puts the field name in front."""
    return check(text)


def prepare_chunks(text: str, voice: Voice, engine: Engine) -> list[Chunk]:
    """Normalise ``text`` for the voice's language and split it into chunks ``engine``
    can read, with the pauses ``voice`` asks for (or the defaults) after sentences and
    paragraphs. SSML text gives SSML chunks (see :mod:`ttsqueue.tts.ssml_chunks`);
    EngineError when it cannot be read."""
    language = engine.language_of(voice.name) if isinstance(engine, KnowsLanguages) else None
    sentence = (
        DEFAULT_SENTENCE_PAUSE_MS if voice.sentence_pause_ms is None else voice.sentence_pause_ms
    )
    paragraph = (
        DEFAULT_PARAGRAPH_PAUSE_MS if voice.paragraph_pause_ms is None else voice.paragraph_pause_ms
    )
    if is_ssml(text):
        return ssml_chunks(
            text,
            language=language,
            max_chars=engine.max_chunk_chars,
            sentence_pause_ms=max(0, sentence),
            paragraph_pause_ms=max(0, paragraph),
            ssml=_accepts_ssml(engine),
        )
    return split_text(
        normalize(text, language),
        max_chars=engine.max_chunk_chars,
        sentence_pause_ms=max(0, sentence),
        paragraph_pause_ms=max(0, paragraph),
    )


def _accepts_ssml(engine: object) -> bool:
    return getattr(engine, "accepts_ssml", False) is True


def synthesize_chunk(engine_name: str, text: str, voice_dict: dict[str, Any]) -> Speech:
    """Synthesize one chunk; a module-level function so a process pool can run it.

    A chunk that is an SSML document (it starts with ``<speak`` and parses) goes to an
    engine that accepts SSML as it is; another engine reads its words, at the speed and
    pitch its prosody asks for. Anything else is plain text."""
    engine = get_engine(engine_name)
    voice = Voice.from_dict(voice_dict)
    if text.startswith(SPEAK_OPEN[:-1]):
        try:
            parse(text)
        except SsmlError:
            pass  # plain text that merely starts like SSML
        else:
            if isinstance(engine, SpeaksSsml) and _accepts_ssml(engine):
                return engine.synthesize_ssml(text, voice)
            return _synthesize_runs(engine, text, voice)
    return engine.synthesize(text, voice)


def _synthesize_runs(engine: Engine, ssml: str, voice: Voice) -> Speech:
    pcm: list[bytes] = []
    sample_rate = 0
    for words, style in plain_runs(ssml, ipa_input=getattr(engine, "accepts_ipa", False) is True):
        pitch = voice.pitch
        if style.pitch != 1:
            pitch = min(MAX_PITCH, max(MIN_PITCH, (1.0 if pitch is None else pitch) * style.pitch))
        speed = min(MAX_SPEED, max(MIN_SPEED, voice.speed * style.rate))
        speech = engine.synthesize(words, replace(voice, speed=speed, pitch=pitch))
        pcm.append(speech.pcm)
        sample_rate = speech.sample_rate
    if not pcm:
        return engine.synthesize("", voice)
    return Speech(b"".join(pcm), sample_rate)


def silence(ms: int, sample_rate: int) -> bytes:
    """``ms`` milliseconds of 16-bit mono silence."""
    return bytes(2 * max(0, ms * sample_rate // 1000))
