"""Test audio: a sine tone as signed 16-bit little-endian mono PCM."""

from __future__ import annotations

import math
import struct


def sine(seconds: float, rate: int = 22050, freq: float = 440.0) -> bytes:
    n = round(seconds * rate)
    step = 2 * math.pi * freq / rate
    return struct.pack(f"<{n}h", *(round(8000 * math.sin(step * i)) for i in range(n)))
