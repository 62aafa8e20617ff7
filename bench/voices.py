"""Real-time factor of each voice: seconds of synthesis per second of speech.

Reads the sample book (``examples/sample-book.md``) with one voice at a time, in this
process, one thread, chunk by chunk as a worker does (loudness and encoding are not
counted). An RTF below 1 reads faster than real time.

    python -m bench.voices [engine:voice ...]    # default: espeak:en-us piper:en_US-joe-medium
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ttsqueue import tts
from ttsqueue.books import parse_text
from ttsqueue.models import Voice

BOOK = Path(__file__).resolve().parent.parent / "examples" / "sample-book.md"
DEFAULT_VOICES = ("espeak:en-us", "piper:en_US-joe-medium")


def real_time_factor(voice: Voice, text: str) -> tuple[float, float, float]:
    """(synthesis seconds, audio seconds, RTF) for ``text`` read by ``voice``."""
    engine = tts.get_engine(voice.engine)
    chunks = tts.prepare_chunks(text, voice, engine)
    tts.synthesize_chunk(voice.engine, "Warm up.", voice.to_dict())  # model load apart
    audio = 0.0
    start = time.perf_counter()
    for chunk in chunks:
        speech = tts.synthesize_chunk(voice.engine, chunk.text, voice.to_dict())
        audio += speech.duration_s + chunk.pause_after_ms / 1000
    spent = time.perf_counter() - start
    return spent, audio, spent / audio if audio else float("inf")


def main(argv: list[str]) -> int:
    book = parse_text(BOOK.read_text(encoding="utf-8"), markdown=True)
    text = "\n\n".join(c.text for c in book.chapters)
    for spec in argv or DEFAULT_VOICES:
        engine, _, name = spec.partition(":")
        voice = Voice(engine=engine, name=name)
        problem = tts.check_voice(voice)
        if problem:
            print(f"{spec}: {problem}")
            continue
        spent, audio, rtf = real_time_factor(voice, text)
        print(f"{spec}: {spent:.2f} s for {audio:.1f} s of speech, RTF {rtf:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
