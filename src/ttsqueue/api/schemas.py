"""Request (``*Create``/``*In``) and response (``*Public``) bodies of the HTTP API.

Every number has bounds, so NaN, infinities and huge values are refused with a 422
naming the field instead of reaching the queue.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ttsqueue import bookinfo
from ttsqueue.api.errors import ErrorItem
from ttsqueue.models import JobStatus, TaskStatus
from ttsqueue.queue import MAX_KEY_CHARS, MAX_TITLE_CHARS
from ttsqueue.tts import lexicon
from ttsqueue.tts.base import (
    MAX_PAUSE_MS,
    MAX_PITCH,
    MAX_SPEED,
    MAX_TARGET_LUFS,
    MAX_TRUE_PEAK_DB,
    MIN_PITCH,
    MIN_SPEED,
    MIN_TARGET_LUFS,
    MIN_TRUE_PEAK_DB,
)

OutputFormat = Literal["m4b", "mp3", "opus", "m4a", "flac", "wav"]
MAX_EPOCH = 253_402_300_799.0  # 9999-12-31T23:59:59Z

Title = Annotated[str, Field(max_length=MAX_TITLE_CHARS)]
ShortId = Annotated[str, Field(max_length=MAX_KEY_CHARS)]
Epoch = Annotated[float, Field(ge=0, le=MAX_EPOCH, description="seconds since the Unix epoch")]
PauseMs = Annotated[int, Field(ge=0, le=MAX_PAUSE_MS)]
LoudnessLufs = Annotated[float, Field(ge=MIN_TARGET_LUFS, le=MAX_TARGET_LUFS)]
TruePeakDb = Annotated[float, Field(ge=MIN_TRUE_PEAK_DB, le=MAX_TRUE_PEAK_DB)]

# What players show about the book (written into the audiobook's tags); an EPUB's own
# values fill the fields a submission leaves out.
Short = Annotated[str, Field(max_length=bookinfo.MAX_FIELD_CHARS)]
Series = Annotated[str, Field(max_length=bookinfo.MAX_FIELD_CHARS, examples=["The Expanse"])]
SeriesPosition = Annotated[
    str,
    Field(
        pattern=f"^{bookinfo.SERIES_POSITION.pattern}$",
        max_length=7,
        description="the book's place in its series",
        examples=["2", "2.5"],
    ),
]
Description = Annotated[str, Field(max_length=bookinfo.MAX_DESCRIPTION_CHARS)]
Year = Annotated[int, Field(ge=bookinfo.MIN_YEAR, le=bookinfo.MAX_YEAR, examples=[2011])]
Language = Annotated[
    str,
    Field(
        pattern=f"^{bookinfo.LANGUAGE.pattern}$",
        max_length=40,
        description="BCP 47 language tag",
        examples=["en", "en-GB"],
    ),
]
ChapterSelection = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1000,
        description="read only these chapters of the book: 1-based numbers and ranges, "
        "in the book's order (for an EPUB, after its front and back matter is left out)",
        examples=["1-3,5,9-"],
    ),
]
Isbn = Annotated[
    str,
    Field(max_length=20, description="ISBN-10 or ISBN-13, check digit verified"),
]


def epoch_of(value: datetime) -> float:
    """Seconds since the epoch of a date and time from a request; one without a zone is
    UTC (not the server's zone, whose conversion fails for the year 1 and the year 9999)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


# -- requests ------------------------------------------------------------------------


class VoiceIn(BaseModel):
    engine: Annotated[str, Field(min_length=1, max_length=50)] | None = Field(
        None, description="TTS engine (default from the server's settings)", examples=["espeak"]
    )
    name: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        None, description="voice name within the engine; see GET /v1/voices", examples=["en-us"]
    )
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED)
    pitch: Annotated[float, Field(ge=MIN_PITCH, le=MAX_PITCH)] | None = None
    sentence_pause_ms: PauseMs | None = None
    paragraph_pause_ms: PauseMs | None = None
    chapter_start_ms: PauseMs | None = Field(
        None, description="silence before each chapter (default from the server's settings)"
    )
    chapter_end_ms: PauseMs | None = Field(
        None, description="silence after each chapter (default from the server's settings)"
    )
    loudness_lufs: LoudnessLufs | None = Field(
        None, description="integrated loudness of every chapter, LUFS (default -18)"
    )
    true_peak_db: TruePeakDb | None = Field(
        None, description="ceiling for the true peak, dBTP (default -3)"
    )


