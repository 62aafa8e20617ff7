"""Reading and writing WAV files as 16-bit mono PCM (only the standard library)."""

from __future__ import annotations

import struct
import sys
from array import array

from ttsqueue.tts.base import EngineError, Speech

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE


def to_wav(speech: Speech) -> bytes:
    """A complete WAV file holding ``speech``."""
    data = speech.pcm
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(data), b"WAVE",
        b"fmt ", 16, _PCM, 1, speech.sample_rate, speech.sample_rate * 2, 2, 16,
        b"data", len(data),
    )  # fmt: skip
    return header + data


def _samples(data: bytes, fmt: int, bits: int) -> array[int]:
    """The samples of ``data`` as 16-bit ints."""
    if fmt == _FLOAT and bits in (32, 64):
        floats = array("f" if bits == 32 else "d")
        floats.frombytes(data[: len(data) - len(data) % floats.itemsize])
        return array("h", (max(-32768, min(32767, int(f * 32767))) for f in floats))
    if fmt != _PCM:
        raise EngineError(f"unsupported WAV encoding {fmt}")
    if bits == 16:
        out = array("h")
        out.frombytes(data[: len(data) - len(data) % 2])
        return out
    if bits == 8:
        return array("h", ((b - 128) << 8 for b in data))
    if bits in (24, 32):
        step = bits // 8  # keep the two most significant bytes of each sample
        high = bytearray()
        for i in range(0, len(data) - step + 1, step):
            high += data[i + step - 2 : i + step]
        out = array("h")
        out.frombytes(bytes(high))
        return out
    raise EngineError(f"unsupported WAV sample size {bits} bits")


def read_wav(data: bytes) -> Speech:
    """16-bit mono PCM from a WAV file of PCM or float samples, any channel count. A data
    chunk whose size says "unknown" (streamed WAV) runs to the end of the file."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise EngineError("the speech server did not return a WAV file")
    pos = 12
    fmt = channels = rate = bits = 0
    while pos + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, pos)
        body = pos + 8
        if chunk_id == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if fmt == _EXTENSIBLE and size >= 26:
                fmt = struct.unpack_from("<H", data, body + 24)[0]
        elif chunk_id == b"data":
            if not rate or not channels:
                raise EngineError("WAV data before its format")
            end = len(data) if size in (0, 0xFFFFFFFF) else min(len(data), body + size)
            samples = _samples(data[body:end], fmt, bits)
            if sys.byteorder == "big":  # pragma: no cover
                samples.byteswap()
            if channels > 1:
                frames = len(samples) // channels
                samples = array(
                    "h",
                    (
                        sum(samples[i * channels : (i + 1) * channels]) // channels
                        for i in range(frames)
                    ),
                )
            return Speech(samples.tobytes(), rate)
        pos = body + size + (size & 1)
    raise EngineError("the WAV file has no audio data")
