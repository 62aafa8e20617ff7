"""What the sync and the async client share: each API call as a request and a parser,
the error type, and the event stream's parser and reconnection policy."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from ttsqueue.api.schemas import (
    BatchResult,
    DrainOut,
    EventPublic,
    HealthPublic,
    JobCreate,
    JobPage,
    JobPublic,
    PauseOut,
    ResumeOut,
    StatsPublic,
    VoiceInfoPublic,
)
from ttsqueue.models import TERMINAL_EVENTS, JobStatus

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

DEFAULT_TIMEOUT_S = 30.0
TERMINAL_TYPES = frozenset(str(t) for t in TERMINAL_EVENTS)
_VOICES = TypeAdapter(list[VoiceInfoPublic])
_PAUSES = TypeAdapter(list[PauseOut])


class ClientError(Exception):
    """The server answered with an error status.

    ``status_code`` is 404 for a job that does not exist or is someone else's, 409 for
    a transition the job cannot make, 422 when an input is invalid (``detail`` names it),
    429 when rate limited (``retry_after`` says for how long).
    """

    def __init__(
        self,
        status_code: int,
        message: str,
        detail: list[dict[str, Any]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.detail = detail or []
        self.retry_after = retry_after

    @property
    def type(self) -> str | None:
        """The first error item's type (``notfound``, ``not_ready``, ``rate_limited``, ...)."""
        kind = self.detail[0].get("type") if self.detail else None
        return kind if isinstance(kind, str) else None


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_from(response: httpx.Response) -> ClientError:
    """The error a non-2xx response stands for; its body must have been read."""
    detail: list[dict[str, Any]] = []
    try:
        body = response.json()
    except ValueError:
        body = None
    items = body.get("detail") if isinstance(body, dict) else None
    if isinstance(items, list):
        detail = [i for i in items if isinstance(i, dict) and isinstance(i.get("msg"), str)]
    elif isinstance(items, str):
        detail = [{"loc": [], "msg": items, "type": "error"}]
    elif response.text:
        detail = [{"loc": [], "msg": response.text[:500], "type": "error"}]
    message = f"{response.status_code} {response.reason_phrase}".strip()
    if detail:
        loc = detail[0].get("loc") or []
        where = f" ({'.'.join(str(p) for p in loc)})" if loc else ""
        message = f"{response.status_code}: {detail[0]['msg']}{where}"
    return ClientError(
        response.status_code, message, detail, _retry_after(response.headers.get("retry-after"))
    )


def check(response: httpx.Response) -> httpx.Response:
    if response.is_error:
        raise error_from(response)
    return response


# -- calls -------------------------------------------------------------------------


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and how to read its answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    files: dict[str, tuple[str, bytes]] | None = None

    def request(
        self, http: httpx.Client | httpx.AsyncClient, headers: Mapping[str, str], timeout: float
    ) -> httpx.Request:
        params = {k: _param(v) for k, v in self.params.items() if v is not None}
        return http.build_request(
            self.method,
            self.path,
            params=params,
            headers={**headers, **self.headers},
            content=self.content,
            files=self.files,
            timeout=timeout,
        )


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _model(model: type[M]) -> Callable[[httpx.Response], M]:
    def parse(response: httpx.Response) -> M:
        return model.model_validate_json(check(response).content)

    return parse


def _voices(response: httpx.Response) -> list[VoiceInfoPublic]:
    return _VOICES.validate_json(check(response).content)


def job_path(job_id: str) -> str:
    if not job_id:
        raise ValueError("a job id is required")
    return f"/v1/jobs/{quote(job_id, safe='')}"


def audio_path(job_id: str, chapter: int | None) -> str:
    if chapter is None:
        return f"{job_path(job_id)}/audio"
    if isinstance(chapter, bool) or not isinstance(chapter, int) or chapter < 1:
        raise ValueError(f"chapter must be an integer from 1, not {chapter!r}")
    return f"{job_path(job_id)}/chapters/{chapter}/audio"


def _key_header(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key} if key else {}


