"""Reading a submitted book from the request: JSON, plain text/Markdown, or an uploaded file.

``POST /v1/jobs`` takes three bodies:

* ``application/json`` — a :class:`~ttsqueue.api.schemas.JobCreate`;
* ``text/plain`` or ``text/markdown`` — the book itself, split into chapters at its
  headings; title, voice, format and the rest come from query parameters. The text is
  read in the declared ``charset``, else its encoding is found (BOM, UTF-8, UTF-16,
  Windows-1252); a Project Gutenberg header and licence are left out;
* ``text/html`` — a web page, split into chapters at its headings, its navigation,
  header, footer, asides and scripts left out;
* ``multipart/form-data`` — a book file in the part named ``file`` (``.txt``, ``.md``,
  ``.epub``, ``.html``), with the same query parameters.

The cheap refusals come first (credentials, the rate limit and the active-jobs cap, in
the route), then the body is read, and every parse — JSON, text, Markdown, EPUB and the
chapters' SSML — runs in a thread through :class:`~ttsqueue.api.parsing.ParseSlots`,
never on the event loop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request

from ttsqueue.api.deps import ApiState
from ttsqueue.api.errors import ApiError, pydantic_error
from ttsqueue.api.schemas import (
    LEXICON_LIST,
    MAX_EPOCH,
    ChapterSelection,
    Description,
    Isbn,
    JobCreate,
    Language,
    LexiconEntryIn,
    LoudnessLufs,
    OutputFormat,
    PauseMs,
    Series,
    SeriesPosition,
    Short,
    ShortId,
    Title,
    TruePeakDb,
    VoiceIn,
    Year,
    book_info_of,
)
from ttsqueue.books import (
    Book,
    BookError,
    check_text_size,
    decode_text,
    parse_book,
    parse_html,
    parse_text,
)
from ttsqueue.books.plaintext import CharsetError
from ttsqueue.books.select import selected
from ttsqueue.models import Chapter, Voice
from ttsqueue.queue import MAX_KEY_CHARS, BookRequest, Queue
from ttsqueue.settings import Settings
from ttsqueue.tts.base import MAX_PITCH, MAX_SPEED, MIN_PITCH, MIN_SPEED
from ttsqueue.tts.lexicon import Entry

JSON_TYPES = ("application/json",)
TEXT_TYPES = ("text/plain", "text/markdown", "text/html")
MULTIPART = "multipart/form-data"


class SubmitQuery(BaseModel):
    """Book settings for text and file uploads (a JSON body carries its own)."""

    title: Title = ""
    author: Title = ""
    work_id: ShortId | None = None
    engine: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    voice: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        None, description="voice name"
    )
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED)
    pitch: Annotated[float, Field(ge=MIN_PITCH, le=MAX_PITCH)] | None = None
    sentence_pause_ms: PauseMs | None = None
    paragraph_pause_ms: PauseMs | None = None
    chapter_start_ms: PauseMs | None = None
    chapter_end_ms: PauseMs | None = None
    loudness_lufs: LoudnessLufs | None = None
    true_peak_db: TruePeakDb | None = None
    output_format: OutputFormat | None = None
    priority: Annotated[int, Field(ge=0, le=9)] | None = None
    run_at: Annotated[float, Field(ge=0, le=MAX_EPOCH)] | datetime | None = None
    idempotency_key: Annotated[str, Field(min_length=1, max_length=MAX_KEY_CHARS)] | None = None
    markdown: bool | None = Field(
        None, description="text bodies: split at Markdown headings (default: by content type)"
    )
    series: Series | None = None
    series_position: SeriesPosition | None = None
    description: Description | None = None
    year: Year | None = Field(None, description="year of publication")
    publisher: Short | None = None
    language: Language | None = None
    isbn: Isbn | None = None
    genre: Short | None = Field(None, description="default: Audiobook")
    read_matter: bool = Field(
        False,
        description="EPUB: read the front and back matter too (cover, title page, copyright, "
        "contents, index, acknowledgements, about the author), left out by default",
    )
    read_chapters: ChapterSelection | None = None


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def epoch(value: float | datetime | None) -> float | None:
    if value is None or isinstance(value, float | int):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return max(0.0, value.timestamp())


def to_voice(v: VoiceIn | None, settings: Settings) -> Voice | None:
    if v is None:
        return None
    return Voice(
        engine=v.engine or settings.default_engine,
        name=v.name or settings.default_voice,
        speed=v.speed,
        pitch=v.pitch,
        sentence_pause_ms=v.sentence_pause_ms,
        paragraph_pause_ms=v.paragraph_pause_ms,
        chapter_start_ms=v.chapter_start_ms,
        chapter_end_ms=v.chapter_end_ms,
        loudness_lufs=v.loudness_lufs,
        true_peak_db=v.true_peak_db,
    )


def from_json(body: bytes, settings: Settings, header_key: str | None) -> BookRequest:
    if not body.strip():
        raise ApiError(422, "a JSON object is required", loc=["body"], type="missing")
    try:
        job = JobCreate.model_validate_json(body)
    except ValidationError as exc:
        raise pydantic_error(exc) from None
    return from_model(job, settings, header_key)


def from_model(job: JobCreate, settings: Settings, header_key: str | None = None) -> BookRequest:
    """A validated :class:`JobCreate` as the facade's :class:`BookRequest`."""
    chapters = [Chapter(title=c.title, text=c.text, id=c.id) for c in job.chapters]
    return BookRequest(
        chapters=read_only(chapters, job.read_chapters, ["body", "read_chapters"]),
        title=job.title,
        author=job.author,
        voice=to_voice(job.voice, settings),
        output_format=job.output_format,
        priority=job.priority,
        run_at=epoch(job.run_at),
        idempotency_key=job.idempotency_key or header_key,
        work_id=job.work_id,
        info=job.book_info(),
        lexicon=lexicon_entries(job.lexicon),
    )


