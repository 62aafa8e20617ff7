"""Even loudness: bring a chapter's PCM to a target integrated loudness without clipping.

Loudness is measured as ITU-R BS.1770 / EBU R 128 integrated loudness (K-weighted, gated)
and true peak, by FFmpeg's ``ebur128`` filter run through PyAV (no numpy). The gain that
reaches the target is applied in floating point; when that gain would push the true peak
over the ceiling, a look-ahead limiter (``alimiter``) holds the peaks under it and the
loudness is measured again and the gain corrected, a few rounds at most, so the result
lands on the target (within a fraction of a LU) with its peaks under the ceiling.
Silence (nothing above the gate) is left as it is.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import av.filter

from ttsqueue.audio.encode import pcm_frames

DEFAULT_TARGET_LUFS = -18.0
DEFAULT_TRUE_PEAK_DB = -3.0
MAX_GAIN_DB = 50.0  # a near-silent chapter is not blown up into noise
TOLERANCE_LU = 0.3
ROUNDS = 4
# The limiter works on sample peaks; between samples the signal can rise further (true
# peak), so it aims this far under the ceiling.
LIMIT_MARGIN_DB = 1.0


@dataclass(frozen=True, slots=True)
class Loudness:
    integrated_lufs: float  # -inf for silence
    true_peak_db: float  # dBTP; -inf for digital silence


@dataclass(frozen=True, slots=True)
class Target:
    integrated_lufs: float = DEFAULT_TARGET_LUFS
    true_peak_db: float = DEFAULT_TRUE_PEAK_DB


def _db(linear: float) -> float:
    return 20 * math.log10(linear) if linear > 0 else -math.inf


def _run(graph: av.filter.Graph, pcm: bytes, sample_rate: int) -> Iterator[av.AudioFrame]:
    for frame in pcm_frames(pcm, sample_rate):
        graph.push(frame)
        yield from _drain(graph)
    graph.push(None)
    yield from _drain(graph)


def _drain(graph: av.filter.Graph) -> Iterator[av.AudioFrame]:
    while True:
        try:
            frame = graph.pull()
        except (av.BlockingIOError, av.EOFError):
            return
        if isinstance(frame, av.AudioFrame):
            yield frame


def _graph(sample_rate: int, *chain: tuple[str, str]) -> av.filter.Graph:
    graph = av.filter.Graph()
    node = graph.add_abuffer(
        format="s16", sample_rate=sample_rate, layout="mono", time_base=Fraction(1, sample_rate)
    )
    for name, args in chain:
        nxt = graph.add(name, args)
        node.link_to(nxt)
        node = nxt
    sink = graph.add("abuffersink")
    node.link_to(sink)
    graph.configure()
    return graph


def measure(pcm: bytes, sample_rate: int) -> Loudness:
    """Integrated loudness (LUFS) and true peak (dBTP) of 16-bit mono PCM."""
    if not pcm:
        return Loudness(-math.inf, -math.inf)
    graph = _graph(sample_rate, ("ebur128", "metadata=1:peak=true"))
    meta: dict[str, str] = {}
    for frame in _run(graph, pcm, sample_rate):
        if frame.metadata:
            meta = dict(frame.metadata)
    integrated = float(meta.get("lavfi.r128.I", "-inf"))
    peak = float(meta.get("lavfi.r128.true_peak", "0"))
    if integrated <= -70.0:  # below the absolute gate: nothing to measure
        integrated = -math.inf
    return Loudness(integrated, _db(peak))


def apply_gain(pcm: bytes, sample_rate: int, gain_db: float, limit_db: float | None) -> bytes:
    """``pcm`` louder by ``gain_db``, its sample peaks held under ``limit_db`` dBFS by a
    look-ahead limiter when given; computed in floating point, never wrapped or clipped."""
    chain: list[tuple[str, str]] = [
        ("aformat", "sample_fmts=dbl"),
        ("volume", f"volume={gain_db:.4f}dB:precision=double"),
    ]
    if limit_db is not None:
        limit = min(1.0, max(0.0625, 10 ** (limit_db / 20)))
        chain.append(
            ("alimiter", f"limit={limit:.6f}:attack=5:release=50:level=false:latency=true")
        )
    chain.append(("aformat", "sample_fmts=s16"))
    graph = _graph(sample_rate, *chain)
    frames = _run(graph, pcm, sample_rate)
    return b"".join(bytes(frame.planes[0])[: frame.samples * 2] for frame in frames)


def normalize(pcm: bytes, sample_rate: int, target: Target) -> bytes:
    """``pcm`` at ``target``'s integrated loudness, true peak at most its ceiling."""
    first = measure(pcm, sample_rate)
    if not math.isfinite(first.integrated_lufs):
        return pcm
    ceiling = target.true_peak_db
    gain = min(MAX_GAIN_DB, target.integrated_lufs - first.integrated_lufs)
    limit: float | None = None
    out, now = pcm, first
    for _ in range(ROUNDS):
        if limit is None and first.true_peak_db + gain > ceiling:
            limit = ceiling - LIMIT_MARGIN_DB
        out = apply_gain(pcm, sample_rate, gain, limit)
        now = measure(out, sample_rate)
        if now.true_peak_db > ceiling:
            limit = (ceiling - LIMIT_MARGIN_DB if limit is None else limit) - (
                now.true_peak_db - ceiling + 0.1
            )
            continue
        error = target.integrated_lufs - now.integrated_lufs
        if abs(error) <= TOLERANCE_LU or gain >= MAX_GAIN_DB:
            break
        gain = min(MAX_GAIN_DB, gain + error)
    if now.true_peak_db > ceiling:  # never clip: give up loudness before peaks
        out = apply_gain(out, sample_rate, ceiling - now.true_peak_db - 0.1, None)
    return out
