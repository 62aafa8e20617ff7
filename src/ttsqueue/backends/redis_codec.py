"""Between Redis hashes/script replies and ttsqueue's domain types (no I/O here)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ttsqueue.backends.base import ActiveJobsLimit, WorkerInfo
from ttsqueue.backends.keys import DEFAULT_PREFIX
from ttsqueue.models import (
    ApiKey,
    ClaimedTask,
    Event,
    EventType,
    Job,
    JobSpec,
    JobStatus,
    Lease,
    TaskInfo,
    TaskKind,
    TaskStatus,
    Voice,
)

DEFAULT_RETENTION_DAYS = 30.0
DEFAULT_EVENTS_MAX = 10_000


class RedisUrl:
    """A ``redis://`` URL split into what redis-py takes and ttsqueue's own parameters:
    ``prefix`` (key prefix), ``retention_days`` (finished jobs expire after this; 0 keeps
    them; default ``TTSQUEUE_RETENTION_DAYS``) and ``events_max`` (events kept per job)."""

    def __init__(self, url: str, retention_days: float = DEFAULT_RETENTION_DAYS) -> None:
        parts = urlsplit(url)
        own: dict[str, str] = {}
        rest: list[tuple[str, str]] = []
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name in ("prefix", "retention_days", "events_max"):
                own[name] = value
            else:
                rest.append((name, value))
        self.client_url = urlunsplit(parts._replace(query=urlencode(rest)))
        self.prefix = own.get("prefix") or DEFAULT_PREFIX
        try:
            days = float(own.get("retention_days", retention_days))
            self.events_max = int(own.get("events_max", DEFAULT_EVENTS_MAX))
        except ValueError as exc:
            raise ValueError(f"TTSQUEUE_DATABASE_URL: {exc}") from None
        if days < 0 or self.events_max < 1:
            raise ValueError("TTSQUEUE_DATABASE_URL: retention_days >= 0, events_max >= 1")
        self.retention_s = int(days * 86400)


def _f(value: str | None) -> float | None:
    return None if value is None or value == "" else float(value)


def _i(value: str | None) -> int | None:
    return None if value is None or value == "" else int(value)


def _json(value: str | None) -> Any:
    return None if value is None else json.loads(value)


ACTIVE_LIMIT = re.compile(r"active jobs limit (\d+) (\d+) (.*)", re.DOTALL)


def active_limit(exc: Exception) -> ActiveJobsLimit | None:
    """The refusal by the cap on unfinished jobs that a script's error reply describes."""
    found = ACTIVE_LIMIT.search(str(exc))
    if found is None:
        return None
    return ActiveJobsLimit(found[3], int(found[1]), int(found[2]))


def enqueue_args(specs: Sequence[JobSpec]) -> tuple[list[str], list[str]]:
    """A batch as enqueue.lua reads it: the count, then per spec its JSON and one payload
    per task. Also returns each spec's metadata JSON (what :func:`created_job` reads)."""
    voices: dict[Voice, tuple[str, dict[str, Any]]] = {}
    args = [str(len(specs))]
    metas: list[str] = []
    for spec in specs:
        known = voices.get(spec.voice)
        if known is None:
            as_dict = spec.voice.to_dict()
            known = voices[spec.voice] = (json.dumps(as_dict), as_dict)
        voice_json, voice = known
        metadata = json.dumps(spec.metadata)
        metas.append(metadata)
        titles = [ch.title for ch in spec.chapters]
        head = {
            "id": spec.id,
            "user_id": spec.user_id,
            "priority": spec.priority,
            "title": spec.title,
            "author": spec.author,
            "work_id": spec.work_id,
            "voice": voice_json,
            "output_format": spec.output_format,
            "run_at": spec.run_at,
            "idem": spec.idempotency_key,
            "max_attempts": spec.max_attempts,
            "max_concurrency": spec.max_concurrency,
            "max_active_jobs": spec.max_active_jobs,
            "metadata": metadata,
            "titles": titles,
        }
        args.append(json.dumps(head))
        args.extend(
            json.dumps(
                {
                    "title": ch.title,
                    "text": ch.text,
                    "voice": voice,
                    "output_format": spec.output_format,
                }
            )
            for ch in spec.chapters
        )
        args.append(
            json.dumps(
                {
                    "title": spec.title,
                    "author": spec.author,
                    "output_format": spec.output_format,
                    "chapter_titles": titles,
                }
            )
        )
    return args, metas


def created_job(spec: JobSpec, status: str, created_at: float, metadata: str) -> Job:
    """The job enqueue.lua just wrote for ``spec``: the same values :func:`decode_job`
    would read back from its hash, without reading it."""
    return Job(
        id=spec.id,
        user_id=spec.user_id,
        status=JobStatus(status),
        priority=int(spec.priority),
        title=spec.title,
        author=spec.author,
        work_id=spec.work_id,
        voice=Voice.from_dict(spec.voice.to_dict()),
        output_format=spec.output_format,
        total_chapters=len(spec.chapters),
        completed_chapters=0,
        progress_percent=0.0,
        progress_message="",
        current_chapter=None,
        attempts=0,
        error=None,
        idempotency_key=spec.idempotency_key,
        created_at=created_at,
        updated_at=created_at,
        run_at=None if spec.run_at is None else float(spec.run_at),
        started_at=None,
        finished_at=None,
        result=None,
        metadata=json.loads(metadata),
    )