def lexicon_entries(entries: Sequence[LexiconEntryIn] | None) -> list[Entry]:
    return [Entry(e.grapheme, e.alias or "", e.phoneme or "", e.match_case) for e in entries or ()]


def form_lexicon(raw: object) -> list[Entry] | None:
    """The ``lexicon`` part of an upload: the same JSON list a JSON body's field holds."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ApiError(422, "the lexicon part is JSON text, not a file", loc=["body", "lexicon"])
    try:
        return lexicon_entries(LEXICON_LIST.validate_json(raw))
    except ValidationError as exc:
        raise pydantic_error(exc, ("body", "lexicon")) from None


def read_only(chapters: list[Chapter], spec: str | None, loc: list[str]) -> list[Chapter]:
    """The chapters a ``read_chapters`` selection names (all without one)."""
    if spec is None:
        return chapters
    try:
        return [chapters[i] for i in selected(spec, len(chapters))]
    except BookError as exc:
        raise ApiError(422, str(exc), loc=loc) from None


def skipped_matter(book: Book) -> dict[str, object] | None:
    """What an EPUB's reading left out, kept on the job: ``[{title, kind}]``."""
    if not book.skipped:
        return None
    return {
        "skipped_matter": [
            {"title": "".join(ch for ch in title if ch.isprintable())[:200], "kind": kind}
            for title, kind in book.skipped[:100]
        ]
    }


def _from_query(q: SubmitQuery, book: Book, settings: Settings) -> BookRequest:
    voice = None
    reading = (
        q.sentence_pause_ms,
        q.paragraph_pause_ms,
        q.chapter_start_ms,
        q.chapter_end_ms,
        q.loudness_lufs,
        q.true_peak_db,
    )
    if q.engine or q.voice or q.speed != 1.0 or q.pitch is not None or reading != (None,) * 6:
        voice = to_voice(
            VoiceIn(
                engine=q.engine,
                name=q.voice,
                speed=q.speed,
                pitch=q.pitch,
                sentence_pause_ms=q.sentence_pause_ms,
                paragraph_pause_ms=q.paragraph_pause_ms,
                chapter_start_ms=q.chapter_start_ms,
                chapter_end_ms=q.chapter_end_ms,
                loudness_lufs=q.loudness_lufs,
                true_peak_db=q.true_peak_db,
            ),
            settings,
        )
    return BookRequest(
        chapters=read_only(book.chapters, q.read_chapters, ["query", "read_chapters"]),
        title=q.title or book.title,
        author=q.author or book.author,
        voice=voice,
        output_format=q.output_format,
        priority=q.priority,
        run_at=epoch(q.run_at),
        idempotency_key=q.idempotency_key,
        work_id=q.work_id,
        cover=book.cover,
        info=book_info_of(q).over(book.info),
        metadata=skipped_matter(book),
    )


