"""The Queue facade: validate, apply policy, log and count once, then call the backend.

Everything above the store (HTTP API, CLI, dashboard, worker) goes through here, so no
backend repeats validation, tier rules or logging.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttsqueue import bookinfo, maintenance, metrics, policy, strings, tracing
from ttsqueue.backends.base import (
    ActiveJobsLimit,
    Backend,
    BackendError,
    InvalidTransition,
    JobNotFound,
    StoreUnavailable,
)
from ttsqueue.models import (
    OUTPUT_FORMATS,
    Chapter,
    EnqueueResult,
    Event,
    Job,
    JobFilter,
    JobSpec,
    JobStatus,
    Page,
    QueueStats,
    User,
    Voice,
    new_id,
    valid_user_id,
)
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage, write_atomic
from ttsqueue.tts import lexicon
from ttsqueue.tts.base import MAX_SPEED, MIN_SPEED

log = logging.getLogger("ttsqueue.queue")

MAX_TITLE_CHARS = 500
MAX_KEY_CHARS = 200
MAX_PAGE = 200
MAX_RUN_AT = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last moment a datetime holds

VoiceCheck = Callable[[Voice], str | None]
TextCheck = Callable[[str], str | None]  # e.g. SSML that is not well-formed


class QueueError(Exception):
    """A request the queue refuses; ``field`` names the offending input."""

    status_code = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class LimitExceeded(QueueError):
    """A per-user limit is reached; ``field`` names the limit (a setting), not an input."""

    status_code = 429


def active_limit_error(exc: ActiveJobsLimit) -> LimitExceeded:
    return LimitExceeded(
        "max_active_jobs",
        f"at most {exc.limit} unfinished jobs per user (max_active_jobs); {exc.active} already",
    )


class NotFound(QueueError):
    status_code = 404


class Conflict(QueueError):
    status_code = 409


@dataclass(frozen=True, slots=True)
class BookRequest:
    """A book as a user submits it, before policy."""

    chapters: Sequence[Chapter]
    title: str = ""
    author: str = ""
    voice: Voice | None = None
    output_format: str | None = None
    priority: int | None = None  # 0..9 within the caller's tier
    run_at: float | None = None
    idempotency_key: str | None = None
    work_id: str | None = None
    metadata: dict[str, Any] | None = None
    cover: bytes | None = None  # JPEG or PNG, e.g. from an EPUB; lands in the audiobook
    # The chapters' text already passed :meth:`Queue.check_texts` (the API runs that
    # parse off the event loop), so building the job does not run it again.
    texts_checked: bool = False
    info: bookinfo.BookInfo | None = None  # series, description, year, ...: the book's tags
    lexicon: Sequence[lexicon.Entry] | None = None  # pronunciations, applied to every chapter


MAX_COVER_BYTES = 10 * 1024 * 1024
COVER_TYPES = {b"\xff\xd8\xff": ".jpg", b"\x89PNG\r\n\x1a\n": ".png"}


def _write_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _check_strings(book: BookRequest) -> None:
    """The one rule for strings (:mod:`ttsqueue.strings`) on a book's own fields; its
    chapters are checked with their other limits."""
    fields: list[tuple[str, str | None]] = [
        ("title", book.title),
        ("author", book.author),
        ("work_id", book.work_id),
        ("idempotency_key", book.idempotency_key),
    ]
    if book.voice is not None:
        fields += [("voice.engine", book.voice.engine), ("voice.name", book.voice.name)]
    fields += list(strings.walk(book.metadata or {}, "metadata"))
    for name, value in fields:
        if value is not None and (bad := strings.problem(value)):
            raise QueueError(name, bad)


def _cover_ext(cover: bytes) -> str:
    if len(cover) > MAX_COVER_BYTES:
        raise QueueError("cover", f"at most {MAX_COVER_BYTES // (1024 * 1024)} MiB")
    for magic, ext in COVER_TYPES.items():
        if cover.startswith(magic):
            return ext
    raise QueueError("cover", "a JPEG or PNG image")


def _pronounced(
    chapters: list[Chapter],
    entries: Sequence[lexicon.Entry] | None,
    stored: Sequence[lexicon.Entry],
) -> list[Chapter]:
    """The chapters with the user's stored lexicons (checked when they were stored)
    and then the book's own applied (:mod:`ttsqueue.tts.lexicon`)."""
    if not entries and not stored:
        return chapters
    try:
        pronounce = lexicon.Lexicon([*stored, *lexicon.check_entries(entries or ())])
    except lexicon.LexiconError as exc:
        raise QueueError(exc.field, exc.message) from None
    return [dataclasses.replace(c, text=pronounce.apply(c.text)) for c in chapters]


