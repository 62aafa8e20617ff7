"""PostgreSQL rows (dicts from psycopg's ``dict_row``) to domain types and back."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.types.json import Jsonb

from ttsqueue.backends.base import ActiveJobsLimit, WorkerInfo
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

Row = Mapping[str, Any]

ACTIVE_LIMIT_SQLSTATE = "TQ429"  # raised by tq_check_active, detail as JSON


def active_limit(detail: str | None) -> ActiveJobsLimit:
    found = json.loads(detail or "{}")
    return ActiveJobsLimit(str(found["user_id"]), int(found["active"]), int(found["limit"]))


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def specs_json(specs: Sequence[JobSpec]) -> Jsonb:
    """The argument of ``tq_enqueue``: every spec as a JSON object, in order."""
    return Jsonb(
        [
            {
                "id": s.id,
                "user_id": s.user_id,
                "chapters": [{"title": c.title, "text": c.text} for c in s.chapters],
                "voice": s.voice.to_dict(),
                "output_format": s.output_format,
                "title": s.title,
                "author": s.author,
                "work_id": s.work_id,
                "priority": s.priority,
                "run_at": s.run_at,
                "idempotency_key": s.idempotency_key,
                "max_attempts": s.max_attempts,
                "max_concurrency": s.max_concurrency,
                "max_active_jobs": s.max_active_jobs,
                "metadata": s.metadata,
            }
            for s in specs
        ]
    )


def task_info(row: Row) -> TaskInfo:
    return TaskInfo(
        id=row["id"],
        index=int(row["idx"]),
        kind=TaskKind(row["kind"]),
        title=row["title"],
        status=TaskStatus(row["status"]),
        attempts=int(row["attempts"]),
        max_attempts=int(row["max_attempts"]),
        progress=float(row["progress"]),
        error=row["error"],
        result=row["result"],
        worker_id=row["worker_id"],
        started_at=_opt_float(row["started_at"]),
        finished_at=_opt_float(row["finished_at"]),
    )


def job(row: Row, tasks: Sequence[Row] = ()) -> Job:
    return Job(
        id=row["id"],
        user_id=row["user_id"],
        status=JobStatus(row["status"]),
        priority=int(row["priority"]),
        title=row["title"],
        author=row["author"],
        work_id=row["work_id"],
        voice=Voice.from_dict(row["voice"]),
        output_format=row["output_format"],
        total_chapters=int(row["total_chapters"]),
        completed_chapters=int(row["completed_chapters"]),
        progress_percent=float(row["progress_percent"]),
        progress_message=row["progress_message"],
        current_chapter=row["current_chapter"],
        attempts=int(row["attempts"]),
        error=row["error"],
        idempotency_key=row["idempotency_key"],
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
        run_at=_opt_float(row["run_at"]),
        started_at=_opt_float(row["started_at"]),
        finished_at=_opt_float(row["finished_at"]),
        result=row["result"],
        metadata=row["metadata"],
        tasks=tuple(task_info(t) for t in tasks),
    )


def claimed(row: Row) -> ClaimedTask:
    return ClaimedTask(
        lease=Lease(row["id"], int(row["token"])),
        job_id=row["job_id"],
        user_id=row["user_id"],
        kind=TaskKind(row["kind"]),
        index=int(row["idx"]),
        attempt=int(row["attempt"]),
        max_attempts=int(row["max_attempts"]),
        lease_expires_at=float(row["lease_expires_at"]),
        payload=row["payload"],
    )


def event(row: Row) -> Event:
    data = row["data"]
    if isinstance(data, str):
        data = json.loads(data)
    return Event(
        job_id=row["job_id"],
        user_id=row["user_id"],
        seq=int(row["seq"]),
        type=EventType(row["type"]),
        data=data,
        at=float(row["at"]),
        id=int(row["id"]),
    )


def worker_params(info: WorkerInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "host": info.host,
        "pid": info.pid,
        "version": info.version,
        "concurrency": info.concurrency,
        "tasks": Jsonb(list(info.tasks)),
        "started_at": info.started_at,
    }


def worker(row: Row) -> WorkerInfo:
    return WorkerInfo(
        id=row["id"],
        host=row["host"],
        pid=int(row["pid"]),
        version=row["version"],
        concurrency=int(row["concurrency"]),
        tasks=tuple(row["tasks"]),
        started_at=float(row["started_at"]),
        last_seen_at=float(row["last_seen_at"]),
    )


def api_key_params(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "key_hash": key.key_hash,
        "user_id": key.user_id,
        "premium": key.premium,
        "admin": key.admin,
        "label": key.label,
        "created_at": key.created_at,
    }


def api_key(row: Row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        key_hash=row["key_hash"],
        user_id=row["user_id"],
        premium=bool(row["premium"]),
        admin=bool(row["admin"]),
        label=row["label"],
        created_at=float(row["created_at"]),
    )
