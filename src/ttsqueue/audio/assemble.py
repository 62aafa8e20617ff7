"""Chapter files → one audiobook file with chapter markers and book metadata.

M4B/M4A books are remuxed: the chapters' AAC packets are copied into one container
with shifted timestamps, never re-encoded, so assembly is fast and lossless. The other
formats decode every chapter and encode the book once (mp3, opus, flac) or write the
PCM (wav), which gives exact chapter boundaries. Chapter start times come from the
audio actually written (packet or sample counts), and the book's own duration is
their sum; :func:`ttsqueue.audio.encode.encode` reports chapter durations on the
same scale, so the two agree.

Chapter markers: PyAV (FFmpeg) writes them for MP4 (a Nero ``chpl`` atom and a
QuickTime chapter text track) and reads them back from every format here; mutagen
writes the tags PyAV cannot (``stik``, covers, ID3 ``CHAP``/``CTOC``, Vorbis
``CHAPTERnnn`` comments) in :mod:`ttsqueue.audio.tags`.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
from av.audio.stream import AudioStream

from ttsqueue.bookinfo import BookInfo

from . import splice, tags
from .encode import AAC_FRAME, CODECS, check_format, encode_stream
from .mp4box import Unsupported

MP4_FORMATS = ("m4b", "m4a")
_MS = Fraction(1, 1000)


@dataclass(frozen=True, slots=True)
class ChapterAudio:
    path: Path
    title: str
    duration_s: float


@dataclass(frozen=True, slots=True)
class BookMeta:
    title: str
    author: str
    narrator: str = ""
    cover: bytes | None = None
    cover_mime: str | None = None
    info: BookInfo = field(default_factory=BookInfo)  # series, description, year, ...


@dataclass(frozen=True, slots=True)
class AssembledBook:
    duration_s: float
    chapters: list[tuple[str, float]]  # (title, start_s)


def chapter_titles(chapters: Sequence[ChapterAudio]) -> list[str]:
    """Every marker needs a title: an untitled chapter is ``Chapter n``."""
    return [c.title.strip() or f"Chapter {i}" for i, c in enumerate(chapters, 1)]


def assemble(
    chapters: Sequence[ChapterAudio], fmt: str, out_path: Path, meta: BookMeta
) -> AssembledBook:
    """Join ``chapters`` (in order) into one ``fmt`` file at ``out_path``.

    ``out_path`` may have any name (callers write to a temporary name and rename).
    Chapters are files as :func:`~ttsqueue.audio.encode.encode` wrote them for
    ``CHAPTER_FORMAT[fmt]``; any other readable audio works too, only slower.
    """
    check_format(fmt)
    if not chapters:
        raise ValueError("a book needs at least one chapter")
    titles = chapter_titles(chapters)
    if fmt == "wav":
        starts, total = _write_wav(chapters, out_path)
        return _book(titles, starts, total)
    if fmt in MP4_FORMATS and _remuxable(chapters):
        try:
            return _splice_aac(chapters, titles, fmt, out_path, meta)
        except Unsupported:
            book = _remux_aac(chapters, titles, out_path)
    else:
        book = _transcode(chapters, titles, fmt, out_path)
    tags.write_tags(out_path, fmt, book.chapters, book.duration_s, meta)
    return book


def _book(titles: list[str], starts: list[float], total: float) -> AssembledBook:
    return AssembledBook(duration_s=total, chapters=list(zip(titles, starts, strict=True)))


def _remuxable(chapters: Sequence[ChapterAudio]) -> bool:
    """Whether every chapter is AAC of one configuration, so packets can be copied."""
    configs = set()
    for chapter in chapters:
        with av.open(str(chapter.path)) as container:
            if not container.streams.audio:
                raise ValueError(f"{chapter.path.name}: no audio stream")
            stream = container.streams.audio[0]
            if stream.codec_context.name != "aac":
                return False
            configs.add(
                (stream.rate, stream.channels, bytes(stream.codec_context.extradata or b""))
            )
    return len(configs) == 1


def _splice_aac(
    chapters: Sequence[ChapterAudio], titles: list[str], fmt: str, out_path: Path, meta: BookMeta
) -> AssembledBook:
    """The book written in one pass, index first (:mod:`ttsqueue.audio.splice`).

    FFmpeg and mutagen write a small head file with the chapter markers and tags;
    the chapters' frames are then copied after the head's index, never muxed one by one.
    """
    sources = [splice.read_source(chapter.path) for chapter in chapters]
    rate = sources[0].rate
    starts, frames = [], 0
    for source in sources:
        starts.append(frames * AAC_FRAME / rate)
        frames += source.frames
    book = _book(titles, starts, frames * AAC_FRAME / rate)
    head = out_path.with_name(f"{out_path.name}.head")
    try:
        _write_head(chapters[0].path, head, book)
        tags.write_tags(head, fmt, book.chapters, book.duration_s, meta)
        splice.write_book(sources, head, out_path)
    finally:
        head.unlink(missing_ok=True)
    return book


def _write_head(first: Path, head: Path, book: AssembledBook) -> None:
    """An MP4 with the book's chapter markers and one audio frame of ``first``."""
    with (
        av.open(str(first)) as source,
        av.open(str(head), "w", format=CODECS["m4b"].container) as out,
    ):
        stream = source.streams.audio[0]
        target = out.add_stream_from_template(stream)
        _copy_packets(source, stream, out, target, 0, limit=1)
        out.set_chapters(_av_chapters(book))


