"""Domain types shared by every layer: pure dataclasses and enums, no I/O.

Times are float seconds since the Unix epoch, read from the store's clock where the
store has one (PostgreSQL ``now()``, Redis ``TIME``) so that many machines agree.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeGuard


class JobStatus(StrEnum):
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    PROCESSING = "processing"
    ASSEMBLING = "assembling"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_JOB_STATUSES


TERMINAL_JOB_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


class TaskStatus(StrEnum):
    WAITING = "waiting"  # the assemble task, until every chapter is done
    PENDING = "pending"  # claimable once run_at is reached
    RUNNING = "running"  # leased by a worker
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TaskKind(StrEnum):
    SYNTHESIZE = "synthesize"
    ASSEMBLE = "assemble"


class EventType(StrEnum):
    QUEUED = "job.queued"
    SCHEDULED = "job.scheduled"
    PROCESSING = "job.processing"
    CHAPTER_STARTED = "chapter.started"
    PROGRESS = "job.progress"
    CHAPTER_COMPLETED = "chapter.completed"
    TASK_RETRYING = "task.retrying"
    TASK_RELEASED = "task.released"
    ASSEMBLING = "job.assembling"
    COMPLETED = "job.completed"
    FAILED = "job.failed"
    CANCELLED = "job.cancelled"
    RETRIED = "job.retried"
    PRIORITY_CHANGED = "job.priority_changed"


TERMINAL_EVENTS = frozenset({EventType.COMPLETED, EventType.FAILED, EventType.CANCELLED})

OUTPUT_FORMATS = ("m4b", "mp3", "opus", "m4a", "flac", "wav")


_last_id = [0, 0]  # (ms, 80 random bits) of the previous id made by this process


MAX_USER_ID_CHARS = 200


def valid_user_id(user_id: object) -> TypeGuard[str]:
    """A user id is 1..200 printable characters: no NUL, newline or other control
    character, which could split or merge keys in a store."""
    return (
        isinstance(user_id, str)
        and 0 < len(user_id) <= MAX_USER_ID_CHARS
        and (user_id.isprintable())
    )


def new_id() -> str:
    """A time-ordered UUID (version 7 layout): ids sort by creation time, and ids made by
    one process within the same millisecond still sort in the order they were made."""
    ms = time.time_ns() // 1_000_000
    if ms <= _last_id[0]:
        ms, rand = _last_id[0], _last_id[1] + 1  # same millisecond: count up
    else:
        rand = int.from_bytes(os.urandom(10), "big") >> 1  # headroom for counting up
    _last_id[0], _last_id[1] = ms, rand
    value = (ms & ((1 << 48) - 1)) << 80 | (rand & ((1 << 80) - 1))
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def task_id(job_id: str, index: int) -> str:
    """Task ids are derived from their job: chapter ``i`` is ``job.i``, assemble is ``job.n``."""
    return f"{job_id}.{index}"


@dataclass(frozen=True, slots=True)
class Voice:
    engine: str = "espeak"
    name: str = "en-us"
    speed: float = 1.0
    pitch: float | None = None
    sentence_pause_ms: int | None = None
    paragraph_pause_ms: int | None = None
    chapter_start_ms: int | None = None  # silence before and after each chapter
    chapter_end_ms: int | None = None
    loudness_lufs: float | None = None  # integrated loudness target of every chapter
    true_peak_db: float | None = None  # ceiling for the true peak

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "name": self.name,
            "speed": self.speed,
            "pitch": self.pitch,
            "sentence_pause_ms": self.sentence_pause_ms,
            "paragraph_pause_ms": self.paragraph_pause_ms,
            "chapter_start_ms": self.chapter_start_ms,
            "chapter_end_ms": self.chapter_end_ms,
            "loudness_lufs": self.loudness_lufs,
            "true_peak_db": self.true_peak_db,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Voice:
        return cls(
            engine=str(data.get("engine", "espeak")),
            name=str(data.get("name", "en-us")),
            speed=float(data.get("speed", 1.0)),
            pitch=None if data.get("pitch") is None else float(data["pitch"]),
            sentence_pause_ms=data.get("sentence_pause_ms"),
            paragraph_pause_ms=data.get("paragraph_pause_ms"),
            chapter_start_ms=data.get("chapter_start_ms"),
            chapter_end_ms=data.get("chapter_end_ms"),
            loudness_lufs=_opt_float(data.get("loudness_lufs")),
            true_peak_db=_opt_float(data.get("true_peak_db")),
        )


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class Chapter:
    title: str
    text: str
    id: str | None = None


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a backend enqueues: one book. The facade has already validated it and
    applied policy (priority, caps), so a backend stores it as given."""

    user_id: str
    chapters: tuple[Chapter, ...]
    voice: Voice = field(default_factory=Voice)
    output_format: str = "wav"
    title: str = ""
    author: str = ""
    work_id: str | None = None
    priority: int = 0
    run_at: float | None = None
    idempotency_key: str | None = None
    max_attempts: int = 3
    max_concurrency: int = 2  # the owner's cap on running tasks, from their tier
    max_active_jobs: int | None = None  # the owner's cap on unfinished jobs; None: no cap
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)


