"""The book's info (series, description, year, publisher, language, ISBN, genre) in the
tags of every book format, read back with PyAV (FFmpeg, as ffprobe reads them) and with
mutagen (the atoms and frames Apple Books and Audiobookshelf read)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import mutagen
import pytest
from mutagen import mp4

from tests.audio.pcm import sine
from ttsqueue.audio.assemble import BookMeta, ChapterAudio, assemble
from ttsqueue.audio.encode import CHAPTER_FORMAT, encode
from ttsqueue.bookinfo import BookInfo

RATE = 22050
INFO = BookInfo(
    series="Lights of the Coast",
    series_position="2",
    description="A keeper and a storm.\n\nThen calm, é.",
    year=2011,
    publisher="Harbour Press",
    language="en-GB",
    isbn="9780316129060",
    genre="Maritime Fiction",
)


def book(tmp_path: Path, fmt: str, info: BookInfo) -> Path:
    chapters = []
    for index in range(2):
        path = tmp_path / f"{index}.{CHAPTER_FORMAT[fmt]}"
        duration = encode(sine(0.4, RATE), RATE, CHAPTER_FORMAT[fmt], path)
        chapters.append(ChapterAudio(path, f"Chapter {index + 1}", duration))
    out = tmp_path / f"book.{fmt}"
    assemble(chapters, fmt, out, BookMeta("The Lighthouse", "Ann Writer", "espeak", info=info))
    return out


def ffmpeg_tags(path: Path) -> dict[str, str]:
    """Stream and container tags as ffprobe shows them (the container's first, as
    Audiobookshelf reads them), keys lowercased."""
    with av.open(str(path)) as container:
        tags = dict(container.streams.audio[0].metadata)  # Ogg keeps its comments here
        tags.update(container.metadata)
    return {k.lower(): v for k, v in tags.items()}


@pytest.mark.parametrize("fmt", ["m4b", "m4a", "mp3", "opus", "flac"])
def test_ffprobe_reads_the_book_info_where_audiobookshelf_looks(tmp_path: Path, fmt: str) -> None:
    tags = ffmpeg_tags(book(tmp_path, fmt, INFO))
    assert tags["genre"] == "Maritime Fiction"
    assert tags["date"] == "2011"
    assert tags["series"] == "Lights of the Coast"
    assert tags["series-part"] == "2"
    assert tags["publisher"] == "Harbour Press"
    assert tags["language"] == "en-GB"
    assert tags["isbn"] == "9780316129060"
    assert INFO.description in (tags.get("description"), tags.get("comment"))
    assert tags["title"] == "The Lighthouse"


def test_m4b_atoms_apple_books_reads(tmp_path: Path) -> None:
    tags: Any = mp4.MP4(str(book(tmp_path, "m4b", INFO))).tags
    assert tags["stik"] == [2]
    assert tags["\xa9gen"] == ["Maritime Fiction"]
    assert tags["\xa9day"] == ["2011"]
    assert tags["desc"] == [INFO.description]
    assert tags["ldes"] == [INFO.description]
    assert tags["\xa9mvn"] == ["Lights of the Coast"]
    assert tags["\xa9mvi"] == [2]
    assert bytes(tags["----:com.apple.iTunes:ISBN"][0]) == b"9780316129060"


def test_mp3_frames(tmp_path: Path) -> None:
    tags: Any = mutagen.File(str(book(tmp_path, "mp3", INFO))).tags
    assert tags["TCON"].text == ["Maritime Fiction"]
    assert str(tags["TDRC"].text[0]) == "2011"
    assert tags["TPUB"].text == ["Harbour Press"]
    assert tags["TLAN"].text == ["en-GB"]
    assert tags["MVNM"].text == ["Lights of the Coast"]
    assert tags["MVIN"].text == ["2"]
    assert tags["TXXX:SERIES-PART"].text == ["2"]
    assert tags["TXXX:ISBN"].text == ["9780316129060"]
    assert tags["COMM::XXX"].text == [INFO.description]


@pytest.mark.parametrize("fmt", ["opus", "flac"])
def test_vorbis_comments(tmp_path: Path, fmt: str) -> None:
    tags: Any = mutagen.File(str(book(tmp_path, fmt, INFO))).tags
    assert tags["SERIES"] == ["Lights of the Coast"]
    assert tags["SERIES-PART"] == ["2"]
    assert tags["DESCRIPTION"] == [INFO.description]
    assert tags["ORGANIZATION"] == ["Harbour Press"]


@pytest.mark.parametrize("fmt", ["m4b", "mp3", "opus"])
def test_without_info_the_genre_is_audiobook_and_nothing_else_is_made_up(
    tmp_path: Path, fmt: str
) -> None:
    tags = ffmpeg_tags(book(tmp_path, fmt, BookInfo()))
    assert tags["genre"] == "Audiobook"
    for key in ("series", "series-part", "publisher", "isbn", "date", "description"):
        assert key not in tags


def test_a_fractional_series_position_is_text_only(tmp_path: Path) -> None:
    info = BookInfo(series="S", series_position="2.5")
    path = book(tmp_path, "m4b", info)
    tags: Any = mp4.MP4(str(path)).tags
    assert "\xa9mvi" not in tags  # an integer atom: no place for 2.5
    assert ffmpeg_tags(path)["series-part"] == "2.5"