def _job_metadata(book: BookRequest, job_id: str) -> dict[str, Any]:
    """The caller's metadata, with the book's info (checked) and where its cover goes."""
    metadata = dict(book.metadata or {})
    if book.info is not None:
        try:
            info = bookinfo.check(book.info)
        except bookinfo.BookInfoError as exc:
            raise QueueError(exc.field, exc.message) from None
        if info.to_dict():
            metadata["book"] = info.to_dict()
    if book.cover:
        metadata["cover_path"] = f"{job_id}/cover{_cover_ext(book.cover)}"
    return metadata


class Queue:
    def __init__(
        self,
        backend: Backend,
        settings: Settings,
        *,
        check_voice: VoiceCheck | None = None,
        check_text: TextCheck | None = None,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.storage = Storage(settings.audio_dir)
        self._check_voice = check_voice
        self._check_text = check_text

    # -- producers -------------------------------------------------------------------

    def build_spec(
        self, user: User, book: BookRequest, stored: Sequence[lexicon.Entry] = ()
    ) -> JobSpec:
        """Validate a book and apply the caller's tier and ``stored`` lexicon entries
        (the user's, see :meth:`stored_lexicon`); raises :class:`QueueError`."""
        s = self.settings
        if not valid_user_id(user.id):
            raise QueueError("user", "a user id is 1-200 printable characters")
        _check_strings(book)
        chapters = _pronounced(
            self.check_chapters(book.chapters, check_text=not book.texts_checked),
            book.lexicon,
            stored,
        )
        for name, value in (("title", book.title), ("author", book.author)):
            if len(value) > MAX_TITLE_CHARS:
                raise QueueError(name, f"at most {MAX_TITLE_CHARS} characters")
        fmt = (book.output_format or s.default_format).lower()
        if fmt not in OUTPUT_FORMATS:
            raise QueueError("output_format", f"one of {', '.join(OUTPUT_FORMATS)}")
        voice = book.voice or Voice(engine=s.default_engine, name=s.default_voice)
        if not MIN_SPEED <= voice.speed <= MAX_SPEED:
            raise QueueError("voice.speed", f"between {MIN_SPEED} and {MAX_SPEED}")
        if self._check_voice is not None:
            problem = self._check_voice(voice)
            if problem:
                raise QueueError("voice", problem)
        if book.priority is not None and not (
            policy.MIN_REQUESTED_PRIORITY <= book.priority <= policy.MAX_REQUESTED_PRIORITY
        ):
            raise QueueError(
                "priority",
                f"between {policy.MIN_REQUESTED_PRIORITY} and {policy.MAX_REQUESTED_PRIORITY}",
            )
        if book.run_at is not None and not 0 <= book.run_at <= MAX_RUN_AT:
            raise QueueError("run_at", "between 1970 and the end of the year 9999 (UTC)")
        key = book.idempotency_key
        if key is not None and not 0 < len(key) <= MAX_KEY_CHARS:
            raise QueueError("idempotency_key", f"1 to {MAX_KEY_CHARS} characters")
        job_id = new_id()
        metadata = _job_metadata(book, job_id)
        traceparent = tracing.current_traceparent()  # None while tracing is off
        if traceparent:  # the worker continues this trace (see ttsqueue.tracing)
            metadata[tracing.TRACEPARENT] = traceparent
            tracing.annotate(**{"ttsqueue.job_id": job_id})
        return JobSpec(
            id=job_id,
            user_id=user.id,
            chapters=tuple(chapters),
            voice=voice,
            output_format=fmt,
            title=book.title,
            author=book.author,
            work_id=book.work_id,
            priority=policy.effective_priority(user, book.priority, s),
            run_at=book.run_at,
            idempotency_key=key,
            max_attempts=s.max_attempts,
            max_concurrency=policy.concurrency_cap(user, s),
            max_active_jobs=self._active_cap(user),
            metadata=metadata,
        )

    def _save_covers(self, specs: Sequence[JobSpec], books: Sequence[BookRequest]) -> None:
        """Covers go to storage before the job exists, so no worker can miss them."""
        for spec, book in zip(specs, books, strict=True):
            if book.cover and "cover_path" in spec.metadata:
                path = self.storage.resolve(str(spec.metadata["cover_path"]))
                write_atomic(path, functools.partial(_write_bytes, data=book.cover))

    @contextlib.contextmanager
    def _covers_dropped_if_refused(self, specs: Sequence[JobSpec]) -> Iterator[None]:
        """The store refused the jobs: their covers go. When the outcome is unknown
        (the store dropped the connection), the covers stay; ``ttsqueue gc`` removes
        them later if the jobs do not exist."""
        try:
            yield
        except (QueueError, BackendError) as exc:
            if not isinstance(exc, StoreUnavailable):
                for spec in specs:
                    if "cover_path" in spec.metadata:
                        self.storage.delete_job(spec.id)
            raise

    def _drop_unused_covers(
        self, specs: Sequence[JobSpec], results: Sequence[EnqueueResult]
    ) -> None:
        """An idempotency key matched an existing job: the new job's cover is not needed."""
        for spec, result in zip(specs, results, strict=True):
            if not result.created and "cover_path" in spec.metadata:
                self.storage.delete_job(spec.id)

    def check_texts(self, chapters: Sequence[Chapter]) -> None:
        """Refuse text the engines could not read (such as malformed SSML), naming the
        chapter; CPU work in proportion to the text, so callers on an event loop run it
        in a thread."""
        if self._check_text is None:
            return
        for i, ch in enumerate(chapters):
            if problem := self._check_text(ch.text):
                raise QueueError(f"chapters.{i}.text", problem)

    def check_chapters(self, given: Sequence[Chapter], *, check_text: bool = True) -> list[Chapter]:
        """The chapters, refused (:class:`QueueError` naming the field) when there are
        none or too many, or one is empty or too long, all checked before the text is
        parsed; then, with ``check_text``, :meth:`check_texts`."""
        s = self.settings
        chapters = list(given)
        if not chapters:
            raise QueueError("chapters", "a book needs at least one chapter")
        if len(chapters) > s.max_chapters:
            raise QueueError("chapters", f"at most {s.max_chapters} chapters per book")
        total = 0
        for i, ch in enumerate(chapters):
            for name, value in (("id", ch.id), ("title", ch.title)):
                if value is not None and (bad := strings.problem(value)):
                    raise QueueError(f"chapters.{i}.{name}", bad)
            if len(ch.text) > s.max_chapter_chars:
                raise QueueError(
                    f"chapters.{i}.text", f"at most {s.max_chapter_chars} characters per chapter"
                )
            if bad := strings.problem(ch.text, text=True):
                raise QueueError(f"chapters.{i}.text", bad)
            if not ch.text.strip():
                raise QueueError(f"chapters.{i}.text", "chapter text is empty")
            if len(ch.title) > MAX_TITLE_CHARS:
                raise QueueError(f"chapters.{i}.title", f"at most {MAX_TITLE_CHARS} characters")
            total += len(ch.text)
        if total > s.max_book_chars:
            raise QueueError("chapters", f"at most {s.max_book_chars} characters per book")
        if check_text:
            self.check_texts(chapters)
        return chapters

    @tracing.traced("ttsqueue.enqueue")
    async def add_job(
        self, user: User, book: BookRequest, *, connection: Any | None = None
    ) -> EnqueueResult:
        """Enqueue one book; with ``connection`` (a driver connection in an open
        transaction), inside that transaction: a rollback leaves no job."""
        spec = self.build_spec(user, book, await self.stored_lexicon(user))
        enqueue_in = getattr(self.backend, "enqueue_in", None)
        if connection is not None and (
            not self.backend.capabilities.transactional_enqueue or enqueue_in is None
        ):
            raise QueueError("connection", "this store cannot enqueue inside a transaction")
        await self.check_room(user)
        results: list[EnqueueResult]
        self._save_covers([spec], [book])
        with self._covers_dropped_if_refused([spec]):
            try:
                if connection is not None and enqueue_in is not None:
                    results = await enqueue_in(connection, [spec])
                else:
                    results = await self.backend.enqueue([spec])
            except ActiveJobsLimit as exc:
                raise active_limit_error(exc) from None
        self._drop_unused_covers([spec], results)
        (result,) = results
        metrics.jobs_enqueued(results)
        log.info(
            "job %s %s for %s: %d chapters, priority %d",
            result.job.id,
            "enqueued" if result.created else "matched idempotency key",
            user.id,
            len(spec.chapters),
            spec.priority,
        )
        return result

    @tracing.traced("ttsqueue.enqueue")
    async def add_jobs(self, user: User, books: Sequence[BookRequest]) -> list[EnqueueResult]:
        """Enqueue many books in one transaction (batch producers, benchmarks): all or
        nothing, so a batch that would take the caller past their cap on unfinished
        jobs inserts none of its books (429)."""
        stored = await self.stored_lexicon(user)
        specs = [self.build_spec(user, b, stored) for b in books]
        self._save_covers(specs, books)
        with self._covers_dropped_if_refused(specs):
            try:
                results = await self.backend.enqueue(specs)
            except ActiveJobsLimit as exc:
                raise active_limit_error(exc) from None
        self._drop_unused_covers(specs, results)
        metrics.jobs_enqueued(results)
        log.info("enqueued %d jobs for %s", sum(r.created for r in results), user.id)
        return results

    async def stored_lexicon(self, user: User) -> list[lexicon.Entry]:
        """The entries of the user's stored lexicons, oldest lexicon first."""
        found = await self.backend.list_lexicons(user.id)
        return [lexicon.Entry.from_dict(e) for stored in found for e in stored.entries]

    def _active_cap(self, user: User) -> int | None:
        return None if user.admin else self.settings.max_active_jobs

    async def check_room(self, user: User) -> None:
        """A cheap early refusal (before reading a body) when the caller is already at
        their cap on unfinished jobs. Only a hint: the store enforces the cap itself, in
        the transaction that enqueues (or retries) the job."""
        cap = self._active_cap(user)
        if cap is None:
            return
        active = await self.active_jobs(user)
        if active >= cap:
            raise active_limit_error(ActiveJobsLimit(user.id, active, cap))

    async def active_jobs(self, user: User) -> int:
        return await self.backend.count_active(user.id)

    # -- readers ---------------------------------------------------------------------

    @staticmethod
    def _scope(user: User) -> str | None:
        return None if user.admin else user.id

    async def get_job(self, user: User, job_id: str) -> Job:
        job = await self.backend.get(job_id, user_id=self._scope(user))
        if job is None:
            raise NotFound("job_id", f"no job {job_id}")
        return job

    async def user_jobs(
        self,
        user: User,
        *,
        status: JobStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
        all_users: bool = False,
        owner: str | None = None,
    ) -> Page:
        """The caller's jobs newest first; admins may ask for everyone's (``all_users``)
        or one user's (``owner``)."""
        limit = max(1, min(MAX_PAGE, limit))
        if user.admin and (all_users or owner):
            flt = JobFilter(user_id=owner, status=status)
        else:
            flt = JobFilter(user_id=user.id, status=status)
        return await self.backend.list_jobs(flt, limit=limit, cursor=cursor)

    async def stats(self, user: User) -> QueueStats:
        return await self.backend.stats(user_id=self._scope(user))

    async def events(self, user: User, job_id: str, *, after: int = 0) -> list[Event]:
        await self.get_job(user, job_id)  # ownership check
        return await self.backend.events(job_id, after=after)

    def subscribe(self, user: User, *, job_id: str | None = None) -> AsyncIterator[Event]:
        return self.backend.subscribe(job_id=job_id, user_id=self._scope(user))

    # -- changes ---------------------------------------------------------------------

    async def cancel_job(self, user: User, job_id: str) -> Job:
        try:
            job = await self.backend.cancel(job_id, user_id=self._scope(user))
        except JobNotFound:
            raise NotFound("job_id", f"no job {job_id}") from None
        except InvalidTransition as exc:
            raise Conflict("job_id", f"job is already {exc.job.status.value}") from None
        metrics.job_cancelled()
        log.info("job %s cancelled by %s", job_id, user.id)
        return job

    async def retry_job(self, user: User, job_id: str) -> Job:
        try:
            job = await self.backend.retry(
                job_id, user_id=self._scope(user), max_active_jobs=self._active_cap(user)
            )
        except ActiveJobsLimit as exc:
            raise active_limit_error(exc) from None
        except JobNotFound:
            raise NotFound("job_id", f"no job {job_id}") from None
        except InvalidTransition as exc:
            raise Conflict(
                "job_id", f"only failed or cancelled jobs can be retried (job is {exc.job.status})"
            ) from None
        metrics.job_retried()
        log.info("job %s retried by %s", job_id, user.id)
        return job

    async def set_priority(self, user: User, job_id: str, priority: int) -> Job:
        if not user.admin:
            raise NotFound("job_id", f"no job {job_id}")
        try:
            return await self.backend.set_priority(job_id, priority)
        except JobNotFound:
            raise NotFound("job_id", f"no job {job_id}") from None
        except InvalidTransition as exc:
            raise Conflict("job_id", f"job is already {exc.job.status.value}") from None

    async def prune(self) -> int:
        """Delete the finished jobs past retention, with their files."""
        return len(await maintenance.prune(self.backend, self.storage, self.settings))
