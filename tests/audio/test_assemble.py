from __future__ import annotations

import wave
from pathlib import Path

import av
import mutagen
import pytest
from mutagen import id3, mp4

from tests.audio.pcm import sine
from ttsqueue.audio import splice
from ttsqueue.audio.assemble import (
    AssembledBook,
    BookMeta,
    ChapterAudio,
    assemble,
    read_chapters,
)
from ttsqueue.audio.encode import CHAPTER_FORMAT, encode, probe_duration
from ttsqueue.audio.mp4box import Unsupported

RATE = 22050
LENGTHS = (1.0, 1.7, 0.6)
TITLES = ("Chapter 1: The Storm", "", "Épilogue")
MARKER_TITLES = ["Chapter 1: The Storm", "Chapter 2", "Épilogue"]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(40)
META = BookMeta("The Lighthouse", "A. Writer", "espeak en-us", PNG, "image/png")


def make_chapters(tmp_path: Path, fmt: str) -> list[ChapterAudio]:
    chapters = []
    for index, (seconds, title) in enumerate(zip(LENGTHS, TITLES, strict=True)):
        path = tmp_path / f"{index}{fmt}"
        duration = encode(sine(seconds, RATE, 300 + 100 * index), RATE, fmt, path)
        chapters.append(ChapterAudio(path, title, duration))
    return chapters


def starts_of(chapters: list[ChapterAudio]) -> list[float]:
    """Chapter starts from the durations the encoder reported."""
    starts, cursor = [], 0.0
    for chapter in chapters:
        starts.append(cursor)
        cursor += chapter.duration_s
    return starts


def decoded_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(f.samples for f in container.decode(stream)) / stream.rate


def decoded_starts(chapters: list[ChapterAudio]) -> list[float]:
    """Where each chapter begins, from the samples a decoder gets out of each chapter
    file (not from the durations the encoder reported)."""
    lengths = [decoded_seconds(c.path) for c in chapters]
    return [sum(lengths[:k]) for k in range(len(lengths))]


def check_book(book: AssembledBook, chapters: list[ChapterAudio], path: Path) -> None:
    total = sum(c.duration_s for c in chapters)
    expected = decoded_starts(chapters)
    assert [title for title, _ in book.chapters] == MARKER_TITLES
    assert [start for _, start in book.chapters] == pytest.approx(expected, abs=0.001)
    assert book.duration_s == pytest.approx(total, rel=0.01)
    assert probe_duration(path) == pytest.approx(total, rel=0.01)
    assert decoded_seconds(path) == pytest.approx(total, rel=0.01)


@pytest.mark.parametrize("fmt", ["m4b", "mp3", "opus", "flac"])
def test_book_has_a_marker_at_each_chapter_start(tmp_path: Path, fmt: str) -> None:
    chapters = make_chapters(tmp_path, CHAPTER_FORMAT[fmt])
    out = tmp_path / "book.tmp"  # any name: callers write to a temporary name

    book = assemble(chapters, fmt, out, META)

    check_book(book, chapters, out)
    markers = read_chapters(out)
    assert [title for title, _ in markers] == MARKER_TITLES
    assert [start for _, start in markers] == pytest.approx(decoded_starts(chapters), abs=0.001)