def decode_job(flat: Sequence[str] | dict[str, str], tasks: dict[str, str] | None) -> Job:
    h = flat if isinstance(flat, dict) else dict(zip(flat[::2], flat[1::2], strict=True))
    n = int(h["total"])
    return Job(
        id=h["id"],
        user_id=h["user_id"],
        status=JobStatus(h["status"]),
        priority=int(h["priority"]),
        title=h.get("title", ""),
        author=h.get("author", ""),
        work_id=h.get("work_id"),
        voice=Voice.from_dict(json.loads(h["voice"])),
        output_format=h["output_format"],
        total_chapters=n,
        completed_chapters=int(h["completed"]),
        progress_percent=float(h["progress"]),
        progress_message=h.get("message", ""),
        current_chapter=_i(h.get("current")),
        attempts=int(h["attempts"]),
        error=h.get("error"),
        idempotency_key=h.get("idem"),
        created_at=float(h["created_at"]),
        updated_at=float(h["updated_at"]),
        run_at=_f(h.get("run_at")),
        started_at=_f(h.get("started_at")),
        finished_at=_f(h.get("finished_at")),
        result=_json(h.get("result")),
        metadata=json.loads(h.get("metadata", "{}")),
        tasks=() if tasks is None else decode_tasks(h["id"], n, int(h["max_attempts"]), tasks),
    )


def decode_tasks(job_id: str, n: int, max_attempts: int, h: dict[str, str]) -> tuple[TaskInfo, ...]:
    out = []
    for i in range(n + 1):
        p = f"{i}."
        out.append(
            TaskInfo(
                id=f"{job_id}.{i}",
                index=i,
                kind=TaskKind.SYNTHESIZE if i < n else TaskKind.ASSEMBLE,
                title=h.get(p + "t", ""),
                status=TaskStatus(h[p + "s"]),
                attempts=int(h[p + "a"]),
                max_attempts=max_attempts,
                progress=float(h[p + "p"]),
                error=h.get(p + "e"),
                result=_json(h.get(p + "r")),
                worker_id=h.get(p + "w"),
                started_at=_f(h.get(p + "st")),
                finished_at=_f(h.get(p + "ft")),
            )
        )
    return tuple(out)


def decode_claimed(row: Sequence[Any]) -> ClaimedTask:
    tid, token, job_id, user_id, index, attempt, max_attempts, expires, kind, payload = row
    return ClaimedTask(
        lease=Lease(str(tid), int(token)),
        job_id=str(job_id),
        user_id=str(user_id),
        kind=TaskKind(kind),
        index=int(index),
        attempt=int(attempt),
        max_attempts=int(max_attempts),
        lease_expires_at=float(expires),
        payload=json.loads(payload),
    )


def decode_event(text: str) -> Event:
    return _event(json.loads(text))


def decode_events(text: str) -> list[Event]:
    """A pub/sub message: the JSON array of the events one script appended (or, from
    an older ttsqueue, a single event object)."""
    data = json.loads(text)
    return [_event(d) for d in data] if isinstance(data, list) else [_event(data)]


def _event(d: dict[str, Any]) -> Event:
    return Event(
        job_id=d["job_id"],
        user_id=d["user_id"],
        seq=int(d["seq"]),
        type=EventType(d["type"]),
        data=d["data"],
        at=float(d["at"]),
        id=int(d["id"]),
    )


def encode_worker(info: WorkerInfo) -> str:
    return json.dumps(
        {
            "id": info.id,
            "host": info.host,
            "pid": info.pid,
            "version": info.version,
            "concurrency": info.concurrency,
            "tasks": list(info.tasks),
            "started_at": info.started_at,
        }
    )


def decode_worker(text: str, last_seen: str) -> WorkerInfo:
    d = json.loads(text)
    return WorkerInfo(
        id=d["id"],
        host=d["host"],
        pid=int(d["pid"]),
        version=d["version"],
        concurrency=int(d["concurrency"]),
        tasks=tuple(d["tasks"]),
        started_at=float(d["started_at"]),
        last_seen_at=float(last_seen),
    )


def encode_api_key(key: ApiKey) -> str:
    return json.dumps(
        {
            "id": key.id,
            "key_hash": key.key_hash,
            "user_id": key.user_id,
            "premium": key.premium,
            "admin": key.admin,
            "label": key.label,
            "created_at": key.created_at,
        }
    )


def decode_api_key(text: str) -> ApiKey:
    d = json.loads(text)
    return ApiKey(
        id=d["id"],
        key_hash=d["key_hash"],
        user_id=d["user_id"],
        premium=bool(d["premium"]),
        admin=bool(d["admin"]),
        label=d["label"],
        created_at=float(d["created_at"]),
    )
