"""Join AAC chapter files into one MP4 in a single pass, index (``moov``) first.

Muxing the book packet by packet costs a few microseconds of Python per AAC frame
(half a million frames in a 7-hour book), and moving the index to the front
afterwards (FFmpeg's ``+faststart``) or growing it with tags rewrites the whole file
again. Here nothing is done per frame in Python:

1. Each chapter's sample table (frame sizes, chunk offsets) is read from its
   ``moov``; the frames of a chapter lie in one byte range of its file.
2. A small *head* file, muxed by FFmpeg with one audio frame, carries everything
   else: the chapter text track and Nero ``chpl`` list, the tags and cover written
   by mutagen (cheap, the file is tiny).
3. The book's ``moov`` is the head's, with the audio track's sample table replaced
   by the chapters' tables end to end and its durations set to the book's. Its
   size does not depend on the offsets it holds, so it is computed first and the
   file is written once, front to back: ``ftyp``, ``moov``, ``mdat`` (each
   chapter's byte range copied in the kernel, then the head's chapter-track
   samples).

Anything unexpected raises :class:`~ttsqueue.audio.mp4box.Unsupported` before the
output is opened, and the caller falls back to muxing with PyAV.
"""

from __future__ import annotations

import errno
import itertools
import os
import struct
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .mp4box import (
    Box,
    Unsupported,
    full_box,
    handler,
    header,
    parse,
    read_moov,
    timescale_duration,
    with_duration,
)

AAC_FRAME = 1024
_U32 = 0xFFFFFFFF
_STBL_KINDS = (b"stsd", b"stts", b"stsc", b"stsz", b"stco", b"co64", b"sgpd", b"sbgp")
_COPY_BLOCK = 1 << 20

_BIG_ENDIAN = sys.byteorder == "big"


def _be_array(typecode: str, data: bytes | memoryview) -> array[int]:
    """Big-endian integers from an MP4 table, in native order (the standard library's
    ``array`` does the bulk work in C; nothing here needs numpy)."""
    values = array(typecode)
    values.frombytes(data)
    if not _BIG_ENDIAN:
        values.byteswap()
    return values


def _be_bytes(typecode: str, values: Iterable[int]) -> bytes:
    out = array(typecode, values)
    if not _BIG_ENDIAN:
        out.byteswap()
    return out.tobytes()


if array("I").itemsize != 4 or array("Q").itemsize != 8:  # pragma: no cover
    raise ImportError("this platform's array('I') / array('Q') are not 32 / 64 bits")


@dataclass(frozen=True)
class Table:
    """One track's samples as they lie in its file."""

    sizes: array[int]  # bytes of each sample (uint32)
    offsets: array[int]  # file offset of each chunk (uint64)
    chunk_bytes: array[int]  # bytes in each chunk (uint64)
    samples_per_chunk: list[tuple[int, int]]  # stsc runs: (first chunk from 1, samples)

    @property
    def start(self) -> int:
        return min(self.offsets) if len(self.offsets) else 0

    @property
    def end(self) -> int:
        if not len(self.offsets):
            return 0
        return max(map(int.__add__, self.offsets, self.chunk_bytes))

    def moved(self, to: int) -> list[int]:
        """The chunk offsets when the table's byte range starts at ``to``."""
        shift = to - self.start
        return [offset + shift for offset in self.offsets]


@dataclass(frozen=True)
class Source:
    """A chapter file: its audio sample description, sample table and sample groups."""

    path: Path
    rate: int
    stsd: bytes
    table: Table
    sgpd: bytes | None
    sbgp: list[tuple[int, int]] | None  # (samples, group description index) runs

    @property
    def frames(self) -> int:
        return len(self.table.sizes)


def read_source(path: Path) -> Source:
    with path.open("rb") as f:
        _, moov = read_moov(f)
    trak = _audio_trak(moov)
    stbl = trak.path(b"mdia", b"minf", b"stbl")
    rate, _ = timescale_duration(trak.path(b"mdia", b"mdhd").payload, b"mdhd")
    deltas = _stts(stbl.child(b"stts").payload)
    if any(delta != AAC_FRAME for _, delta in deltas):
        raise Unsupported(f"{path.name}: frames are not all {AAC_FRAME} samples long")
    edts = trak.find(b"edts")
    if edts is not None and _elst_media_time(edts.child(b"elst").payload) != 0:
        raise Unsupported(f"{path.name}: an edit list trims the start")
    table = _table(stbl)
    if sum(count for count, _ in deltas) != len(table.sizes):
        raise Unsupported(f"{path.name}: time and size tables disagree")
    sgpd, sbgp = stbl.find(b"sgpd"), stbl.find(b"sbgp")
    return Source(
        path=path,
        rate=rate,
        stsd=stbl.child(b"stsd").payload,
        table=table,
        sgpd=sgpd.payload if sgpd else None,
        sbgp=_sbgp(sbgp.payload) if sbgp else None,
    )