def test_m4b_is_a_remuxed_audiobook_with_tags_and_cover(tmp_path: Path) -> None:
    chapters = make_chapters(tmp_path, "m4a")
    out = tmp_path / "book.m4b"
    assemble(chapters, "m4b", out, META)

    with av.open(str(out)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "aac"
        assert audio.rate == RATE  # copied, not resampled
        packets = sum(1 for p in container.demux(audio) if p.size)
    source_packets = 0
    for chapter in chapters:
        with av.open(str(chapter.path)) as container:
            source_packets += sum(1 for p in container.demux(container.streams.audio[0]) if p.size)
    assert packets == source_packets

    tags = mp4.MP4(str(out)).tags
    assert tags is not None
    assert tags["\xa9nam"] == ["The Lighthouse"]
    assert tags["\xa9ART"] == ["A. Writer"]
    assert tags["\xa9nrt"] == ["espeak en-us"]
    assert tags["stik"] == [2]
    assert bytes(tags["covr"][0]) == PNG
    assert tags["covr"][0].imageformat == mp4.MP4Cover.FORMAT_PNG
    # mutagen reads the Nero chapters, PyAV (above) the QuickTime chapter track
    nero = mp4.MP4(str(out)).chapters
    assert nero is not None
    assert [c.title for c in nero] == MARKER_TITLES


def test_m4a_book_is_not_marked_as_an_audiobook(tmp_path: Path) -> None:
    out = tmp_path / "book.m4a"
    assemble(make_chapters(tmp_path, "m4a"), "m4a", out, BookMeta("T", "A"))
    tags = mp4.MP4(str(out)).tags
    assert tags is not None
    assert "stik" not in tags
    assert "covr" not in tags
    assert len(read_chapters(out)) == 3


def test_mp3_book_has_id3_chapters_title_author_and_cover(tmp_path: Path) -> None:
    out = tmp_path / "book.mp3"
    book = assemble(make_chapters(tmp_path, "mp3"), "mp3", out, META)
    tags = id3.ID3(str(out))
    assert str(tags["TIT2"]) == "The Lighthouse"
    assert str(tags["TPE1"]) == "A. Writer"
    assert tags.getall("APIC")[0].data == PNG
    toc = tags.getall("CTOC")[0]
    chaps = {c.element_id: c for c in tags.getall("CHAP")}
    ordered = [chaps[element_id] for element_id in toc.child_element_ids]
    assert [str(c.sub_frames["TIT2"]) for c in ordered] == MARKER_TITLES
    assert [c.start_time for c in ordered] == [round(s * 1000) for _, s in book.chapters]
    assert ordered[-1].end_time == round(book.duration_s * 1000)


@pytest.mark.parametrize("fmt", ["opus", "flac"])
def test_vorbis_comment_chapters(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "book.tmp"
    assemble(make_chapters(tmp_path, fmt), fmt, out, META)
    audio = mutagen.File(str(out))
    assert audio is not None
    assert audio["TITLE"] == ["The Lighthouse"]
    assert audio["ARTIST"] == ["A. Writer"]
    assert audio["CHAPTER001"] == ["00:00:00.000"]
    assert audio["CHAPTER001NAME"] == ["Chapter 1: The Storm"]
    assert audio["CHAPTER002"] == ["00:00:01.000"]
    assert audio["CHAPTER003"] == ["00:00:02.700"]
    assert audio["CHAPTER003NAME"] == ["Épilogue"]
    assert "CHAPTER004" not in audio


def test_wav_book_is_the_chapters_end_to_end(tmp_path: Path) -> None:
    chapters = make_chapters(tmp_path, "wav")
    out = tmp_path / "book.wav"
    book = assemble(chapters, "wav", out, META)
    check_book(book, chapters, out)
    joined = b"".join(sine(s, RATE, 300 + 100 * i) for i, s in enumerate(LENGTHS))
    assert out.read_bytes().endswith(joined)


def test_wav_book_from_chapters_of_another_format_is_decoded(tmp_path: Path) -> None:
    chapters = make_chapters(tmp_path, "flac")  # lossless: the samples survive the trip
    out = tmp_path / "book.wav"
    book = assemble(chapters, "wav", out, META)
    check_book(book, chapters, out)
    joined = b"".join(sine(s, RATE, 300 + 100 * i) for i, s in enumerate(LENGTHS))
    assert out.read_bytes().endswith(joined)


def test_chapters_of_other_formats_are_transcoded(tmp_path: Path) -> None:
    # e.g. wav chapters into an m4b: slower than a remux, same result
    chapters = make_chapters(tmp_path, "wav")
    out = tmp_path / "book.m4b"
    book = assemble(chapters, "m4b", out, META)
    assert [t for t, _ in read_chapters(out)] == MARKER_TITLES
    assert book.duration_s == pytest.approx(sum(LENGTHS), abs=0.1)


def test_rejects_an_empty_book_and_unknown_formats(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one chapter"):
        assemble([], "m4b", tmp_path / "x", META)
    with pytest.raises(ValueError, match="unknown audio format"):
        assemble(make_chapters(tmp_path, "wav"), "aiff", tmp_path / "x", META)


def aac_frames(path: Path) -> list[int]:
    """The pts of every AAC frame in ``path``, read by demuxing (no decoder, no encoder)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [p.pts for p in container.demux(stream) if p.size and p.pts is not None]


def marker_starts(path: Path) -> tuple[list[float], list[float]]:
    """Chapter starts as mutagen reads them (Nero ``chpl``) and as FFmpeg does."""
    nero = mp4.MP4(str(path)).chapters
    assert nero is not None
    with av.open(str(path)) as container:
        ffmpeg = [float(c["start"] * c["time_base"]) for c in container.chapters()]
    return [c.start for c in nero], ffmpeg


def refuse_to_splice(path: Path) -> splice.Source:
    raise Unsupported("the muxing path")


@pytest.mark.parametrize("how", ["splice", "mux"])
@pytest.mark.parametrize("fmt", ["m4b", "m4a"])
def test_m4b_markers_sit_on_the_frames_where_chapters_begin(
    tmp_path: Path, fmt: str, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if how == "mux":
        monkeypatch.setattr(splice, "read_source", refuse_to_splice)
    # Lengths that are no whole number of AAC frames, so rounding shows.
    lengths = (0.73, 2.31, 0.05, 1.19)
    chapters = []
    for index, seconds in enumerate(lengths):
        path = tmp_path / f"{index}.m4a"
        encode(sine(seconds, RATE, 300 + 50 * index), RATE, "m4a", path)
        chapters.append(ChapterAudio(path, f"Part {index + 1}", probe_duration(path)))
    out = tmp_path / f"book.{fmt}"
    assemble(chapters, fmt, out, META)

    # Where each chapter begins, from the frames each chapter file holds ...
    counts = [len(aac_frames(c.path)) for c in chapters]
    expected = [sum(counts[:k]) * 1024 / RATE for k in range(len(counts))]
    # ... and the book holds exactly those frames, back to back.
    book_frames = aac_frames(out)
    assert len(book_frames) == sum(counts)
    with av.open(str(out)) as container:
        time_base = container.streams.audio[0].time_base
    starts_in_book = [float(book_frames[sum(counts[:k])] * time_base) for k in range(len(counts))]
    assert starts_in_book == pytest.approx(expected, abs=0.001)
    nero, ffmpeg = marker_starts(out)
    assert nero == pytest.approx(expected, abs=0.001)
    assert ffmpeg == pytest.approx(expected, abs=0.001)
    # each chapter ends where the next begins, the last where the audio ends
    with av.open(str(out)) as container:
        marks = container.chapters()
        ends = [float(c["end"] * c["time_base"]) for c in marks]
        titles = [c["metadata"].get("title") for c in marks]
    assert ends == pytest.approx([*expected[1:], sum(counts) * 1024 / RATE], abs=0.001)
    assert titles == [c.title for c in chapters]


def write_wav(path: Path, seconds: float, rate: int, channels: int = 1, width: int = 2) -> None:
    """A tone written with the standard library, at any layout."""
    mono = sine(seconds, rate, 330)
    if width == 1:  # 8-bit WAV is unsigned
        mono = bytes((int.from_bytes(mono[i : i + 2], "little", signed=True) >> 8) + 128 & 0xFF
                     for i in range(0, len(mono), 2))  # fmt: skip
    frames = b"".join(
        mono[i : i + width] * channels for i in range(0, len(mono), width)
    )  # fmt: skip
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(frames)


@pytest.mark.parametrize("fmt", ["wav", "mp3", "flac"])
def test_chapters_of_mixed_layouts_are_resampled_to_the_first(tmp_path: Path, fmt: str) -> None:
    # (seconds, rate, channels, sample width): unlike layouts, so nothing can be copied
    layouts = [(0.8, 22050, 1, 2), (0.5, 16000, 2, 2), (0.3, 44100, 1, 1)]
    chapters = []
    for i, (seconds, rate, channels, width) in enumerate(layouts):
        path = tmp_path / f"{i}.wav"
        write_wav(path, seconds, rate, channels, width)
        chapters.append(ChapterAudio(path, f"Part {i + 1}", seconds))
    out = tmp_path / f"book.{fmt}"
    book = assemble(chapters, fmt, out, META)

    lengths = [seconds for seconds, *_ in layouts]
    expected = [sum(lengths[:k]) for k in range(len(lengths))]
    assert [s for _, s in book.chapters] == pytest.approx(expected, abs=0.002)
    assert book.duration_s == pytest.approx(sum(lengths), abs=0.005)
    with av.open(str(out)) as container:
        stream = container.streams.audio[0]
        assert stream.channels == 1
        assert stream.rate == 22050  # the first chapter's
    assert decoded_seconds(out) == pytest.approx(sum(lengths), abs=0.06)  # codec padding
    if fmt == "wav":
        with wave.open(str(out), "rb") as result:
            assert (result.getnchannels(), result.getsampwidth()) == (1, 2)
            assert result.getnframes() == pytest.approx(sum(lengths) * 22050, abs=110)