def _remux_aac(
    chapters: Sequence[ChapterAudio], titles: list[str], out_path: Path
) -> AssembledBook:
    """Copy every chapter's AAC packets into one MP4, end to end, with chapter markers.

    FFmpeg writes the markers (set before the trailer) as a Nero ``chpl`` atom and a
    QuickTime chapter text track, the two kinds players read.
    """
    starts: list[float] = []
    cursor = 0  # in samples (the AAC stream's time base is 1/sample rate)
    codec = CODECS["m4b"]
    with av.open(
        str(out_path), "w", format=codec.container, container_options=codec.container_options
    ) as out:
        target: AudioStream | None = None
        rate = 0
        for chapter in chapters:
            with av.open(str(chapter.path)) as source:
                stream = source.streams.audio[0]
                if target is None:
                    target = out.add_stream_from_template(stream)
                    rate = stream.rate
                starts.append(cursor / rate)
                cursor = _copy_packets(source, stream, out, target, cursor)
        book = _book(titles, starts, cursor / rate)
        out.set_chapters(_av_chapters(book))
    return book


def _copy_packets(
    source: av.container.InputContainer,
    stream: AudioStream,
    out: av.container.OutputContainer,
    target: AudioStream,
    cursor: int,
    limit: int | None = None,
) -> int:
    """Mux ``stream``'s packets at ``cursor`` onwards as whole AAC frames; the new cursor.

    Each packet is given one frame's duration (what a decoder outputs for it), so
    the book plays every chapter's frames back to back and marker times are exact.
    """
    time_base = Fraction(1, stream.rate)
    for packet in source.demux(stream):
        if packet.dts is None or packet.size == 0:
            continue  # the demuxer's end-of-stream flush packet
        packet.time_base = time_base
        packet.pts = packet.dts = cursor
        packet.duration = AAC_FRAME
        packet.stream = target
        out.mux(packet)
        cursor += AAC_FRAME
        if limit is not None and cursor >= limit * AAC_FRAME:
            break
    return cursor


def _av_chapters(book: AssembledBook) -> list[av.container.Chapter]:
    ends = [start for _, start in book.chapters[1:]] + [book.duration_s]
    return [
        {
            "id": index,
            "start": round(start * 1000),
            "end": round(end * 1000),
            "time_base": _MS,
            "metadata": {"title": title},
        }
        for index, ((title, start), end) in enumerate(zip(book.chapters, ends, strict=True), 1)
    ]


