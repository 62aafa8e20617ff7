"""The no-op engine: a few milliseconds of silence for any text, at once.

Benchmarks use it to measure the queue itself: a job with a ``noop`` voice takes every
step a real job takes (claim, heartbeat, progress, encoding, assembly, completion,
events); only the synthesis is replaced by something that costs next to nothing.
"""

from __future__ import annotations

from ttsqueue.models import Voice
from ttsqueue.tts.base import EngineError, Speech, VoiceInfo

SAMPLE_RATE = 22050
SILENCE_MS = 10
VOICE = "silence"


class NoopEngine:
    name = "noop"
    max_chunk_chars = 100_000
    accepts_ssml = False
    sample_rate = SAMPLE_RATE

    def voices(self) -> list[VoiceInfo]:
        return [
            VoiceInfo(
                engine=self.name,
                name=VOICE,
                language="en",
                gender=None,
                description=f"{SILENCE_MS} ms of silence for any text (benchmarks)",
            )
        ]

    def synthesize(self, text: str, voice: Voice) -> Speech:
        if voice.name != VOICE:
            raise EngineError(f"unknown voice {voice.name!r} for engine noop")
        return Speech(bytes(2 * (SAMPLE_RATE * SILENCE_MS // 1000)), SAMPLE_RATE)
