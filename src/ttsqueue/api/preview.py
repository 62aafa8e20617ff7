"""Voice previews: a short clip of one voice reading a line, made in the API process.

A preview is bounded three ways before any work: the text's length
(``settings.preview_max_chars``), the clip's length (:data:`MAX_CLIP_S`, longer speech is
cut) and the caller's rate (``settings.previews_per_minute``, as submissions are
limited); at most two are synthesized at once per API process. Clips are cached in
memory by voice and text (:class:`ClipCache`), so the same preview asked again costs
nothing and does not count against the rate.
"""

from __future__ import annotations

import tempfile
from collections import OrderedDict
from pathlib import Path

from ttsqueue import tts
from ttsqueue.audio.encode import encode
from ttsqueue.audio.loudness import Target, normalize
from ttsqueue.models import Voice

MAX_CLIP_S = 20.0
DEFAULT_TEXT = "Hello! This is how I sound reading your book aloud."
FORMAT, MEDIA_TYPE = "mp3", "audio/mpeg"

Key = tuple[str, str, float, str]


class ClipCache:
    """The most recently asked clips, at most ``max_bytes`` of them."""

    def __init__(self, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._clips: OrderedDict[Key, bytes] = OrderedDict()
        self._size = 0

    def get(self, key: Key) -> bytes | None:
        clip = self._clips.get(key)
        if clip is not None:
            self._clips.move_to_end(key)
        return clip

    def put(self, key: Key, clip: bytes) -> None:
        if key in self._clips or len(clip) > self.max_bytes:
            return
        self._clips[key] = clip
        self._size += len(clip)
        while self._size > self.max_bytes:
            _, old = self._clips.popitem(last=False)
            self._size -= len(old)


def make_clip(voice: Voice, text: str, target: Target) -> bytes:
    """``voice`` reading ``text`` (cut to :data:`MAX_CLIP_S`), at the book's loudness, as
    MP3 bytes. Blocking: run it in a thread."""
    engine = tts.get_engine(voice.engine)
    pcm: list[bytes] = []
    rate = 22050
    budget = 0
    for chunk in tts.prepare_chunks(text, voice, engine):
        speech = tts.synthesize_chunk(voice.engine, chunk.text, voice.to_dict())
        rate = speech.sample_rate
        pcm += [speech.pcm, tts.silence(chunk.pause_after_ms, rate)]
        budget += len(speech.pcm) // 2 + chunk.pause_after_ms * rate // 1000
        if budget >= MAX_CLIP_S * rate:
            break
    audio = b"".join(pcm)[: int(MAX_CLIP_S * rate) * 2]
    audio = normalize(audio, rate, target) if audio else tts.silence(250, rate)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"preview.{FORMAT}"
        encode(audio, rate, FORMAT, path)
        return path.read_bytes()