class LexiconEntryIn(BaseModel):
    """How to say a word or phrase: as another text (``alias``) or as IPA (``phoneme``)."""

    grapheme: str = Field(
        min_length=1,
        max_length=lexicon.MAX_GRAPHEME_CHARS,
        description=f"a word or phrase of up to {lexicon.MAX_PHRASE_WORDS} words, matched "
        "whole and literally (no patterns)",
        examples=["Hermione"],
    )
    alias: str | None = Field(None, max_length=lexicon.MAX_ALIAS_CHARS, examples=["her-my-oh-nee"])
    phoneme: str | None = Field(
        None,
        max_length=lexicon.MAX_PHONEME_CHARS,
        description="IPA",
        examples=["h\u025c\u02d0\u02c8ma\u026a\u0259ni"],
    )
    match_case: bool = Field(False, description="match only this exact capitalisation")


LEXICON_LIST = TypeAdapter(Annotated[list[LexiconEntryIn], Field(max_length=lexicon.MAX_ENTRIES)])


class LexiconIn(BaseModel):
    """A stored lexicon: applied to every book its owner submits."""

    name: str = Field(min_length=1, max_length=200, examples=["Names in my fantasy series"])
    entries: list[LexiconEntryIn] = Field(max_length=lexicon.MAX_ENTRIES)


class ChapterIn(BaseModel):
    id: ShortId | None = Field(None, description="the client's own id for the chapter")
    title: Title = ""
    text: str = Field(description="the chapter's text (limits: see the server's settings)")


class JobCreate(BaseModel):
    """A book to read aloud."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "The Storm",
                    "author": "A. Writer",
                    "chapters": [
                        {"title": "Chapter 1", "text": "It was a dark and stormy night."},
                        {"title": "Chapter 2", "text": "The morning came at last."},
                    ],
                    "voice": {"engine": "espeak", "name": "en-us", "speed": 1.0},
                    "output_format": "m4b",
                    "priority": 5,
                }
            ]
        }
    )

    title: Title = ""
    author: Title = ""
    work_id: ShortId | None = Field(None, description="the client's own id for the book")
    chapters: list[ChapterIn] = Field(description="in reading order, at least one")
    voice: VoiceIn | None = None
    output_format: OutputFormat | None = Field(None, description="default from settings")
    priority: Annotated[int, Field(ge=0, le=9)] | None = Field(
        None, description="0 (lowest) to 9 within the caller's tier; default 5"
    )
    run_at: Epoch | datetime | None = Field(
        None, description="start no earlier than this (ISO 8601, or epoch seconds)"
    )
    idempotency_key: Annotated[str, Field(min_length=1, max_length=MAX_KEY_CHARS)] | None = Field(
        None, description="a repeat with the same key answers the existing job (200)"
    )
    series: Series | None = None
    series_position: SeriesPosition | None = None
    description: Description | None = None
    year: Year | None = Field(None, description="year of publication")
    publisher: Short | None = None
    language: Language | None = None
    isbn: Isbn | None = None
    genre: Short | None = Field(None, description="default: Audiobook")
    read_chapters: ChapterSelection | None = None
    lexicon: list[LexiconEntryIn] | None = Field(
        None,
        max_length=lexicon.MAX_ENTRIES,
        description="pronunciations for this book, applied to every chapter before it is "
        "read (give each entry an alias or a phoneme)",
    )

    def book_info(self) -> bookinfo.BookInfo:
        return book_info_of(self)


def book_info_of(fields: BaseModel) -> bookinfo.BookInfo:
    """The book metadata fields of a request body or query (unset ones empty)."""
    values = {name: getattr(fields, name, None) for name in BOOK_INFO_FIELDS}
    return bookinfo.BookInfo(
        **{k: v or "" for k, v in values.items() if k != "year"}, year=values["year"]
    )


BOOK_INFO_FIELDS = (
    "series",
    "series_position",
    "description",
    "year",
    "publisher",
    "language",
    "isbn",
    "genre",
)


class PriorityUpdate(BaseModel):
    priority: int = Field(ge=0, le=99, description="the job's effective priority (admins)")


# -- responses -----------------------------------------------------------------------


class VoicePublic(BaseModel):
    engine: str
    name: str
    speed: float
    pitch: float | None
    sentence_pause_ms: int | None
    paragraph_pause_ms: int | None
    chapter_start_ms: int | None = None
    chapter_end_ms: int | None = None
    loudness_lufs: float | None = None
    true_peak_db: float | None = None


class ChapterPublic(BaseModel):
    index: int = Field(description="1-based, as in /chapters/{n}/audio")
    title: str
    status: TaskStatus
    attempts: int
    max_attempts: int
    progress: float = Field(description="0..1 within the chapter")
    duration_s: float | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    audio_url: str | None = Field(description="set once the chapter is done")


class JobSummary(BaseModel):
    id: str
    user_id: str
    status: JobStatus
    priority: int
    title: str
    author: str
    work_id: str | None
    voice: VoicePublic
    output_format: str
    progress_percent: float
    progress_message: str
    current_chapter: int | None = Field(description="1-based")
    total_chapters: int
    completed_chapters: int
    attempts: int
    error: str | None
    idempotency_key: str | None
    created_at: datetime
    updated_at: datetime
    run_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    audio_url: str | None = Field(description="the book's audio, once completed")
    duration_s: float | None = Field(description="the book's length, once completed")
    events_url: str


class JobPublic(JobSummary):
    chapters: list[ChapterPublic]


class LexiconEntryPublic(BaseModel):
    grapheme: str
    alias: str | None = None
    phoneme: str | None = None
    match_case: bool = False


class LexiconPublic(BaseModel):
    id: str
    user_id: str
    name: str
    entries: list[LexiconEntryPublic]
    created_at: datetime
    updated_at: datetime


class LexiconList(BaseModel):
    items: list[LexiconPublic] = Field(description="oldest first, the order they apply in")


class JobPage(BaseModel):
    items: list[JobSummary]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class EventPublic(BaseModel):
    job_id: str
    user_id: str
    seq: int = Field(description="per job, from 1, no gaps; the SSE id")
    type: str
    data: dict[str, object]
    at: datetime


class VoiceInfoPublic(BaseModel):
    id: str = Field(description="engine:name, as GET /v1/voices/{id}/preview takes it")
    engine: str
    name: str
    language: str
    gender: str | None
    description: str


class WorkerPublic(BaseModel):
    id: str
    host: str
    pid: int
    concurrency: int
    tasks: list[str]
    started_at: datetime
    last_seen_at: datetime


class StatsPublic(BaseModel):
    scope: Literal["all", "user"]
    jobs: dict[str, int] = Field(description="by job status")
    tasks: dict[str, int] = Field(description="by task status")
    users: int
    oldest_pending_at: datetime | None
    workers: list[WorkerPublic] | None = Field(None, description="admins only")


class HealthPublic(BaseModel):
    """Up or down for anyone; the store's state and the version for admins only."""

    status: Literal["ok", "unavailable"]
    store: str | None = Field(None, description="admins only: the store's answer")
    version: str | None = Field(None, description="admins only")


