"""Read-along subtitles: one cue per sentence, timed from the synthesis itself.

While a chapter is synthesized, each chunk (a sentence, or a piece of a long one) comes
back as PCM; :func:`speech_span` finds where in it the voice actually sounds (the engine
pads its output with a little silence), and the chapter's cues are those spans laid end
to end with the pauses between them, shifted by the silence before the chapter. They are
kept beside the chapter's audio as JSON (:func:`dump` / :func:`load`) and rendered as
WebVTT or SRT on request, per chapter or for the whole book (each chapter's cues shifted
to where the chapter starts in the book).
"""

from __future__ import annotations

import array
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

FORMATS = ("vtt", "srt")
CONTENT_TYPES = {"vtt": "text/vtt; charset=utf-8", "srt": "application/x-subrip; charset=utf-8"}
QUIET = 300  # |sample| at or below this (about -40 dBFS) counts as silence
_TAGS = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Cue:
    start_s: float
    end_s: float
    text: str

    def shifted(self, offset_s: float) -> Cue:
        return Cue(self.start_s + offset_s, self.end_s + offset_s, self.text)


def speech_span(pcm: bytes) -> tuple[int, int]:
    """(first, last + 1) sample of ``pcm`` (16-bit mono) louder than silence; (0, 0)
    when it is silent throughout."""
    samples = array.array("h", pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    n = len(samples)
    first = next((i for i in range(n) if abs(samples[i]) > QUIET), n)
    if first == n:
        return 0, 0
    last = next(i for i in range(n - 1, first - 1, -1) if abs(samples[i]) > QUIET)
    return first, last + 1


def cue_text(chunk: str) -> str:
    """The words of a chunk as a reader sees them: SSML markup removed, entities
    decoded, whitespace collapsed, and nothing that could end a cue early."""
    from html import unescape

    text = unescape(_TAGS.sub(" ", chunk)) if chunk.startswith("<speak") else chunk
    text = _SPACE.sub(" ", text).strip()
    return text.replace("-->", "\u2192")


def dump(cues: Sequence[Cue]) -> str:
    return json.dumps([[round(c.start_s, 3), round(c.end_s, 3), c.text] for c in cues])


def load(data: str) -> list[Cue]:
    return [Cue(float(s), float(e), str(t)) for s, e, t in json.loads(data)]


def _stamp(seconds: float, separator: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def to_vtt(cues: Iterable[Cue]) -> str:
    lines = ["WEBVTT", ""]
    for n, cue in enumerate(cues, 1):
        lines += [
            str(n),
            f"{_stamp(cue.start_s, '.')} --> {_stamp(cue.end_s, '.')}",
            cue.text,
            "",
        ]
    return "\n".join(lines)


def to_srt(cues: Iterable[Cue]) -> str:
    lines: list[str] = []
    for n, cue in enumerate(cues, 1):
        lines += [
            str(n),
            f"{_stamp(cue.start_s, ',')} --> {_stamp(cue.end_s, ',')}",
            cue.text,
            "",
        ]
    return "\n".join(lines)


def render(cues: Iterable[Cue], fmt: str) -> str:
    return to_vtt(cues) if fmt == "vtt" else to_srt(cues)
