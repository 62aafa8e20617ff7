"""The M4B is written in one pass with its index first; what players need survives."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import pytest
from mutagen import mp4

from tests.audio.pcm import sine
from tests.audio.test_assemble import MARKER_TITLES, META, PNG, make_chapters, starts_of
from ttsqueue.audio import mp4box, splice
from ttsqueue.audio.assemble import ChapterAudio, assemble, read_chapters
from ttsqueue.audio.encode import encode


def top_level_kinds(path: Path) -> list[bytes]:
    with path.open("rb") as f:
        return [kind for kind, _, _ in mp4box.top_level(f)]


def packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


def audio_box(path: Path, *kinds: bytes) -> bytes:
    with path.open("rb") as f:
        _, moov = mp4box.read_moov(f)
    trak = next(b for b in moov.children if b.kind == b"trak" and mp4box.handler(b) == b"soun")
    box = trak.path(*kinds)
    return box.render()[8:] if box.is_container else box.payload


def check_playable_book(path: Path, chapters: list[ChapterAudio]) -> None:
    """Markers (QuickTime track and Nero list), tags, cover and every frame in order."""
    assert packets(path) == [b for chapter in chapters for b in packets(chapter.path)]
    markers = read_chapters(path)
    assert [title for title, _ in markers] == MARKER_TITLES
    audio = mp4.MP4(str(path))
    assert audio.chapters is not None
    assert [c.title for c in audio.chapters] == MARKER_TITLES
    assert audio.tags is not None
    assert audio.tags["\xa9nam"] == ["The Lighthouse"]
    assert audio.tags["\xa9nrt"] == ["espeak en-us"]
    assert audio.tags["stik"] == [2]
    assert bytes(audio.tags["covr"][0]) == PNG


@pytest.mark.parametrize("fmt", ["m4b", "m4a"])
def test_the_index_comes_before_the_audio(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"book.{fmt}"
    assemble(make_chapters(tmp_path, "m4a"), fmt, out, META)
    kinds = top_level_kinds(out)
    assert kinds.index(b"moov") < kinds.index(b"mdat")
    assert kinds[0] == b"ftyp"
    assert not list(tmp_path.glob("*.head"))  # the head file is cleaned up


def test_spliced_book_has_every_frame_markers_tags_and_cover(tmp_path: Path) -> None:
    chapters = make_chapters(tmp_path, "m4a")
    out = tmp_path / "book.m4b"
    book = assemble(chapters, "m4b", out, META)
    assert top_level_kinds(out) == [b"ftyp", b"moov", b"mdat"]  # spliced, nothing padded
    check_playable_book(out, chapters)
    assert [start for _, start in book.chapters] == pytest.approx(starts_of(chapters), abs=1e-6)
    with av.open(str(out)) as container:
        assert container.duration / 1_000_000 == pytest.approx(book.duration_s, abs=0.002)
    # one run of whole frames: the book plays as exactly frames x 1024 samples
    frames = len(packets(out))
    assert audio_box(out, b"mdia", b"minf", b"stbl", b"stts")[4:] == struct.pack(
        ">III", 1, frames, 1024
    )


def test_a_book_past_32_bit_offsets_and_durations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend 32 bits end at 1,000: 64-bit chunk offsets and version-1 durations.
    monkeypatch.setattr(splice, "_U32", 1000)
    chapters = make_chapters(tmp_path, "m4a")
    out = tmp_path / "book.m4b"
    book = assemble(chapters, "m4b", out, META)
    stbl = audio_box(out, b"mdia", b"minf")
    assert b"co64" in stbl and b"stco" not in stbl
    mdhd = audio_box(out, b"mdia", b"mdhd")
    assert mdhd[0] == 1
    assert struct.unpack_from(">Q", mdhd, 24)[0] == len(packets(out)) * 1024
    check_playable_book(out, chapters)
    with av.open(str(out)) as container:
        assert container.duration / 1_000_000 == pytest.approx(book.duration_s, abs=0.002)


def test_falls_back_to_muxing_when_a_chapter_is_not_spliceable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(path: Path) -> splice.Source:
        raise mp4box.Unsupported("test")

    monkeypatch.setattr(splice, "read_source", refuse)
    chapters = make_chapters(tmp_path, "m4a")
    out = tmp_path / "book.m4b"
    assemble(chapters, "m4b", out, META)
    check_playable_book(out, chapters)
    kinds = top_level_kinds(out)
    assert kinds.index(b"moov") < kinds.index(b"mdat")


def test_read_source_refuses_what_it_cannot_splice(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    encode(sine(0.5), 22050, "wav", wav)
    with pytest.raises(mp4box.Unsupported):
        splice.read_source(wav)
    mp3 = tmp_path / "a.mp3"
    encode(sine(0.5), 22050, "mp3", mp3)
    with pytest.raises(mp4box.Unsupported):
        splice.read_source(mp3)


def test_box_headers_grow_to_64_bits() -> None:
    assert mp4box.header(b"mdat", 10) == struct.pack(">I4s", 18, b"mdat")
    big = 1 << 32
    assert mp4box.header(b"mdat", big) == struct.pack(">I4sQ", 1, b"mdat", big + 16)
    (box,) = mp4box.parse(mp4box.header(b"free", 3) + b"abc")
    assert (box.kind, box.payload) == (b"free", b"abc")