def write_book(sources: Sequence[Source], head_path: Path, out_path: Path) -> None:
    """Write ``sources``' audio, end to end, with ``head_path``'s other tracks and tags."""
    if not sources:
        raise ValueError("a book needs at least one chapter")
    rate = sources[0].rate
    described = {(s.rate, _without_rates(s.stsd)) for s in sources}
    if len(described) != 1:
        raise Unsupported("chapters differ in sample rate or sample description")
    head = head_path.read_bytes()
    ftyp, moov = _head_boxes(head)
    audio = _audio_trak(moov)
    others = [
        (trak, _table(trak.path(b"mdia", b"minf", b"stbl")))
        for trak in moov.children
        if trak.kind == b"trak" and trak is not audio
    ]
    regions = [head[table.start : table.end] for _, table in others]
    frames = sum(s.frames for s in sources)
    _set_durations(moov, audio, frames, rate)

    audio_bytes = sum(s.table.end - s.table.start for s in sources)
    payload = audio_bytes + sum(len(r) for r in regions)
    wide = False
    while True:
        base = (
            len(ftyp)
            + len(_layout(moov, audio, others, sources, 0, wide))
            + len(header(b"mdat", payload))
        )
        if wide or base + payload <= _U32:
            break
        wide = True  # chunk offsets past 4 GiB need 64-bit entries
    moov_bytes = _layout(moov, audio, others, sources, base, wide)
    with out_path.open("wb", buffering=0) as out:
        out.write(ftyp)
        out.write(moov_bytes)
        out.write(header(b"mdat", payload))
        for source in sources:
            with source.path.open("rb", buffering=0) as src:
                _copy(src.fileno(), out.fileno(), source.table.start, source.table.end)
        for region in regions:
            out.write(region)
        if out.tell() != base + payload:
            raise OSError(f"{out_path.name}: wrote {out.tell()} bytes, expected {base + payload}")


def _head_boxes(head: bytes) -> tuple[bytes, Box]:
    ftyp = moov = None
    for box in parse(head):
        if box.kind == b"ftyp":
            ftyp = box.render()
        elif box.kind == b"moov":
            moov = box
    if ftyp is None or moov is None:
        raise Unsupported("the head file has no ftyp or moov")
    return ftyp, moov


def _layout(
    moov: Box,
    audio: Box,
    others: list[tuple[Box, Table]],
    sources: Sequence[Source],
    base: int,
    wide: bool,
) -> bytes:
    """The book's moov with the chapters' samples from ``base`` and the other tracks'
    samples after them."""
    stbl = audio.path(b"mdia", b"minf", b"stbl")
    offsets: list[int] = []
    stsc: list[tuple[int, int]] = []
    cursor, chunks = base, 0
    for s in sources:
        offsets += s.table.moved(cursor)
        for first, count in s.table.samples_per_chunk:
            if not stsc or stsc[-1][1] != count:
                stsc.append((first + chunks, count))
        cursor += s.table.end - s.table.start
        chunks += len(s.table.offsets)
    frames = sum(s.frames for s in sources)
    boxes = [
        Box(b"stsd", _book_stsd(sources)),
        Box(b"stts", struct.pack(">III", 0, 1, frames) + struct.pack(">I", AAC_FRAME)),
        Box(b"stsc", _stsc(stsc)),
        Box(b"stsz", struct.pack(">III", 0, 0, frames) + _sizes(sources)),
        _chunk_offsets(offsets, wide),
    ]
    if sources[0].sgpd is not None:
        if any(s.sgpd != sources[0].sgpd for s in sources):
            raise Unsupported("chapters differ in sample groups")
        boxes += [Box(b"sgpd", sources[0].sgpd), Box(b"sbgp", _sbgp_box(sources))]
    unknown = {b.kind for b in stbl.children} - set(_STBL_KINDS)
    if unknown:
        raise Unsupported(f"unexpected sample table boxes {sorted(unknown)}")
    stbl.children = boxes
    for trak, table in others:
        other_stbl = trak.path(b"mdia", b"minf", b"stbl")
        moved = table.moved(cursor)
        other_stbl.children = [
            _chunk_offsets(moved, wide) if b.kind in (b"stco", b"co64") else b
            for b in other_stbl.children
        ]
        cursor += table.end - table.start
    return moov.render()


