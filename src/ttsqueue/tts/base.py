"""The TTS engine contract: what every engine offers and returns.

An engine turns one chunk of already-normalised text into 16-bit mono PCM. Engines are
created once per process (see :func:`ttsqueue.tts.get_engine`) and called from worker
pool processes, so ``synthesize`` is blocking and must be safe to call repeatedly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ttsqueue.models import Voice

# Bounds every engine accepts for Voice.speed and Voice.pitch (engines clamp further).
MIN_SPEED = 0.25
MAX_SPEED = 4.0
MIN_PITCH = 0.0
MAX_PITCH = 2.0
MAX_PAUSE_MS = 10_000
# Bounds a job's loudness target and true-peak ceiling must respect.
MIN_TARGET_LUFS, MAX_TARGET_LUFS = -40.0, -10.0
MIN_TRUE_PEAK_DB, MAX_TRUE_PEAK_DB = -9.0, 0.0

DEFAULT_SENTENCE_PAUSE_MS = 250
DEFAULT_PARAGRAPH_PAUSE_MS = 600


class EngineError(Exception):
    """An unknown engine or voice, or a failed synthesis. The message is shown to users."""


class EngineBusy(EngineError):
    """The engine asked to be called again in ``retry_after_s`` seconds (an HTTP 429 or
    503 with ``Retry-After``): the task waits that long without spending an attempt."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def __reduce__(self) -> tuple[type[EngineBusy], tuple[str, float]]:
        # crosses the process pool intact
        return (type(self), (str(self), self.retry_after_s))


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    engine: str
    name: str  # what goes in Voice.name
    language: str
    gender: str | None
    description: str


@dataclass(frozen=True, slots=True)
class Speech:
    """Synthesized audio: signed 16-bit little-endian mono PCM."""

    pcm: bytes
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate if self.sample_rate else 0.0


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a chapter for one ``synthesize`` call, and the silence after it."""

    text: str
    pause_after_ms: int


class Engine(Protocol):
    name: str
    max_chunk_chars: int  # the longest text one synthesize() call should get

    def voices(self) -> list[VoiceInfo]: ...

    def synthesize(self, text: str, voice: Voice) -> Speech:
        """Blocking; raises EngineError for an unknown voice or a failed synthesis."""
        ...


@runtime_checkable
class SpeaksSsml(Protocol):
    """Engines that read SSML themselves. An engine declares it with a class attribute
    ``accepts_ssml = True`` (engines without it, or with False, get plain text)."""

    accepts_ssml: bool

    def synthesize_ssml(self, ssml: str, voice: Voice) -> Speech:
        """Like ``synthesize`` for one well-formed ``<speak>`` document."""
        ...


@runtime_checkable
class ChecksVoices(Protocol):
    """Engines whose accepted voice names are more than their ``voices()`` list
    (espeak variants such as ``en-us+f3``, piper model paths)."""

    def check_voice_name(self, name: str) -> str | None:
        """None when the engine can speak with ``name``, else a user-facing message."""
        ...


@runtime_checkable
class KnowsLanguages(Protocol):
    """Engines that can tell the language a voice speaks (for text normalisation)."""

    def language_of(self, name: str) -> str | None:
        """A language code such as ``en-us`` or ``de``, or None when unknown."""
        ...
