"""Rows of the SQLite store to domain types, and the small steps many transitions share
(appending an event, recomputing a job's progress, loading a job)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ttsqueue.backends.base import WorkerInfo
from ttsqueue.backends.sqlite_db import Q
from ttsqueue.models import (
    ApiKey,
    Event,
    EventType,
    Job,
    JobStatus,
    TaskInfo,
    TaskKind,
    TaskStatus,
    Voice,
    job_progress,
)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def task_info(row: sqlite3.Row) -> TaskInfo:
    return TaskInfo(
        id=row["id"],
        index=row["idx"],
        kind=TaskKind(row["kind"]),
        title=row["title"],
        status=TaskStatus(row["status"]),
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        progress=row["progress"],
        error=row["error"],
        result=loads(row["result"]),
        worker_id=row["worker_id"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def job_from_row(row: sqlite3.Row, tasks: tuple[TaskInfo, ...] = ()) -> Job:
    return Job(
        id=row["id"],
        user_id=row["user_id"],
        status=JobStatus(row["status"]),
        priority=row["priority"],
        title=row["title"],
        author=row["author"],
        work_id=row["work_id"],
        voice=Voice.from_dict(loads(row["voice"])),
        output_format=row["output_format"],
        total_chapters=row["total_chapters"],
        completed_chapters=row["completed_chapters"],
        progress_percent=row["progress_percent"],
        progress_message=row["progress_message"],
        current_chapter=row["current_chapter"],
        attempts=row["attempts"],
        error=row["error"],
        idempotency_key=row["idempotency_key"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        run_at=row["run_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        result=loads(row["result"]),
        metadata=loads(row["metadata"]),
        tasks=tasks,
    )


def event_from_row(row: sqlite3.Row) -> Event:
    return Event(
        job_id=row["job_id"],
        user_id=row["user_id"],
        seq=row["seq"],
        type=EventType(row["type"]),
        data=loads(row["data"]),
        at=row["at"],
        id=row["id"],
    )


def api_key_from_row(row: sqlite3.Row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        key_hash=row["key_hash"],
        user_id=row["user_id"],
        premium=bool(row["premium"]),
        admin=bool(row["admin"]),
        label=row["label"],
        created_at=row["created_at"],
    )


def worker_from_row(row: sqlite3.Row) -> WorkerInfo:
    return WorkerInfo(
        id=row["id"],
        host=row["host"],
        pid=row["pid"],
        version=row["version"],
        concurrency=row["concurrency"],
        tasks=tuple(loads(row["tasks"])),
        started_at=row["started_at"],
        last_seen_at=row["last_seen_at"],
    )


# -- shared steps (called inside a transaction) ------------------------------------------


def add_event(
    conn: sqlite3.Connection,
    job_id: str,
    user_id: str,
    type_: EventType,
    data: dict[str, Any],
    now: float,
) -> None:
    conn.execute(
        Q["insert_event"],
        {"job_id": job_id, "user_id": user_id, "type": type_.value, "data": dumps(data), "at": now},
    )


def job_row(conn: sqlite3.Connection, job_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(Q["job_by_id"], {"job_id": job_id}).fetchone()
    return row


def load_job(conn: sqlite3.Connection, row: sqlite3.Row) -> Job:
    tasks = conn.execute(Q["tasks_of_job"], {"job_seq": row["seq"]}).fetchall()
    return job_from_row(row, tuple(task_info(t) for t in tasks))


def load_job_by_id(conn: sqlite3.Connection, job_id: str) -> Job:
    row = job_row(conn, job_id)
    assert row is not None
    return load_job(conn, row)


def refresh_progress(conn: sqlite3.Connection, job_id: str, now: float) -> float:
    """Recompute and store the job's progress percentage (see ``models.job_progress``)."""
    row = conn.execute(Q["running_progress"], {"job_id": job_id}).fetchone()
    percent = job_progress(
        total_chapters=row["total_chapters"],
        completed_chapters=row["completed_chapters"],
        running_progress=row["running"],
        completed=row["status"] == JobStatus.COMPLETED,
    )
    conn.execute(Q["set_job_progress"], {"percent": percent, "now": now, "job_id": job_id})
    return percent
