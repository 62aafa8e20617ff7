"""Even loudness and chapter silence, checked with an independent meter: pyloudnorm's
BS.1770 integrated loudness and a 4x-oversampled true peak (scipy), on audio decoded
from the files the pipeline writes (PyAV)."""

from __future__ import annotations

import array
import math
from pathlib import Path

import av
import pytest

from tests.skips import need_module
from ttsqueue.audio.assemble import BookMeta, ChapterAudio, assemble
from ttsqueue.audio.loudness import Target, apply_gain, measure, normalize
from ttsqueue.models import Voice
from ttsqueue.tts import get_engine
from ttsqueue.worker_jobs import ChapterFinish, encode_chapter

np = need_module("numpy")
pyln = need_module("pyloudnorm")
signal = need_module("scipy.signal")

TEXT = (
    "It was a dark and stormy night; the rain fell in torrents, except at occasional "
    "intervals, when it was checked by a violent gust of wind which swept up the streets. "
    "Far away, a lamp flickered in the window of the lighthouse, and the keeper watched "
    "the sea. Nobody came that night, nor the next, and the keeper began to wonder. "
)
# Source levels far apart: as the engine made it, 30 dB quieter, and driven into clipping.
LEVELS = (1.0, 0.03, 3.0)


@pytest.fixture(scope="module")
def speech() -> tuple[bytes, int]:
    out = get_engine("espeak").synthesize(TEXT * 2, Voice())
    return out.pcm, out.sample_rate


def scaled(pcm: bytes, factor: float) -> bytes:
    samples = array.array("h", pcm)
    return array.array("h", (max(-32768, min(32767, round(s * factor))) for s in samples)).tobytes()


def as_float(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0


def lufs(samples: np.ndarray, rate: int) -> float:
    return float(pyln.Meter(rate).integrated_loudness(samples))


def true_peak_db(samples: np.ndarray) -> float:
    peak = float(np.max(np.abs(signal.resample_poly(samples, 4, 1))))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def decode(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        parts = [f.to_ndarray().reshape(-1) for f in container.decode(stream)]
        rate = stream.rate
    data = np.concatenate(parts).astype(np.float64)
    return (data / 32768.0 if np.abs(data).max() > 2 else data), rate


@pytest.mark.parametrize("factor", LEVELS)
def test_any_source_level_reaches_the_target_without_clipping(
    speech: tuple[bytes, int], factor: float
) -> None:
    pcm, rate = speech
    source = scaled(pcm, factor)
    out = normalize(source, rate, Target())
    assert len(out) == len(source)  # same timing: nothing added, nothing lost
    samples = as_float(out)
    assert lufs(samples, rate) == pytest.approx(-18.0, abs=1.0)
    assert true_peak_db(samples) <= -3.0
    assert np.abs(samples).max() < 0.99  # no sample at full scale: nothing clipped


def test_a_custom_target_and_ceiling(speech: tuple[bytes, int]) -> None:
    pcm, rate = speech
    out = as_float(normalize(pcm, rate, Target(-23.0, -6.0)))
    assert lufs(out, rate) == pytest.approx(-23.0, abs=1.0)
    assert true_peak_db(out) <= -6.0


def test_our_meter_agrees_with_an_independent_one(speech: tuple[bytes, int]) -> None:
    pcm, rate = speech
    for factor in (1.0, 0.1):
        source = scaled(pcm, factor)
        ours = measure(source, rate)
        assert ours.integrated_lufs == pytest.approx(lufs(as_float(source), rate), abs=0.5)
        assert ours.true_peak_db == pytest.approx(true_peak_db(as_float(source)), abs=0.5)


def test_silence_is_left_alone() -> None:
    quiet = bytes(2 * 22050)
    assert measure(quiet, 22050).integrated_lufs == -math.inf
    assert normalize(quiet, 22050, Target()) == quiet


def test_the_limiter_keeps_every_sound_in_its_place() -> None:
    rate = 22050
    samples = array.array("h", bytes(2 * rate * 3))
    for i in range(rate, rate + 400):  # a loud burst at exactly 1.0 s
        samples[i] = 30000 if i % 2 else -30000
    out = array.array("h", apply_gain(samples.tobytes(), rate, 6.0, -4.0))
    assert len(out) == len(samples)
    onset = next(i for i, s in enumerate(out) if abs(s) > 100)
    assert abs(onset - rate) <= rate // 1000  # within a millisecond
    assert max(abs(s) for s in out) <= round(32768 * 10 ** (-4 / 20)) + 1


def test_chapters_of_different_levels_make_an_even_book_with_markers_in_place(
    speech: tuple[bytes, int], tmp_path: Path
) -> None:
    pcm, rate = speech
    finish = ChapterFinish(start_ms=700, end_ms=1200, target_lufs=-18.0, true_peak_db=-3.0)
    chapters = []
    for index, factor in enumerate(LEVELS):
        path = tmp_path / f"chapter-{index}.m4a"
        duration = encode_chapter(str(path), "m4a", f"C{index}", scaled(pcm, factor), rate, finish)
        # speech plus the silence around it (AAC rounds up to whole 1024-sample frames)
        assert duration == pytest.approx(len(pcm) / 2 / rate + 1.9, abs=0.1)
        audio, decoded_rate = decode(path)
        assert lufs(audio, decoded_rate) == pytest.approx(-18.0, abs=1.0)
        assert true_peak_db(audio) <= -3.0 + 0.5  # AAC may overshoot its input a little
        lead = audio[: int(0.65 * decoded_rate)]
        assert np.abs(lead).max() < 0.01  # the chapter opens with silence
        assert np.abs(audio[int(0.7 * decoded_rate) : int(1.2 * decoded_rate)]).max() > 0.05
        tail = audio[-int(1.1 * decoded_rate) :]
        assert np.abs(tail).max() < 0.01  # and ends with it
        chapters.append(ChapterAudio(path, f"C{index}", duration))

    book_path = tmp_path / "book.m4b"
    book = assemble(chapters, "m4b", book_path, BookMeta("Even", "A. Writer", "espeak", None, None))
    audio, decoded_rate = decode(book_path)
    assert lufs(audio, decoded_rate) == pytest.approx(-18.0, abs=1.0)
    starts, cursor = [], 0.0
    for chapter in chapters:
        starts.append(cursor)
        cursor += chapter.duration_s
    assert [s for _, s in book.chapters] == pytest.approx(starts, abs=0.05)
    with av.open(str(book_path)) as container:
        marks = [float(c["start"] * c["time_base"]) for c in container.chapters()]
    assert marks == pytest.approx(starts, abs=0.05)
