"""Just enough of the ISO base media (MP4) box structure to splice AAC tracks.

A box is parsed into children only where :mod:`ttsqueue.audio.splice` needs to look
inside (the ``moov`` → ``trak`` → ``mdia`` → ``minf`` → ``stbl`` path and ``edts``);
every other box is kept as its exact bytes, so tags, chapter lists and sample
descriptions written by FFmpeg or mutagen pass through untouched.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"})
_U32 = 0xFFFFFFFF


class Unsupported(ValueError):
    """The file is not laid out as this module expects (the caller falls back)."""


@dataclass
class Box:
    kind: bytes
    payload: bytes = b""  # a leaf's content after the header
    children: list[Box] = field(default_factory=list)

    @property
    def is_container(self) -> bool:
        return self.kind in CONTAINERS

    def child(self, kind: bytes) -> Box:
        for box in self.children:
            if box.kind == kind:
                return box
        raise Unsupported(f"no {kind.decode()} box in {self.kind.decode()}")

    def find(self, kind: bytes) -> Box | None:
        return next((box for box in self.children if box.kind == kind), None)

    def path(self, *kinds: bytes) -> Box:
        box = self
        for kind in kinds:
            box = box.child(kind)
        return box

    def render(self) -> bytes:
        body = b"".join(c.render() for c in self.children) if self.is_container else self.payload
        return header(self.kind, len(body)) + body


def header(kind: bytes, body_size: int) -> bytes:
    """A box header for ``body_size`` bytes of content (64-bit size when needed)."""
    if body_size + 8 <= _U32:
        return struct.pack(">I4s", body_size + 8, kind)
    return struct.pack(">I4sQ", 1, kind, body_size + 16)


def parse(data: bytes | memoryview) -> list[Box]:
    """The boxes in ``data``, containers parsed into their children."""
    view = memoryview(data)
    boxes = []
    offset = 0
    while offset < len(view):
        kind, start, end = _bounds(view, offset)
        body = view[start:end]
        box = Box(kind)
        if box.is_container:
            box.children = parse(body)
        else:
            box.payload = bytes(body)
        boxes.append(box)
        offset = end
    return boxes


def _bounds(view: memoryview, offset: int) -> tuple[bytes, int, int]:
    if len(view) - offset < 8:
        raise Unsupported("truncated box header")
    size, kind = struct.unpack_from(">I4s", view, offset)
    start = offset + 8
    if size == 1:
        if len(view) - offset < 16:
            raise Unsupported("truncated box header")
        (size,) = struct.unpack_from(">Q", view, start)
        start += 8
    elif size == 0:
        size = len(view) - offset
    end = offset + size
    if end > len(view) or end < start:
        raise Unsupported(f"box {kind!r} overruns its parent")
    return bytes(kind), start, end


def top_level(f: BinaryIO) -> Iterator[tuple[bytes, int, int]]:
    """(kind, content offset, content size) of each top-level box of a file."""
    f.seek(0, 2)
    file_size = f.tell()
    offset = 0
    while offset + 8 <= file_size:
        f.seek(offset)
        head = f.read(16)
        size, kind = struct.unpack_from(">I4s", head)
        start = offset + 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", head, 8)
            start += 8
        elif size == 0:
            size = file_size - offset
        if size < start - offset or offset + size > file_size:
            raise Unsupported(f"top-level box {kind!r} overruns the file")
        yield bytes(kind), start, offset + size - start
        offset += size


def read_moov(f: BinaryIO) -> tuple[bytes, Box]:
    """The file's ``ftyp`` box (rendered) and its parsed ``moov``."""
    ftyp = moov = None
    for kind, start, size in top_level(f):
        if kind in (b"ftyp", b"moov"):
            f.seek(start)
            body = f.read(size)
            if kind == b"ftyp":
                ftyp = header(kind, size) + body
            else:
                moov = Box(kind, children=parse(body))
    if ftyp is None or moov is None:
        raise Unsupported("not an MP4 file (no ftyp or moov)")
    return ftyp, moov


def full_box(payload: bytes) -> tuple[int, bytes]:
    """A full box's version and the rest of its content after version and flags."""
    if len(payload) < 4:
        raise Unsupported("truncated full box")
    return payload[0], payload[4:]


def handler(trak: Box) -> bytes:
    """A track's handler type (``soun``, ``text``, ...)."""
    _, rest = full_box(trak.path(b"mdia", b"hdlr").payload)
    return rest[4:8]


# Where version 0 / version 1 keep the duration (after version and flags); mvhd and
# mdhd have the timescale just before it.
_DURATION_AT = {b"mvhd": (12, 20), b"mdhd": (12, 20), b"tkhd": (16, 24)}


def timescale_duration(payload: bytes, kind: bytes) -> tuple[int, int]:
    version, rest = full_box(payload)
    at = _DURATION_AT[kind][version]
    fmt = ">Q" if version == 1 else ">I"
    timescale = struct.unpack_from(">I", rest, at - 4)[0] if kind != b"tkhd" else 0
    return timescale, struct.unpack_from(fmt, rest, at)[0]


def with_duration(payload: bytes, kind: bytes, duration: int, limit: int = _U32) -> bytes:
    """``payload`` (mvhd, tkhd or mdhd) with ``duration``; version 1 past ``limit``."""
    version, rest = full_box(payload)
    if version == 0 and duration > limit:
        # version 1: creation and modification times and the duration grow to 64 bits
        created, modified, middle = struct.unpack_from(">III", rest)  # timescale or track id
        start = struct.pack(">QQI", created, modified, middle)
        if kind == b"tkhd":  # then a reserved word, then the duration
            rest = start + rest[12:16] + bytes(8) + rest[20:]
        else:
            rest = start + bytes(8) + rest[16:]
        version = 1
        payload = b"\x01" + payload[1:4] + rest
    at = _DURATION_AT[kind][version]
    fmt = ">Q" if version == 1 else ">I"
    return payload[:4] + rest[:at] + struct.pack(fmt, duration) + rest[at + struct.calcsize(fmt) :]
