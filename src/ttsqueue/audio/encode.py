"""PCM → one encoded audio file per chapter, with PyAV (its wheels carry FFmpeg).

Every duration this module reports is the length a decoder produces from the file, so
that chapter durations add up exactly when the chapters are joined into a book:

- mp3 carries a LAME/Xing header, so decoders drop the encoder delay and padding;
- opus carries the Ogg pre-skip and an exact final granule position;
- m4a is written without an edit list, every packet one whole 1024-sample AAC frame,
  so the file plays (and remuxes into an M4B) as exactly ``packets x 1024`` samples,
  a few dozen milliseconds more than the PCM (encoder priming and last-frame padding);
- flac and wav are lossless and exact.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
from av.audio.stream import AudioStream

CHAPTER_FORMAT: dict[str, str] = {
    "m4b": "m4a",
    "m4a": "m4a",
    "mp3": "mp3",
    "opus": "opus",
    "flac": "flac",
    "wav": "wav",
}

EXTENSIONS: dict[str, str] = {
    "m4b": ".m4b",
    "m4a": ".m4a",
    "mp3": ".mp3",
    "opus": ".opus",
    "flac": ".flac",
    "wav": ".wav",
}

CONTENT_TYPES: dict[str, str] = {
    "m4b": "audio/mp4",
    "m4a": "audio/mp4",
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "flac": "audio/flac",
    "wav": "audio/wav",
}

AAC_FRAME = 1024
_AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
_CHUNK_SAMPLES = 1 << 16  # PCM is fed to the encoder in pieces of this many samples


@dataclass(frozen=True, slots=True)
class Codec:
    """How one format is encoded: FFmpeg muxer and encoder, bit rate, sample rates."""

    container: str
    codec: str
    bit_rate: int = 0
    rates: tuple[int, ...] = ()  # the encoder's sample rates; empty = any
    fallback_rate: int = 24000  # used when the input rate is not in ``rates``
    options: dict[str, str] = field(default_factory=dict)
    container_options: dict[str, str] = field(default_factory=dict)

    def rate_for(self, sample_rate: int) -> int:
        if not self.rates or sample_rate in self.rates:
            return sample_rate
        return self.fallback_rate


CODECS: dict[str, Codec] = {
    # Speech at 64 kb/s mono; LAME quality 7 is the fast end with no audible cost here.
    "mp3": Codec("mp3", "libmp3lame", 64_000, _MP3_RATES, options={"compression_level": "7"}),
    "opus": Codec("ogg", "libopus", 32_000, (48000,), 48000, options={"compression_level": "5"}),
    "m4a": Codec(
        "ipod",
        "aac",
        64_000,
        _AAC_RATES,
        options={"aac_coder": "fast"},
        container_options={"movflags": "+faststart"},
    ),
    "flac": Codec("flac", "flac", options={"compression_level": "3"}),
}
CODECS["m4b"] = CODECS["m4a"]


def check_format(fmt: str) -> None:
    if fmt not in EXTENSIONS:
        known = ", ".join(sorted(EXTENSIONS))
        raise ValueError(f"unknown audio format {fmt!r} (known: {known})")


def encode(
    pcm: bytes, sample_rate: int, fmt: str, path: Path, *, title: str | None = None
) -> float:
    """Encode signed 16-bit little-endian mono ``pcm`` at ``sample_rate`` into ``path``.

    ``path`` may have any name (callers write to a temporary name and rename); the
    format comes from ``fmt``. Returns the file's duration in seconds.
    """
    check_format(fmt)
    if len(pcm) % 2:
        raise ValueError("PCM must be whole 16-bit samples (an even number of bytes)")
    if sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    if fmt == "wav":
        return _write_wav(pcm, sample_rate, path)
    return _encode_av(pcm, sample_rate, CODECS[fmt], path, title)


def _write_wav(pcm: bytes, sample_rate: int, path: Path) -> float:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm)
    return len(pcm) / 2 / sample_rate


def pcm_frames(pcm: bytes, sample_rate: int) -> Iterator[av.AudioFrame]:
    """``pcm`` (s16 mono) as PyAV frames of at most ``_CHUNK_SAMPLES`` samples."""
    step = _CHUNK_SAMPLES * 2
    for offset in range(0, len(pcm), step):
        chunk = pcm[offset : offset + step]
        frame = av.AudioFrame(format="s16", layout="mono", samples=len(chunk) // 2)
        frame.planes[0].update(chunk)
        frame.sample_rate = sample_rate
        frame.time_base = Fraction(1, sample_rate)
        frame.pts = offset // 2
        yield frame


def _encode_av(pcm: bytes, sample_rate: int, codec: Codec, path: Path, title: str | None) -> float:
    rate = codec.rate_for(sample_rate)
    with av.open(
        str(path), "w", format=codec.container, container_options=codec.container_options
    ) as out:
        stream = out.add_stream(codec.codec, rate=rate, layout="mono", options=codec.options)
        assert isinstance(stream, AudioStream)
        if title:
            # Ogg keeps tags per stream (Vorbis comments), the others per file.
            (stream if codec.container == "ogg" else out).metadata["title"] = title
        if codec.bit_rate:
            stream.bit_rate = codec.bit_rate
        return encode_stream(out, stream, pcm_frames(pcm, sample_rate), rate, codec)


def encode_stream(
    out: av.container.OutputContainer,
    stream: AudioStream,
    frames: Iterator[av.AudioFrame],
    rate: int,
    codec: Codec,
) -> float:
    """Resample ``frames`` for ``stream``'s encoder, encode and mux them; the duration."""
    ctx = stream.codec_context
    resampler = av.AudioResampler(format=ctx.format, layout="mono", rate=rate)
    aac = codec.codec == "aac"
    packets = 0
    total = 0
    first_pts: int | None = None

    def mux(packet_list: list[av.Packet[AudioStream]]) -> None:
        nonlocal packets, total, first_pts
        for packet in packet_list:
            if aac:
                # Whole frames from zero: no edit list, exact concatenation (module doc).
                packet.pts = packet.dts = packets * AAC_FRAME
                packet.duration = AAC_FRAME
            elif first_pts is None and packet.pts is not None:
                first_pts = packet.pts
            packets += 1
            total += packet.duration or 0
            out.mux(packet)

    for frame in frames:
        for resampled in resampler.resample(frame):
            mux(ctx.encode(resampled))
    for resampled in resampler.resample(None):
        mux(ctx.encode(resampled))
    mux(ctx.encode(None))
    # The encoder's leading delay (negative first pts) is trimmed by the container.
    # (The last packet's duration already excludes the encoder's final padding.)
    delay = -first_pts if first_pts is not None and first_pts < 0 else 0
    return max(total - delay, 0) / rate


def probe_duration(path: Path) -> float:
    """The duration of an audio file in seconds, as a decoder plays it."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError(f"{path.name}: no audio stream")
        stream = container.streams.audio[0]
        if container.format.name == "ogg" and stream.codec_context.name == "opus":
            return _ogg_opus_duration(container, stream)
        if container.duration is not None:
            return container.duration / 1_000_000
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return _decoded_duration(container, stream)


def _ogg_opus_duration(container: av.container.InputContainer, stream: AudioStream) -> float:
    """Ogg's own duration still counts the pre-skip; the OpusHead header holds it."""
    extradata = stream.codec_context.extradata or b""
    preskip = int.from_bytes(extradata[10:12], "little") if len(extradata) >= 12 else 0
    if container.duration is None:
        return _decoded_duration(container, stream)
    return max(container.duration / 1_000_000 - preskip / 48000, 0.0)


def _decoded_duration(container: av.container.InputContainer, stream: AudioStream) -> float:
    samples = sum(frame.samples for frame in container.decode(stream))
    return samples / stream.rate if stream.rate else 0.0