def add_job(book: JobCreate | Mapping[str, Any], key: str | None) -> Call[JobPublic]:
    if isinstance(book, JobCreate):
        body = book.model_dump_json(exclude_unset=True).encode()
    else:
        body = json.dumps(dict(book), default=_json_default).encode()
    headers = {"Content-Type": "application/json", **_key_header(key)}
    return Call("POST", "/v1/jobs", _model(JobPublic), headers=headers, content=body)


def add_jobs(books: Sequence[JobCreate | Mapping[str, Any]], atomic: bool) -> Call[BatchResult]:
    jobs = [
        b.model_dump(mode="json", exclude_unset=True) if isinstance(b, JobCreate) else dict(b)
        for b in books
    ]
    body = json.dumps({"jobs": jobs, "atomic": atomic}, default=_json_default).encode()
    headers = {"Content-Type": "application/json"}
    return Call("POST", "/v1/jobs/batch", _model(BatchResult), headers=headers, content=body)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def add_text(
    text: str, markdown: bool, key: str | None, params: Mapping[str, Any]
) -> Call[JobPublic]:
    kind = "text/markdown" if markdown else "text/plain"
    headers = {"Content-Type": f"{kind}; charset=utf-8", **_key_header(key)}
    query = {**params, "markdown": markdown}
    return Call("POST", "/v1/jobs", _model(JobPublic), query, headers, content=text.encode("utf-8"))


def add_file(
    data: bytes, filename: str, key: str | None, params: Mapping[str, Any]
) -> Call[JobPublic]:
    files = {"file": (filename, data)}
    return Call("POST", "/v1/jobs", _model(JobPublic), dict(params), _key_header(key), None, files)


def get_job(job_id: str) -> Call[JobPublic]:
    return Call("GET", job_path(job_id), _model(JobPublic))


def list_jobs(
    status: JobStatus | str | None,
    limit: int | None,
    cursor: str | None,
    all_users: bool,
    user: str | None,
) -> Call[JobPage]:
    params: dict[str, Any] = {
        "status": JobStatus(status).value if status is not None else None,
        "limit": limit,
        "cursor": cursor,
        "all": True if all_users else None,
        "user": user,
    }
    return Call("GET", "/v1/jobs", _model(JobPage), params)


def cancel_job(job_id: str) -> Call[JobPublic]:
    return Call("DELETE", job_path(job_id), _model(JobPublic))


def retry_job(job_id: str) -> Call[JobPublic]:
    return Call("POST", f"{job_path(job_id)}/retry", _model(JobPublic))


def stats() -> Call[StatsPublic]:
    return Call("GET", "/v1/stats", _model(StatsPublic))


def pause(engine: str | None) -> Call[PauseOut]:
    body = json.dumps({"engine": engine}).encode()
    headers = {"Content-Type": "application/json"}
    return Call("POST", "/v1/admin/pause", _model(PauseOut), headers=headers, content=body)


def resume(engine: str | None) -> Call[ResumeOut]:
    body = json.dumps({"engine": engine}).encode()
    headers = {"Content-Type": "application/json"}
    return Call("POST", "/v1/admin/resume", _model(ResumeOut), headers=headers, content=body)


def drain_worker(worker_id: str) -> Call[DrainOut]:
    return Call("POST", f"/v1/admin/workers/{quote(worker_id, safe='')}/drain", _model(DrainOut))


def pauses() -> Call[list[PauseOut]]:
    return Call("GET", "/v1/admin/pauses", lambda r: _PAUSES.validate_json(check(r).content))


def voices() -> Call[list[VoiceInfoPublic]]:
    return Call("GET", "/v1/voices", _voices)


def health() -> Call[HealthPublic]:
    return Call("GET", "/v1/health", _model(HealthPublic))


def audio(job_id: str, chapter: int | None, byte_range: str | None) -> Call[bytes]:
    headers = {"Range": byte_range} if byte_range else {}
    return Call("GET", audio_path(job_id, chapter), lambda r: check(r).content, headers=headers)


def subtitles(job_id: str, chapter: int | None, fmt: str) -> Call[str]:
    if fmt not in ("vtt", "srt"):
        raise ValueError(f"format must be 'vtt' or 'srt', not {fmt!r}")
    path = audio_path(job_id, chapter).removesuffix("/audio") + "/subtitles"
    return Call("GET", path, lambda r: check(r).text, params={"format": fmt})


