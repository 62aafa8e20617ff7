from __future__ import annotations

import wave
from pathlib import Path

import av
import pytest

from tests.audio.pcm import sine
from ttsqueue.audio.encode import (
    CHAPTER_FORMAT,
    CONTENT_TYPES,
    EXTENSIONS,
    encode,
    probe_duration,
)

RATE = 22050
SECONDS = 1.5

# (format, FFmpeg demuxer name, codec name, slack in seconds over the PCM's length)
CASES = [
    ("wav", "wav", "pcm_s16le", 0.0),
    ("flac", "flac", "flac", 0.0),
    ("mp3", "mp3", "mp3", 0.0),
    ("opus", "ogg", "opus", 0.0),
    # whole AAC frames, one of encoder priming and the last one padded (module doc)
    ("m4a", "mov,mp4,m4a,3gp,3g2,mj2", "aac", 2048 / RATE),
]


def decoded_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(f.samples for f in container.decode(stream)) / stream.rate


@pytest.mark.parametrize(("fmt", "demuxer", "codec", "slack"), CASES)
def test_encode_writes_a_playable_file_of_the_reported_duration(
    tmp_path: Path, fmt: str, demuxer: str, codec: str, slack: float
) -> None:
    path = tmp_path / "chapter.tmp"  # any name: the format comes from the argument
    duration = encode(sine(SECONDS, RATE), RATE, fmt, path, title="The Storm")

    assert SECONDS - 0.001 <= duration <= SECONDS + slack + 0.001
    assert probe_duration(path) == pytest.approx(duration, abs=0.001)
    assert decoded_seconds(path) == pytest.approx(duration, abs=0.001)
    with av.open(str(path)) as container:
        assert container.format.name == demuxer
        stream = container.streams.audio[0]
        assert stream.codec_context.name.startswith(codec)  # the decoder: mp3float
        assert stream.codec_context.channels == 1
        if fmt != "wav":
            tags = {**container.metadata, **stream.metadata}
            assert tags["title"] == "The Storm"


def test_wav_is_the_pcm_itself(tmp_path: Path) -> None:
    pcm = sine(0.25, 16000)
    path = tmp_path / "a.wav"
    assert encode(pcm, 16000, "wav", path) == pytest.approx(0.25)
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
        assert w.readframes(w.getnframes()) == pcm


def test_opus_is_resampled_to_48k_and_mp3_keeps_a_speech_rate(tmp_path: Path) -> None:
    encode(sine(0.5, 22050), 22050, "opus", tmp_path / "a.opus")
    encode(sine(0.5, 22050), 22050, "mp3", tmp_path / "a.mp3")
    encode(sine(0.5, 11000), 11000, "m4a", tmp_path / "a.m4a")  # not an AAC rate
    with av.open(str(tmp_path / "a.opus")) as c:
        assert c.streams.audio[0].rate == 48000
    with av.open(str(tmp_path / "a.mp3")) as c:
        assert c.streams.audio[0].rate == 22050
    with av.open(str(tmp_path / "a.m4a")) as c:
        assert c.streams.audio[0].rate == 24000
    assert probe_duration(tmp_path / "a.m4a") >= 0.5


def test_speech_bit_rates_keep_files_small(tmp_path: Path) -> None:
    sizes = {}
    for fmt in ("mp3", "opus", "m4a"):
        path = tmp_path / f"a.{fmt}"
        encode(sine(4.0, RATE), RATE, fmt, path)
        sizes[fmt] = path.stat().st_size
    assert sizes["mp3"] < 4 * 72_000 / 8  # 64 kb/s plus headers
    assert sizes["opus"] < 4 * 40_000 / 8  # 32 kb/s plus headers
    assert sizes["m4a"] < 4 * 72_000 / 8


def test_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown audio format"):
        encode(b"\0\0", RATE, "ogg", tmp_path / "x")
    with pytest.raises(ValueError, match="even number"):
        encode(b"\0\0\0", RATE, "wav", tmp_path / "x")
    with pytest.raises(ValueError, match="sample rate"):
        encode(b"\0\0", 0, "mp3", tmp_path / "x")


def test_format_tables_cover_every_output_format() -> None:
    from ttsqueue.models import OUTPUT_FORMATS

    for fmt in OUTPUT_FORMATS:
        assert EXTENSIONS[fmt] == f".{fmt}"
        assert CHAPTER_FORMAT[fmt] in EXTENSIONS
        assert CONTENT_TYPES[fmt].startswith("audio/")
    assert CHAPTER_FORMAT["m4b"] == "m4a"
    assert CONTENT_TYPES["mp3"] == "audio/mpeg"
    assert CONTENT_TYPES["m4b"] == CONTENT_TYPES["m4a"] == "audio/mp4"
