"""Book metadata and chapter tags that PyAV cannot write, written with mutagen."""

# mutagen ships type information but leaves its constructors and methods unannotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mutagen import flac, id3, mp4, oggopus

if TYPE_CHECKING:
    from ttsqueue.bookinfo import BookInfo

    from .assemble import BookMeta

STIK_AUDIOBOOK = 2
DEFAULT_GENRE = "Audiobook"
_ITUNES = "----:com.apple.iTunes:"  # freeform atoms: FFmpeg and Audiobookshelf read the name
_FRONT_COVER = 3  # picture type in ID3 APIC and FLAC PICTURE blocks


def _cover_mime(meta: BookMeta) -> str:
    if meta.cover_mime:
        return meta.cover_mime
    return "image/png" if (meta.cover or b"").startswith(b"\x89PNG") else "image/jpeg"


def write_mp4_tags(path: Path, meta: BookMeta, *, audiobook: bool) -> None:
    """iTunes tags: title, author, narrator, cover, the book's info and, for M4B, the
    audiobook kind."""
    audio = mp4.MP4(str(path))
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    assert tags is not None
    tags["\xa9nam"] = [meta.title]
    tags["\xa9alb"] = [meta.title]
    if meta.author:
        tags["\xa9ART"] = [meta.author]
        tags["aART"] = [meta.author]
    if meta.narrator:
        tags["\xa9nrt"] = [meta.narrator]  # Apple Books' narrator
        tags["\xa9wrt"] = [meta.narrator]  # where most other players look for it
    _mp4_info(tags, meta.info)
    if audiobook:
        tags["stik"] = [STIK_AUDIOBOOK]
    if meta.cover:
        kind = mp4.MP4Cover.FORMAT_PNG if _cover_mime(meta) == "image/png" else None
        tags["covr"] = [mp4.MP4Cover(meta.cover, kind or mp4.MP4Cover.FORMAT_JPEG)]
    audio.save()


def _mp4_info(tags: Any, info: BookInfo) -> None:
    """Genre, year, description, series, publisher, language and ISBN as Apple Books
    (``©gen``, ``©day``, ``desc``/``ldes``, ``©mvn``/``©mvi``) and Audiobookshelf
    (those, and the freeform ``SERIES``, ``SERIES-PART``, ``PUBLISHER``, ``ISBN``,
    ``LANGUAGE``) read them."""
    tags["\xa9gen"] = [info.genre or DEFAULT_GENRE]
    if info.year is not None:
        tags["\xa9day"] = [f"{info.year:04d}"]
    if info.description:
        tags["desc"] = [info.description[:255]]  # Apple's short description
        tags["ldes"] = [info.description]
    freeform: dict[str, str] = {
        "SERIES": info.series,
        "SERIES-PART": info.series_position,
        "PUBLISHER": info.publisher,
        "ISBN": info.isbn,
        "LANGUAGE": info.language,
    }
    if info.series:
        tags["\xa9mvn"] = [info.series]
        if info.series_position.isdigit():
            tags["\xa9mvi"] = [int(info.series_position)]
    for name, value in freeform.items():
        if value:
            tags[_ITUNES + name] = [mp4.MP4FreeForm(value.encode("utf-8"))]


def write_tags(
    path: Path,
    fmt: str,
    chapters: Sequence[tuple[str, float]],
    duration_s: float,
    meta: BookMeta,
) -> None:
    """Title, author, narrator, cover, and chapter markers for the formats whose
    markers FFmpeg does not write as we want them (mp3, opus, flac)."""
    if fmt in ("m4b", "m4a"):
        write_mp4_tags(path, meta, audiobook=fmt == "m4b")
    elif fmt == "mp3":
        _write_id3(path, chapters, duration_s, meta)
    elif fmt in ("opus", "flac"):
        _write_vorbis(path, fmt, chapters, meta)