# -- the original /api/tts/queue shape -----------------------------------------------


class LegacyVoiceSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    voice: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    engine: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    name: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED)


class LegacyChapter(BaseModel):
    id: ShortId | int | None = None
    title: Title = ""
    text: str


class LegacySubmit(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "workId": "work-42",
                    "title": "The Storm",
                    "chapters": [{"id": "c1", "title": "One", "text": "It was a dark night."}],
                    "voiceSettings": {"voice": "en-us", "speed": 1.0},
                }
            ]
        }
    )

    workId: ShortId | int | None = None  # the original field names
    chapters: list[LegacyChapter]
    voiceSettings: LegacyVoiceSettings | None = None
    jobType: Annotated[str, Field(max_length=50)] | None = None
    title: Title = ""
    author: Title = ""
    outputFormat: OutputFormat | None = None
    idempotencyKey: Annotated[str, Field(min_length=1, max_length=MAX_KEY_CHARS)] | None = None


class LegacyStatus(BaseModel):
    success: bool = True
    jobId: str
    status: JobStatus
    progressPercent: float
    progressMessage: str
    currentChapter: int | None
    totalChapters: int
    error: str | None
    audioUrl: str | None
    createdAt: datetime


class LegacySubmitted(LegacyStatus):
    message: str
    created: bool


class LegacyList(BaseModel):
    success: bool = True
    jobs: list[LegacyStatus]
    nextCursor: str | None


class LegacyCancelled(BaseModel):
    success: bool = True
    jobId: str
    status: JobStatus


class BatchCreate(BaseModel):
    """Many books at once (see ``TTSQUEUE_MAX_BATCH_JOBS``; the body limit holds too)."""

    jobs: list[JobCreate] = Field(min_length=1, description="the books, each as for POST /v1/jobs")
    atomic: bool = Field(
        True,
        description="true: all or nothing (any error refuses the batch); false: each book "
        "on its own, with its own status",
    )


class BatchItem(BaseModel):
    index: int = Field(description="the book's place in `jobs`")
    status: int = Field(
        description="201 created, 200 an existing job (idempotency key), or "
        "the error's status (422, 429)"
    )
    job: JobSummary | None = None
    error: ErrorItem | None = Field(None, description="why this book was refused")


class BatchResult(BaseModel):
    items: list[BatchItem]
    created: int = Field(description="how many new jobs")


# -- pauses (admins) ----------------------------------------------------------------

EngineName = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$")]


class PauseIn(BaseModel):
    engine: EngineName | None = Field(
        None, description="the engine to pause; null pauses every engine", examples=["espeak"]
    )


class PauseOut(BaseModel):
    engine: str | None = Field(description="null: every engine")
    since: datetime


class ResumeOut(BaseModel):
    engine: str | None
    resumed: bool = Field(description="false when that pause was not set")


class DrainOut(BaseModel):
    worker_id: str
    requested: bool
