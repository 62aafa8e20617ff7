from __future__ import annotations

from pathlib import Path

import av
import mutagen
import pytest
from mutagen import id3, mp4

from tests.audio.pcm import sine
from ttsqueue.audio.assemble import (
    AssembledBook,
    BookMeta,
    ChapterAudio,
    assemble,
    read_chapters,
)
from ttsqueue.audio.encode import CHAPTER_FORMAT, encode, probe_duration

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
    starts, cursor = [], 0.0
    for chapter in chapters:
        starts.append(cursor)
        cursor += chapter.duration_s
    return starts


def decoded_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(f.samples for f in container.decode(stream)) / stream.rate


def check_book(book: AssembledBook, chapters: list[ChapterAudio], path: Path) -> None:
    total = sum(c.duration_s for c in chapters)
    expected = starts_of(chapters)
    assert [title for title, _ in book.chapters] == MARKER_TITLES
    assert [start for _, start in book.chapters] == pytest.approx(expected, abs=0.05)
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
    assert [start for _, start in markers] == pytest.approx(starts_of(chapters), abs=0.05)


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
