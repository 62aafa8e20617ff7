"""The blocking client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, TypeVar

import httpx

from ttsqueue.api.schemas import (
    BatchResult,
    DrainOut,
    EventPublic,
    HealthPublic,
    JobCreate,
    JobPage,
    JobPublic,
    JobSummary,
    PauseOut,
    ResumeOut,
    StatsPublic,
    VoiceInfoPublic,
)
from ttsqueue.client import _calls as calls
from ttsqueue.models import JobStatus

T = TypeVar("T")


class Client:
    """The ttsqueue HTTP API, blocking. Use it as a context manager, or call ``close()``.

    ``token`` is an API key (``ttsqueue token create``) or a JWT the server accepts.
    Every call raises :class:`~ttsqueue.client.ClientError` for an error answer and
    ``httpx.HTTPError`` when the server cannot be reached.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = calls.DEFAULT_TIMEOUT_S,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._extra = dict(headers or {})
        self._headers = calls.client_headers(token, headers)
        self._owned = http is None
        self._http = http or httpx.Client(base_url=self.base_url, transport=transport)

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def with_token(self, token: str | None) -> Client:
        """Another caller on the same server, sharing this client's connections (close
        this one last)."""
        return Client(
            self.base_url, token, timeout=self.timeout, headers=self._extra, http=self._http
        )

    def _run(self, call: calls.Call[T]) -> T:
        return call.parse(self._http.send(call.request(self._http, self._headers, self.timeout)))

    # -- jobs ------------------------------------------------------------------------

    def add_job(
        self, book: JobCreate | Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> JobPublic:
        """Submit a book (a ``JobCreate`` or its JSON shape as a dict)."""
        return self._run(calls.add_job(book, idempotency_key))

    def add_jobs(
        self, books: Sequence[JobCreate | Mapping[str, Any]], *, atomic: bool = True
    ) -> BatchResult:
        """Submit many books in one request, each with its own ``idempotency_key``.
        ``atomic``: all or nothing (an error raises :class:`ClientError`); otherwise
        each item of the answer has its own ``status`` and ``error``."""
        return self._run(calls.add_jobs(books, atomic))

    def add_job_from_text(
        self,
        text: str,
        *,
        markdown: bool = True,
        idempotency_key: str | None = None,
        **params: Any,
    ) -> JobPublic:
        """Submit plain text or Markdown, split into chapters at its headings; ``params``
        are the submission's query parameters (``title``, ``voice``, ``output_format``, ...)."""
        return self._run(calls.add_text(text, markdown, idempotency_key, params))

    def add_job_from_file(
        self,
        file: str | Path | bytes,
        *,
        filename: str | None = None,
        idempotency_key: str | None = None,
        **params: Any,
    ) -> JobPublic:
        """Submit a book file (``.txt``, ``.md``, ``.epub``): a path, or bytes and a filename."""
        data, name = _file(file, filename)
        return self._run(calls.add_file(data, name, idempotency_key, params))

    def get_job(self, job_id: str) -> JobPublic:
        return self._run(calls.get_job(job_id))

    def get_user_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        all_users: bool = False,
        user: str | None = None,
    ) -> JobPage:
        """One page of the caller's jobs, newest first (admins: ``all_users`` or ``user``)."""
        return self._run(calls.list_jobs(status, limit, cursor, all_users, user))

    def iter_user_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        limit: int | None = None,
        all_users: bool = False,
        user: str | None = None,
    ) -> Iterator[JobSummary]:
        """Every job, page after page."""
        cursor: str | None = None
        while True:
            page = self.get_user_jobs(
                status=status, limit=limit, cursor=cursor, all_users=all_users, user=user
            )
            yield from page.items
            cursor = page.next_cursor
            if not cursor:
                return

    def cancel_job(self, job_id: str) -> JobPublic:
        """Cancel a job that has not finished (409 once it has)."""
        return self._run(calls.cancel_job(job_id))

    def retry_job(self, job_id: str) -> JobPublic:
        """Run a failed or cancelled job again; finished chapters are kept."""
        return self._run(calls.retry_job(job_id))

    def get_queue_stats(self) -> StatsPublic:
        return self._run(calls.stats())

    def pause(self, engine: str | None = None) -> PauseOut:
        """Stop claiming for every engine (``None``) or one (admins)."""
        return self._run(calls.pause(engine))

    def resume(self, engine: str | None = None) -> ResumeOut:
        """Lift a pause; ``resumed`` is false when it was not set (admins)."""
        return self._run(calls.resume(engine))

    def drain_worker(self, worker_id: str) -> DrainOut:
        """Ask a live worker to finish what it holds and exit (admins; 404 if not live)."""
        return self._run(calls.drain_worker(worker_id))

    def get_pauses(self) -> list[PauseOut]:
        """The pauses in force, the global one first (admins)."""
        return self._run(calls.pauses())

    def get_voices(self) -> list[VoiceInfoPublic]:
        return self._run(calls.voices())

    def get_voice_preview(
        self, voice_id: str, text: str | None = None, *, speed: float = 1.0
    ) -> bytes:
        """A short MP3 of the voice ``engine:name`` (``VoiceInfoPublic.id``) reading
        ``text`` (or a line of its own)."""
        return self._run(calls.voice_preview(voice_id, text, speed))

    def get_subtitles(self, job_id: str, *, chapter: int | None = None, format: str = "vtt") -> str:
        """The read-along subtitles (``vtt`` or ``srt``) of the book or one chapter."""
        return self._run(calls.subtitles(job_id, chapter, format))

    def health(self) -> HealthPublic:
        return self._run(calls.health())

    # -- audio -------------------------------------------------------------------------

    def audio_url(self, job_id: str, chapter: int | None = None) -> str:
        """Where the book's (or one chapter's, from 1) audio is served; the server wants
        the bearer token there too."""
        return f"{self.base_url}{calls.audio_path(job_id, chapter)}"

    def get_audio(
        self, job_id: str, *, chapter: int | None = None, byte_range: str | None = None
    ) -> bytes:
        """The audio in memory (404 until it is ready)."""
        return self._run(calls.audio(job_id, chapter, byte_range))

    def download_audio(
        self, job_id: str, dest: str | Path | BinaryIO, *, chapter: int | None = None
    ) -> int:
        """Stream the audio to a file or a path (written whole, then renamed); answers
        the number of bytes written."""
        with self._http.stream(
            "GET", calls.audio_path(job_id, chapter), headers=self._headers, timeout=self.timeout
        ) as response:
            if response.is_error:
                response.read()
            calls.check(response)
            return _write(response.iter_bytes(), dest)

    # -- events ------------------------------------------------------------------------

    def events(
        self,
        job_id: str,
        *,
        last_event_id: int | None = None,
        reconnect: bool = True,
        max_retries: int = 8,
        retry_s: float | None = None,
        max_retry_s: float = 30.0,
    ) -> Iterator[EventPublic]:
        """The job's events in order (``seq`` from 1), the history first, then live,
        until ``job.completed``, ``job.failed`` or ``job.cancelled``. A dropped connection
        resumes after the last event seen, so nothing is lost or repeated."""
        follow = calls.EventFollower(
            job_id,
            last_event_id,
            reconnect=reconnect,
            max_retries=max_retries,
            retry_s=retry_s,
            max_retry_s=max_retry_s,
        )
        while True:
            failure: BaseException | None = None
            try:
                response = self._http.send(
                    follow.request(self._http, self._headers, self.timeout), stream=True
                )
                try:
                    if response.is_error:
                        response.read()
                        failure = follow.refuse(response)
                    else:
                        for line in response.iter_lines():
                            yield from follow.feed([line])
                            if follow.finished:
                                return
                finally:
                    response.close()
            except httpx.TransportError as exc:
                failure = exc
            if follow.must_check_job(failure) and self.get_job(job_id).status.terminal:
                return
            wait = follow.next_wait(failure)
            if wait is None:
                return
            time.sleep(wait)

    def wait_for_job(
        self, job_id: str, *, on_event: Callable[[EventPublic], object] | None = None
    ) -> JobPublic:
        """Follow the job's events until it ends; answers the job as it then is."""
        for event in self.events(job_id):
            if on_event is not None:
                on_event(event)
        return self.get_job(job_id)


def _file(file: str | Path | bytes, filename: str | None) -> tuple[bytes, str]:
    if isinstance(file, bytes):
        return file, filename or "book.txt"
    path = Path(file)
    return path.read_bytes(), filename or path.name


def _write(chunks: Iterator[bytes], dest: str | Path | BinaryIO) -> int:
    written = 0
    if isinstance(dest, str | Path):
        path = Path(dest)
        partial = path.with_name(f".{path.name}.part")
        try:
            with partial.open("wb") as out:
                for chunk in chunks:
                    written += out.write(chunk)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        return written
    for chunk in chunks:
        written += dest.write(chunk)
    return written