def _write_id3(
    path: Path, chapters: Sequence[tuple[str, float]], duration_s: float, meta: BookMeta
) -> None:
    tags = id3.ID3()
    tags.add(id3.TIT2(encoding=id3.Encoding.UTF8, text=[meta.title]))
    tags.add(id3.TALB(encoding=id3.Encoding.UTF8, text=[meta.title]))
    if meta.author:
        tags.add(id3.TPE1(encoding=id3.Encoding.UTF8, text=[meta.author]))
    if meta.narrator:
        tags.add(id3.TCOM(encoding=id3.Encoding.UTF8, text=[meta.narrator]))
    _id3_info(tags, meta.info)
    if meta.cover:
        tags.add(
            id3.APIC(
                encoding=id3.Encoding.UTF8,
                mime=_cover_mime(meta),
                type=_FRONT_COVER,
                desc="Cover",
                data=meta.cover,
            )
        )
    ids = [f"chp{i}" for i in range(len(chapters))]
    tags.add(
        id3.CTOC(
            element_id="toc",
            flags=id3.CTOCFlags.TOP_LEVEL | id3.CTOCFlags.ORDERED,
            child_element_ids=ids,
            sub_frames=[id3.TIT2(encoding=id3.Encoding.UTF8, text=[meta.title])],
        )
    )
    ends = [start for _, start in chapters[1:]] + [duration_s]
    for element_id, (title, start), end in zip(ids, chapters, ends, strict=True):
        tags.add(
            id3.CHAP(
                element_id=element_id,
                start_time=round(start * 1000),
                end_time=round(end * 1000),
                sub_frames=[id3.TIT2(encoding=id3.Encoding.UTF8, text=[title])],
            )
        )
    tags.save(str(path), v2_version=4)


def _id3_info(tags: id3.ID3, info: BookInfo) -> None:
    utf8 = id3.Encoding.UTF8
    tags.add(id3.TCON(encoding=utf8, text=[info.genre or DEFAULT_GENRE]))
    if info.year is not None:
        tags.add(id3.TDRC(encoding=utf8, text=[f"{info.year:04d}"]))
    if info.publisher:
        tags.add(id3.TPUB(encoding=utf8, text=[info.publisher]))
    if info.language:
        tags.add(id3.TLAN(encoding=utf8, text=[info.language]))
    if info.description:
        tags.add(id3.COMM(encoding=utf8, lang="XXX", desc="", text=[info.description]))
        tags.add(id3.TXXX(encoding=utf8, desc="DESCRIPTION", text=[info.description]))
    if info.series:
        tags.add(id3.MVNM(encoding=utf8, text=[info.series]))
        tags.add(id3.TXXX(encoding=utf8, desc="SERIES", text=[info.series]))
    if info.series_position:
        tags.add(id3.MVIN(encoding=utf8, text=[info.series_position]))
        tags.add(id3.TXXX(encoding=utf8, desc="SERIES-PART", text=[info.series_position]))
    if info.isbn:
        tags.add(id3.TXXX(encoding=utf8, desc="ISBN", text=[info.isbn]))


def _vorbis_info(tags: Any, info: BookInfo) -> None:
    tags["GENRE"] = info.genre or DEFAULT_GENRE
    values = {
        "DATE": f"{info.year:04d}" if info.year is not None else "",
        "DESCRIPTION": info.description,
        "PUBLISHER": info.publisher,
        "ORGANIZATION": info.publisher,  # the Vorbis comment spec's own name for it
        "LANGUAGE": info.language,
        "SERIES": info.series,
        "SERIES-PART": info.series_position,
        "ISBN": info.isbn,
    }
    for key, value in values.items():
        if value:
            tags[key] = value


def vorbis_timestamp(seconds: float) -> str:
    """``HH:MM:SS.mmm`` as the Vorbis chapter extension writes it."""
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def _write_vorbis(
    path: Path, fmt: str, chapters: Sequence[tuple[str, float]], meta: BookMeta
) -> None:
    audio: flac.FLAC | oggopus.OggOpus = (
        flac.FLAC(str(path)) if fmt == "flac" else oggopus.OggOpus(str(path))
    )
    if audio.tags is None:
        audio.add_tags()
    tags: Any = audio.tags  # a Vorbis comment block in either file type
    for key in tags.keys():
        if key.upper() == "TITLE" or key.upper().startswith("CHAPTER"):
            del tags[key]
    tags["TITLE"] = meta.title
    tags["ALBUM"] = meta.title
    if meta.author:
        tags["ARTIST"] = meta.author
        tags["ALBUMARTIST"] = meta.author
    if meta.narrator:
        tags["PERFORMER"] = meta.narrator
        tags["COMPOSER"] = meta.narrator
    _vorbis_info(tags, meta.info)
    for number, (title, start) in enumerate(chapters, 1):
        tags[f"CHAPTER{number:03d}"] = vorbis_timestamp(start)
        tags[f"CHAPTER{number:03d}NAME"] = title
    if meta.cover:
        picture = flac.Picture()
        picture.type = _FRONT_COVER
        picture.mime = _cover_mime(meta)
        picture.desc = "Cover"
        picture.data = meta.cover
        if isinstance(audio, flac.FLAC):
            audio.clear_pictures()
            audio.add_picture(picture)
        else:
            encoded = base64.b64encode(picture.write()).decode("ascii")
            tags["METADATA_BLOCK_PICTURE"] = encoded
    audio.save()