def voice_preview(voice_id: str, text: str | None, speed: float) -> Call[bytes]:
    if not voice_id:
        raise ValueError("a voice id (engine:name, from get_voices) is required")
    params: dict[str, Any] = {"speed": speed}
    if text is not None:
        params["text"] = text
    path = f"/v1/voices/{quote(voice_id, safe=':')}/preview"
    return Call("GET", path, lambda r: check(r).content, params=params)


def client_headers(token: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
    from ttsqueue import __version__

    headers = {"User-Agent": f"ttsqueue-client/{__version__}", "Accept": "application/json"}
    headers.update(extra or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


# -- events ------------------------------------------------------------------------


class SseDecoder:
    """Lines of a ``text/event-stream`` in, ``(id, event, data)`` messages out."""

    def __init__(self) -> None:
        self.last_id: str | None = None
        self.retry_ms: int | None = None
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> tuple[str | None, str, str] | None:
        if line == "":
            message = None
            if self._data:
                message = (self.last_id, self._event or "message", "\n".join(self._data))
            self._event, self._data = "", []
            return message
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None


class EventFollower:
    """The reconnection policy of one job's event stream: resume after the last event
    seen (``Last-Event-ID``), back off on failures, stop at a terminal event."""

    def __init__(
        self,
        job_id: str,
        last_event_id: int | None,
        *,
        reconnect: bool,
        max_retries: int,
        retry_s: float | None,
        max_retry_s: float,
    ) -> None:
        self.path = f"{job_path(job_id)}/events"
        self.job_id = job_id
        self.last_event_id = last_event_id
        self.reconnect = reconnect
        self.max_retries = max_retries
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self.failures = 0
        self.received = 0
        self.finished = False
        self.server_retry_s: float | None = None
        self.decoder = SseDecoder()

    def request(
        self, http: httpx.Client | httpx.AsyncClient, headers: Mapping[str, str], timeout: float
    ) -> httpx.Request:
        headers = {**headers, "Accept": "text/event-stream"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        self.received = 0
        self.decoder = SseDecoder()
        # no read timeout shorter than the server's keep-alive period
        return http.build_request(
            "GET", self.path, headers=headers, timeout=httpx.Timeout(timeout, read=max(timeout, 60))
        )

    def feed(self, lines: Iterable[str]) -> list[EventPublic]:
        out: list[EventPublic] = []
        for line in lines:
            message = self.decoder.feed(line)
            if message is None or self.finished:
                continue
            event = EventPublic.model_validate_json(message[2])
            self.last_event_id = event.seq
            self.received += 1
            self.failures = 0
            self.finished = event.type in TERMINAL_TYPES
            out.append(event)
        if self.decoder.retry_ms is not None:
            self.server_retry_s = self.decoder.retry_ms / 1000
        return out

    def refuse(self, response: httpx.Response) -> ClientError:
        """An error answer: raised at once unless it is worth another try (5xx, 429)."""
        error = error_from(response)
        if error.status_code < 500 and error.status_code != 429:
            raise error
        return error

    def must_check_job(self, failure: BaseException | None) -> bool:
        """A stream that ended cleanly with nothing new: has the job already ended?"""
        return failure is None and self.received == 0

    def next_wait(self, failure: BaseException | None) -> float | None:
        """Seconds to wait before reconnecting, or None to stop without reconnecting;
        raises the failure when it is time to give up."""
        if not self.reconnect:
            if failure is not None:
                raise failure
            return None
        if self.received == 0:
            self.failures += 1
        if self.failures > self.max_retries:
            if failure is not None:
                raise failure
            raise ClientError(0, f"the event stream of job {self.job_id} kept closing")
        if isinstance(failure, ClientError) and failure.retry_after is not None:
            return min(self.max_retry_s, failure.retry_after)
        base = self.retry_s if self.retry_s is not None else (self.server_retry_s or 1.0)
        backoff = min(self.max_retry_s, base * 2 ** max(0, self.failures - 1))
        return float(backoff * random.uniform(0.8, 1.2))