def _sizes(sources: Sequence[Source]) -> bytes:
    return b"".join(_be_bytes("I", s.table.sizes) for s in sources)


def _chunk_offsets(offsets: list[int], wide: bool) -> Box:
    count = struct.pack(">II", 0, len(offsets))
    if wide:
        return Box(b"co64", count + _be_bytes("Q", offsets))
    return Box(b"stco", count + _be_bytes("I", offsets))


def _stsc(runs: list[tuple[int, int]]) -> bytes:
    body = b"".join(struct.pack(">III", first, count, 1) for first, count in runs)
    return struct.pack(">II", 0, len(runs)) + body


def _sbgp_box(sources: Sequence[Source]) -> bytes:
    grouping = sources[0].sgpd[4:8] if sources[0].sgpd else b"roll"
    runs: list[list[int]] = []
    for s in sources:
        for count, index in s.sbgp if s.sbgp is not None else [(s.frames, 0)]:
            if runs and runs[-1][1] == index:
                runs[-1][0] += count
            else:
                runs.append([count, index])
    body = b"".join(struct.pack(">II", count, index) for count, index in runs)
    return struct.pack(">I4sI", 0, grouping, len(runs)) + body


def _audio_trak(moov: Box) -> Box:
    traks = [b for b in moov.children if b.kind == b"trak" and handler(b) == b"soun"]
    if len(traks) != 1:
        raise Unsupported(f"{len(traks)} audio tracks, expected one")
    return traks[0]


def _table(stbl: Box) -> Table:
    stsz = stbl.child(b"stsz").payload
    uniform, count = struct.unpack_from(">II", stsz, 4)
    if uniform:
        sizes = array("I", [uniform]) * count
    else:
        if len(stsz) < 12 + 4 * count:
            raise Unsupported("truncated sample size table")
        sizes = _be_array("I", memoryview(stsz)[12 : 12 + 4 * count])
    wide = stbl.find(b"co64")
    chunk_box = wide or stbl.child(b"stco")
    (n_chunks,) = struct.unpack_from(">I", chunk_box.payload, 4)
    width = 8 if wide else 4
    if len(chunk_box.payload) < 8 + width * n_chunks:
        raise Unsupported("truncated chunk offset table")
    raw = memoryview(chunk_box.payload)[8 : 8 + width * n_chunks]
    offsets = array("Q", _be_array("Q" if wide else "I", raw))
    stsc = stbl.child(b"stsc").payload
    (n_runs,) = struct.unpack_from(">I", stsc, 4)
    runs = [struct.unpack_from(">III", stsc, 8 + 12 * i) for i in range(n_runs)]
    if any(desc != 1 for _, _, desc in runs) or (runs and runs[0][0] != 1):
        raise Unsupported("unexpected sample-to-chunk table")
    per_chunk = [0] * n_chunks
    for i, (first, samples, _) in enumerate(runs):
        last = runs[i + 1][0] - 1 if i + 1 < len(runs) else n_chunks
        per_chunk[first - 1 : last] = [samples] * max(0, last - first + 1)
    if len(per_chunk) != n_chunks:
        raise Unsupported("unexpected sample-to-chunk table")
    bounds = [0, *itertools.accumulate(per_chunk)]
    if bounds[-1] != count:
        raise Unsupported("chunks and samples disagree")
    cumulative = [0, *itertools.accumulate(sizes)]
    chunk_bytes = array("Q", map(int.__sub__, _at(cumulative, bounds[1:]), _at(cumulative, bounds)))
    return Table(sizes, offsets, chunk_bytes, [(int(f), int(s)) for f, s, _ in runs])


def _at(values: list[int], indexes: list[int]) -> Iterable[int]:
    return map(values.__getitem__, indexes)


def _stts(payload: bytes) -> list[tuple[int, int]]:
    (n,) = struct.unpack_from(">I", payload, 4)
    return [struct.unpack_from(">II", payload, 8 + 8 * i) for i in range(n)]


def _sbgp(payload: bytes) -> list[tuple[int, int]]:
    version, rest = full_box(payload)
    skip = 8 if version == 1 else 4  # grouping type (and its parameter in version 1)
    (n,) = struct.unpack_from(">I", rest, skip)
    return [struct.unpack_from(">II", rest, skip + 4 + 8 * i) for i in range(n)]


def _elst_media_time(payload: bytes) -> int:
    version, rest = full_box(payload)
    (n,) = struct.unpack_from(">I", rest)
    if n != 1:
        raise Unsupported(f"an edit list of {n} entries")
    media_time: int = struct.unpack_from(">q" if version == 1 else ">i", rest, 4 + 4 + 4 * version)[
        0
    ]
    return media_time