def charset(request: Request) -> str | None:
    """The ``charset`` parameter of the request's Content-Type, if it has one."""
    for param in request.headers.get("content-type", "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip()
    return None


def from_text(
    body: bytes,
    markdown: bool,
    q: SubmitQuery,
    settings: Settings,
    declared: str | None = None,
) -> BookRequest:
    """A text or Markdown body, decoded as its ``charset`` declares, else as
    :func:`~ttsqueue.books.decode_text` finds (BOM, UTF-8, UTF-16, Windows-1252)."""
    try:
        text = decode_text(body, declared)
    except BookError as exc:
        loc = ["header", "Content-Type"] if isinstance(exc, CharsetError) else ["body"]
        raise ApiError(422, str(exc), loc=loc) from None
    try:
        check_text_size(text, settings.max_book_chars)
        book = parse_text(text, markdown=markdown, default_title=q.title)
    except BookError as exc:
        raise ApiError(422, str(exc), loc=["body"]) from None
    return _from_query(q, book, settings)


def from_html(body: bytes, q: SubmitQuery, settings: Settings, declared: str | None) -> BookRequest:
    """A ``text/html`` body: a web page, chapters at its headings."""
    try:
        book = parse_html(
            body, charset=declared, max_chars=settings.max_book_chars, default_title=q.title
        )
    except BookError as exc:
        loc = ["header", "Content-Type"] if isinstance(exc, CharsetError) else ["body"]
        raise ApiError(422, str(exc), loc=loc) from None
    return _from_query(q, book, settings)


def from_file(name: str, data: bytes, q: SubmitQuery, settings: Settings) -> BookRequest:
    try:
        book = parse_book(name, data, max_chars=settings.max_book_chars, read_matter=q.read_matter)
    except BookError as exc:
        raise ApiError(422, str(exc), loc=["body", "file"]) from None
    return _from_query(q, book, settings)


async def read_upload(request: Request) -> tuple[str, bytes, object]:
    """The file name and bytes of the ``file`` part of a multipart body, and its
    ``lexicon`` part (``None`` without one)."""
    form = await request.form(max_files=1, max_fields=20)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(422, "upload the book in a file part named 'file'", loc=["body", "file"])
        lexicon = form.get("lexicon")
        if lexicon is not None and not isinstance(lexicon, str):
            raise ApiError(
                422, "the lexicon part is JSON text, not a file", loc=["body", "lexicon"]
            )
        return upload.filename or "book.txt", await upload.read(), lexicon
    finally:
        await form.close()


def checked(queue: Queue, book: BookRequest) -> BookRequest:
    """``book`` once its chapters pass the queue's checks (sizes first, then the text,
    such as its SSML), marked so the queue does not parse the text again."""
    queue.check_chapters(book.chapters)
    return dataclasses.replace(book, texts_checked=True)


def _parse(
    kind: str,
    data: bytes,
    filename: str | None,
    q: SubmitQuery,
    state: ApiState,
    header_key: str | None,
    declared: str | None = None,
    lexicon: object = None,
) -> BookRequest:
    """*thread* The book in a request body of media type ``kind`` (and ``charset``
    ``declared``), checked."""
    settings = state.settings
    if filename is not None:
        book = dataclasses.replace(
            from_file(filename, data, q, settings), lexicon=form_lexicon(lexicon)
        )
    elif kind in ("", *JSON_TYPES) or kind.endswith("+json"):
        book = from_json(data, settings, header_key)
    elif kind == "text/html":
        book = from_html(data, q, settings, declared)
    else:
        markdown = q.markdown if q.markdown is not None else kind == "text/markdown"
        book = from_text(data, markdown, q, settings, declared)
    if book.idempotency_key is None and header_key:
        book = dataclasses.replace(book, idempotency_key=header_key)
    return checked(state.queue, book)


async def read_book(
    request: Request, q: SubmitQuery, state: ApiState, header_key: str | None
) -> BookRequest:
    """The book in this request, whatever its content type; raises :class:`ApiError`
    (or :class:`~ttsqueue.queue.QueueError` for a chapter the queue refuses)."""
    kind = media_type(request)
    filename: str | None = None
    lexicon: object = None
    if kind == MULTIPART:
        filename, data, lexicon = await read_upload(request)
    elif kind in ("", *JSON_TYPES) or kind.endswith("+json") or kind in TEXT_TYPES:
        data = await request.body()
    else:
        raise ApiError(
            415,
            f"unsupported content type {kind!r}: send application/json, text/plain, "
            "text/markdown, text/html or multipart/form-data",
            loc=["header", "Content-Type"],
            type="unsupported_media_type",
        )
    return await state.parsing.run(
        _parse, kind, data, filename, q, state, header_key, charset(request), lexicon
    )