def _decoded_pcm(path: Path, rate: int) -> Iterator[av.AudioFrame]:
    """A chapter decoded and resampled to s16 mono at ``rate``."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    with av.open(str(path)) as source:
        if not source.streams.audio:
            raise ValueError(f"{path.name}: no audio stream")
        for frame in source.decode(source.streams.audio[0]):
            frame.pts = None
            yield from resampler.resample(frame)
    yield from resampler.resample(None)


def _first_rate(path: Path) -> int:
    with av.open(str(path)) as source:
        if not source.streams.audio:
            raise ValueError(f"{path.name}: no audio stream")
        return source.streams.audio[0].rate


def _wav_layout(path: Path) -> tuple[int, int, int] | None:
    """(channels, sample width, rate) of a WAV file, or None for anything else."""
    try:
        with wave.open(str(path), "rb") as source:
            return source.getnchannels(), source.getsampwidth(), source.getframerate()
    except (wave.Error, EOFError, OSError):
        return None


def _pcm_blocks(path: Path, rate: int, *, copy: bool) -> Iterator[bytes]:
    """A chapter's samples as 16-bit mono PCM at ``rate``: copied straight from a WAV
    file of that layout, else decoded and resampled."""
    if copy:
        with wave.open(str(path), "rb") as source:
            while block := source.readframes(1 << 16):
                yield block
        return
    for frame in _decoded_pcm(path, rate):
        yield bytes(frame.planes[0])[: frame.samples * 2]


def _write_wav(chapters: Sequence[ChapterAudio], out_path: Path) -> tuple[list[float], float]:
    layouts = {_wav_layout(chapter.path) for chapter in chapters}
    layout = layouts.pop() if len(layouts) == 1 else None
    copy = layout is not None and layout[:2] == (1, 2)  # every chapter 16-bit mono, one rate
    rate = layout[2] if copy and layout is not None else _first_rate(chapters[0].path)
    starts: list[float] = []
    samples = 0
    with wave.open(str(out_path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        for chapter in chapters:
            starts.append(samples / rate)
            for block in _pcm_blocks(chapter.path, rate, copy=copy):
                out.writeframes(block)
                samples += len(block) // 2
    return starts, samples / rate


def _transcode(
    chapters: Sequence[ChapterAudio], titles: list[str], fmt: str, out_path: Path
) -> AssembledBook:
    """Decode every chapter and encode them as one stream.

    FFmpeg writes the chapter markers for MP4; the other formats get theirs from
    :func:`ttsqueue.audio.tags.write_tags`.
    """
    codec = CODECS[fmt]
    rate = codec.rate_for(_first_rate(chapters[0].path))
    starts: list[float] = []
    samples = 0

    def frames() -> Iterator[av.AudioFrame]:
        nonlocal samples
        for chapter in chapters:
            starts.append(samples / rate)
            for frame in _decoded_pcm(chapter.path, rate):
                frame.pts = samples
                frame.time_base = Fraction(1, rate)
                samples += frame.samples
                yield frame

    with av.open(
        str(out_path), "w", format=codec.container, container_options=codec.container_options
    ) as out:
        stream = out.add_stream(codec.codec, rate=rate, layout="mono", options=codec.options)
        assert isinstance(stream, AudioStream)
        if codec.bit_rate:
            stream.bit_rate = codec.bit_rate
        encode_stream(out, stream, frames(), rate, codec)
        book = _book(titles, starts, samples / rate)
        if fmt in MP4_FORMATS:
            out.set_chapters(_av_chapters(book))
    return book


def read_chapters(path: Path) -> list[tuple[str, float]]:
    """The chapter markers of an audio file as (title, start_s), read with PyAV."""
    with av.open(str(path)) as container:
        markers = [
            (
                chapter["metadata"].get("title", ""),
                float(chapter["start"] * (chapter["time_base"] or _MS)),
            )
            for chapter in container.chapters()
        ]
    return sorted(markers, key=lambda marker: marker[1])