# -- the AAC sample description -------------------------------------------------------


def _rates_at(stsd: bytes) -> int:
    """Where the esds decoder config keeps bufferSizeDB (3 bytes), maxBitrate and
    avgBitrate (4 bytes each): the only fields that differ between chapters."""
    at = stsd.find(b"esds")
    if at < 0:
        raise Unsupported("no esds in the sample description")
    pos = at + 8  # past the type and the full box's version and flags
    pos = _descriptor(stsd, pos, 0x03)
    flags = stsd[pos + 2]
    pos += 3  # ES_ID, flags
    if flags & 0x80:
        pos += 2  # dependsOn_ES_ID
    if flags & 0x40:
        pos += 1 + stsd[pos]  # URL
    if flags & 0x20:
        pos += 2  # OCR_ES_ID
    pos = _descriptor(stsd, pos, 0x04)
    if pos + 13 > len(stsd):
        raise Unsupported("truncated esds")
    return pos + 2  # past objectTypeIndication and streamType


def _descriptor(data: bytes, pos: int, tag: int) -> int:
    """The offset of the content of the descriptor ``tag`` at ``pos``."""
    if pos >= len(data) or data[pos] != tag:
        raise Unsupported(f"expected descriptor {tag:#x} in esds")
    pos += 1
    for _ in range(4):  # the length: up to 4 bytes of 7 bits
        pos += 1
        if not data[pos - 1] & 0x80:
            return pos
    raise Unsupported("bad esds descriptor length")


def _without_rates(stsd: bytes) -> bytes:
    at = _rates_at(stsd)
    return stsd[:at] + stsd[at + 11 :]


def _book_stsd(sources: Sequence[Source]) -> bytes:
    """The first chapter's description with the book's buffer size and bit rates."""
    # (bufferSizeDB, maxBitrate) of each chapter
    fields = [struct.unpack_from(">II", b"\x00" + s.stsd[_rates_at(s.stsd) :]) for s in sources]
    size = sum(sum(s.table.sizes) for s in sources)
    samples = sum(s.frames for s in sources) * AAC_FRAME
    average = min(_U32, size * 8 * sources[0].rate // max(1, samples))
    stsd = sources[0].stsd
    at = _rates_at(stsd)
    buffer, peak = max(f[0] for f in fields), max(f[1] for f in fields)
    rates = struct.pack(">I", buffer)[1:] + struct.pack(">II", peak, average)
    return stsd[:at] + rates + stsd[at + 11 :]


# -- durations -------------------------------------------------------------------------


def _set_durations(moov: Box, audio: Box, frames: int, rate: int) -> None:
    mvhd = moov.child(b"mvhd")
    movie_scale, movie_duration = timescale_duration(mvhd.payload, b"mvhd")
    samples = frames * AAC_FRAME
    in_movie = -(-samples * movie_scale // rate)
    mvhd.payload = with_duration(mvhd.payload, b"mvhd", max(movie_duration, in_movie), limit=_U32)
    tkhd = audio.child(b"tkhd")
    tkhd.payload = with_duration(tkhd.payload, b"tkhd", in_movie, limit=_U32)
    mdhd = audio.path(b"mdia", b"mdhd")
    mdhd.payload = with_duration(mdhd.payload, b"mdhd", samples, limit=_U32)
    edts = audio.find(b"edts")
    if edts is not None:
        elst = edts.child(b"elst")
        version, _ = full_box(elst.payload)
        version = 1 if version == 1 or in_movie > _U32 else 0
        entry = struct.pack(">Qq" if version else ">Ii", in_movie, 0) + b"\x00\x01\x00\x00"
        elst.payload = bytes([version]) + elst.payload[1:4] + struct.pack(">I", 1) + entry


# -- copying ---------------------------------------------------------------------------


def _copy(src: int, dst: int, start: int, end: int) -> None:
    """Copy bytes ``start..end`` of ``src`` to ``dst``'s position, in the kernel if it can."""
    offset = start
    while offset < end:
        try:
            n = os.copy_file_range(src, dst, end - offset, offset)
        except OSError as exc:
            if exc.errno not in (errno.ENOSYS, errno.EXDEV, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            _copy_plain(src, dst, offset, end)
            return
        if n == 0:
            raise OSError(f"source ended at {offset}, before {end}")
        offset += n


def _copy_plain(src: int, dst: int, offset: int, end: int) -> None:
    while offset < end:
        block = os.pread(src, min(_COPY_BLOCK, end - offset), offset)
        if not block:
            raise OSError(f"source ended at {offset}, before {end}")
        view = memoryview(block)
        while view:
            view = view[os.write(dst, view) :]
        offset += len(block)