@dataclass(frozen=True, slots=True)
class Lease:
    """Ownership of a claimed task: only the holder of the current token may finish it."""

    task_id: str
    token: int


@dataclass(frozen=True, slots=True)
class ClaimedTask:
    """A task handed to a worker, with everything needed to run it."""

    lease: Lease
    job_id: str
    user_id: str
    kind: TaskKind
    index: int  # chapter index (0-based); for assemble, the number of chapters
    attempt: int  # 1 on the first run
    max_attempts: int
    lease_expires_at: float
    payload: dict[str, Any]  # synthesize: title, text, voice, output_format; assemble: book meta


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """A task as shown to users: one chapter (or the assembly step) of a job."""

    id: str
    index: int
    kind: TaskKind
    title: str
    status: TaskStatus
    attempts: int
    max_attempts: int
    progress: float  # 0..1 within this task
    error: str | None
    result: dict[str, Any] | None  # e.g. {"path": ..., "duration_s": ..., "characters": ...}
    worker_id: str | None
    started_at: float | None
    finished_at: float | None


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    user_id: str
    status: JobStatus
    priority: int
    title: str
    author: str
    work_id: str | None
    voice: Voice
    output_format: str
    total_chapters: int
    completed_chapters: int
    progress_percent: float
    progress_message: str
    current_chapter: int | None  # 1-based, the chapter being read now (or last read)
    attempts: int  # total task runs so far
    error: str | None
    idempotency_key: str | None
    created_at: float
    updated_at: float
    run_at: float | None
    started_at: float | None
    finished_at: float | None
    result: dict[str, Any] | None  # the book file: {"path", "duration_s", ...}
    metadata: dict[str, Any]
    tasks: tuple[TaskInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    job: Job
    created: bool  # False when an idempotency key matched an existing job


@dataclass(frozen=True, slots=True)
class HeartbeatResult:
    """What the store says about the leases a worker holds."""

    extended: frozenset[str]  # task ids whose lease was renewed
    cancelled: frozenset[str]  # the job was cancelled (or failed): stop the task
    lost: frozenset[str]  # the token is stale (lease expired and taken over): stop, write nothing


@dataclass(frozen=True, slots=True)
class Event:
    job_id: str
    user_id: str
    seq: int  # per job, from 1, no gaps
    type: EventType
    data: dict[str, Any]
    at: float
    id: int = 0  # store-wide order where the store keeps one (0 otherwise)


@dataclass(frozen=True, slots=True)
class JobFilter:
    user_id: str | None = None  # None: every user (admins)
    status: JobStatus | None = None


@dataclass(frozen=True, slots=True)
class Page:
    items: tuple[Job, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class QueueStats:
    jobs: dict[str, int]  # by JobStatus value, every status present
    tasks: dict[str, int]  # by TaskStatus value, every status present
    users: int  # distinct users with jobs in scope
    oldest_pending_at: float | None  # when the longest-waiting runnable task became due


@dataclass(frozen=True, slots=True)
class ReapResult:
    requeued: int
    failed: int


def job_progress(
    *, total_chapters: int, completed_chapters: int, running_progress: float, completed: bool
) -> float:
    """The job's progress percentage, as every backend computes it (see backends/base.py)."""
    if completed:
        return 100.0
    if total_chapters <= 0:
        return 0.0
    value = 100.0 * (completed_chapters + running_progress) / total_chapters
    return min(99.0, round(value, 1))


def chapter_message(index: int, total: int, title: str) -> str:
    """``Chapter 3 of 12: The Storm`` for the 0-based chapter ``index``."""
    base = f"Chapter {index + 1} of {total}"
    return f"{base}: {title}" if title else base


ASSEMBLING_MESSAGE = "Assembling audiobook"
COMPLETED_MESSAGE = "Completed"


@dataclass(frozen=True, slots=True)
class User:
    """Who is asking: from a JWT, an API key, or the CLI."""

    id: str
    premium: bool = False
    admin: bool = False


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as stored: only a hash of the secret is kept."""

    id: str
    key_hash: str  # sha256 hex of the whole token
    user_id: str
    premium: bool
    admin: bool
    label: str
    created_at: float


@dataclass(frozen=True, slots=True)
class StoredLexicon:
    """A user's pronunciation lexicon, applied to every book they submit. ``entries``
    are the JSON objects of :class:`ttsqueue.tts.lexicon.Entry` (checked before they
    are stored)."""

    id: str
    user_id: str
    name: str
    entries: tuple[dict[str, Any], ...]
    created_at: float
    updated_at: float
