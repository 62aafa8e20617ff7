"""Producers, users and admins on SQLite: enqueue, read, cancel, retry, priority, stats,
prune, events, API keys and the worker registry. Each function runs on the connection's
thread as one transaction."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from ttsqueue.backends.base import (
    ActiveJobsLimit,
    BackendError,
    InvalidTransition,
    JobNotFound,
    WorkerInfo,
)
from ttsqueue.backends.sqlite_db import Q, transaction
from ttsqueue.backends.sqlite_rows import (
    add_event,
    api_key_from_row,
    dumps,
    event_from_row,
    job_from_row,
    job_row,
    load_job,
    load_job_by_id,
    refresh_progress,
    worker_from_row,
)
from ttsqueue.models import (
    TERMINAL_JOB_STATUSES,
    ApiKey,
    EnqueueResult,
    Event,
    EventType,
    Job,
    JobFilter,
    JobSpec,
    JobStatus,
    Page,
    QueueStats,
    TaskKind,
    TaskStatus,
    task_id,
)

CURSOR_START = "~"  # sorts after every job id (hex digits and dashes)

# -- enqueue -----------------------------------------------------------------------------


def enqueue(conn: sqlite3.Connection, specs: Sequence[JobSpec]) -> list[EnqueueResult]:
    now = time.time()
    results: list[EnqueueResult] = []
    try:
        with transaction(conn):
            for spec in specs:
                if spec.idempotency_key:
                    found = conn.execute(
                        Q["job_by_idempotency_key"],
                        {"user_id": spec.user_id, "key": spec.idempotency_key},
                    ).fetchone()
                    if found is not None:
                        results.append(EnqueueResult(job_from_row(found), created=False))
                        continue
                if spec.max_active_jobs is not None:
                    _check_active(conn, spec.user_id, spec.max_active_jobs)
                _insert(conn, spec, now)
                row = job_row(conn, spec.id)
                assert row is not None
                results.append(EnqueueResult(job_from_row(row), created=True))
    except sqlite3.IntegrityError as exc:
        raise BackendError(f"a job with this id already exists ({exc})") from None
    return results


def count_active(conn: sqlite3.Connection, user_id: str) -> int:
    return int(conn.execute(Q["active_jobs_user"], {"user_id": user_id}).fetchone()[0])


def _check_active(conn: sqlite3.Connection, user_id: str, limit: int) -> None:
    """Within the write transaction: SQLite has one writer, so the count is exact."""
    active = count_active(conn, user_id)
    if active >= limit:
        raise ActiveJobsLimit(user_id, active, limit)


def _insert(conn: sqlite3.Connection, spec: JobSpec, now: float) -> None:
    scheduled = spec.run_at is not None and spec.run_at > now
    due = spec.run_at if spec.run_at is not None else now
    n = len(spec.chapters)
    conn.execute(Q["upsert_user_cap"], {"user_id": spec.user_id, "cap": spec.max_concurrency})
    job_seq = conn.execute(
        Q["insert_job"],
        {
            "id": spec.id,
            "user_id": spec.user_id,
            "status": (JobStatus.SCHEDULED if scheduled else JobStatus.QUEUED).value,
            "priority": spec.priority,
            "title": spec.title,
            "author": spec.author,
            "work_id": spec.work_id,
            "voice": dumps(spec.voice.to_dict()),
            "output_format": spec.output_format,
            "total_chapters": n,
            "progress_message": "",
            "idempotency_key": spec.idempotency_key,
            "max_attempts": spec.max_attempts,
            "now": now,
            "run_at": spec.run_at,
            "metadata": dumps(spec.metadata),
        },
    ).fetchone()[0]
    common: dict[str, Any] = {
        "job_id": spec.id,
        "job_seq": job_seq,
        "user_id": spec.user_id,
        "priority": spec.priority,
        "run_at": due,
        "max_attempts": spec.max_attempts,
    }
    voice = spec.voice.to_dict()
    rows = [
        {
            **common,
            "id": task_id(spec.id, i),
            "idx": i,
            "kind": TaskKind.SYNTHESIZE.value,
            "status": TaskStatus.PENDING.value,
            "title": ch.title,
            "payload": dumps(
                {
                    "title": ch.title,
                    "text": ch.text,
                    "voice": voice,
                    "output_format": spec.output_format,
                }
            ),
        }
        for i, ch in enumerate(spec.chapters)
    ]
    assemble = {
        "title": spec.title,
        "author": spec.author,
        "output_format": spec.output_format,
        "chapter_titles": [ch.title for ch in spec.chapters],
    }
    rows.append(
        {
            **common,
            "id": task_id(spec.id, n),
            "idx": n,
            "kind": TaskKind.ASSEMBLE.value,
            "status": TaskStatus.WAITING.value,
            "title": spec.title,
            "payload": dumps(assemble),
        }
    )
    conn.executemany(Q["insert_task"], rows)
    if scheduled:
        add_event(conn, spec.id, spec.user_id, EventType.SCHEDULED, {"run_at": spec.run_at}, now)
    else:
        data = {"priority": spec.priority, "total_chapters": n}
        add_event(conn, spec.id, spec.user_id, EventType.QUEUED, data, now)


# -- read --------------------------------------------------------------------------------


def _owned(conn: sqlite3.Connection, job_id: str, user_id: str | None) -> sqlite3.Row:
    row = job_row(conn, job_id)
    if row is None or (user_id is not None and row["user_id"] != user_id):
        raise JobNotFound(job_id)
    return row


def get(conn: sqlite3.Connection, job_id: str, user_id: str | None) -> Job | None:
    with transaction(conn, "begin_read"):
        try:
            return load_job(conn, _owned(conn, job_id, user_id))
        except JobNotFound:
            return None


def list_jobs(conn: sqlite3.Connection, flt: JobFilter, limit: int, cursor: str | None) -> Page:
    if limit <= 0:
        return Page(items=(), next_cursor=None)
    name = "jobs_page" + ("_user" if flt.user_id else "") + ("_status" if flt.status else "")
    params = {
        "user_id": flt.user_id,
        "status": flt.status.value if flt.status else None,
        "cursor": cursor if cursor is not None else CURSOR_START,
        "limit": limit + 1,
    }
    rows = conn.execute(Q[name], params).fetchall()
    items = tuple(job_from_row(r) for r in rows[:limit])
    more = len(rows) > limit
    return Page(items=items, next_cursor=items[-1].id if more else None)


def stats(conn: sqlite3.Connection, user_id: str | None) -> QueueStats:
    now = time.time()
    suffix = "_user" if user_id is not None else ""
    params = {"user_id": user_id, "now": now}
    with transaction(conn, "begin_read"):
        jobs = dict.fromkeys((s.value for s in JobStatus), 0)
        jobs.update((r["status"], r["n"]) for r in conn.execute(Q["job_counts" + suffix], params))
        tasks = dict.fromkeys((s.value for s in TaskStatus), 0)
        tasks.update((r["status"], r["n"]) for r in conn.execute(Q["task_counts" + suffix], params))
        users = conn.execute(Q["user_count" + suffix], params).fetchone()[0]
        oldest = conn.execute(Q["oldest_pending" + suffix], params).fetchone()[0]
    return QueueStats(jobs=jobs, tasks=tasks, users=int(users), oldest_pending_at=oldest)


# -- change ------------------------------------------------------------------------------


def cancel(conn: sqlite3.Connection, job_id: str, user_id: str | None) -> Job:
    now = time.time()
    with transaction(conn):
        row = _owned(conn, job_id, user_id)
        if row["status"] in TERMINAL_JOB_STATUSES:
            raise InvalidTransition(job_from_row(row), f"job is already {row['status']}")
        conn.execute(Q["cancel_unfinished_tasks"], {"job_id": job_id, "now": now})
        conn.execute(Q["job_cancelled"], {"job_id": job_id, "now": now})
        refresh_progress(conn, job_id, now)
        add_event(conn, job_id, row["user_id"], EventType.CANCELLED, {}, now)
        return load_job_by_id(conn, job_id)


def retry(
    conn: sqlite3.Connection, job_id: str, user_id: str | None, max_active_jobs: int | None
) -> Job:
    now = time.time()
    with transaction(conn):
        row = _owned(conn, job_id, user_id)
        if row["status"] not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise InvalidTransition(
                job_from_row(row),
                f"only failed or cancelled jobs can be retried ({row['status']})",
            )
        if max_active_jobs is not None:
            _check_active(conn, row["user_id"], max_active_jobs)
        conn.execute(Q["retry_tasks"], {"job_seq": row["seq"], "now": now})
        if row["completed_chapters"] == row["total_chapters"]:
            assemble = task_id(job_id, row["total_chapters"])
            conn.execute(Q["assemble_ready"], {"task_id": assemble, "now": now})
        conn.execute(Q["job_retried"], {"job_id": job_id, "now": now})
        refresh_progress(conn, job_id, now)
        add_event(conn, job_id, row["user_id"], EventType.RETRIED, {}, now)
        return load_job_by_id(conn, job_id)


def set_priority(conn: sqlite3.Connection, job_id: str, priority: int) -> Job:
    now = time.time()
    with transaction(conn):
        row = _owned(conn, job_id, None)
        if row["status"] in TERMINAL_JOB_STATUSES:
            raise InvalidTransition(job_from_row(row), f"job is already {row['status']}")
        conn.execute(Q["job_priority"], {"job_id": job_id, "priority": priority, "now": now})
        conn.execute(Q["tasks_priority"], {"job_seq": row["seq"], "priority": priority})
        data = {"priority": priority}
        add_event(conn, job_id, row["user_id"], EventType.PRIORITY_CHANGED, data, now)
        return load_job_by_id(conn, job_id)


def prune(conn: sqlite3.Connection, older_than: float) -> list[str]:
    with transaction(conn):
        doomed = conn.execute(Q["prunable_jobs"], {"older_than": older_than}).fetchall()
        for job in doomed:
            conn.execute(Q["delete_job_tasks"], {"seq": job["seq"]})
            conn.execute(Q["delete_job_events"], {"id": job["id"]})
            conn.execute(Q["delete_job"], {"id": job["id"]})
    return [str(job["id"]) for job in doomed]


# -- events ------------------------------------------------------------------------------


def events(conn: sqlite3.Connection, job_id: str, after: int, limit: int) -> list[Event]:
    params = {"job_id": job_id, "after": after, "limit": max(0, limit)}
    return [event_from_row(r) for r in conn.execute(Q["job_events"], params)]


def last_event_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute(Q["last_event_id"]).fetchone()[0])


def events_after(conn: sqlite3.Connection, after: int, limit: int) -> list[Event]:
    params = {"after": after, "limit": limit}
    return [event_from_row(r) for r in conn.execute(Q["events_after"], params)]


# -- API keys, workers -------------------------------------------------------------------


def put_api_key(conn: sqlite3.Connection, key: ApiKey) -> None:
    try:
        with transaction(conn):
            conn.execute(
                Q["insert_api_key"],
                {
                    "id": key.id,
                    "key_hash": key.key_hash,
                    "user_id": key.user_id,
                    "premium": int(key.premium),
                    "admin": int(key.admin),
                    "label": key.label,
                    "created_at": key.created_at,
                },
            )
    except sqlite3.IntegrityError:
        raise BackendError("an API key with this id or hash already exists") from None


def get_api_key(conn: sqlite3.Connection, key_hash: str) -> ApiKey | None:
    row = conn.execute(Q["api_key_by_hash"], {"key_hash": key_hash}).fetchone()
    return None if row is None else api_key_from_row(row)


def existing_jobs(conn: sqlite3.Connection, job_ids: list[str]) -> set[str]:
    rows = conn.execute(Q["existing_jobs"], {"ids": json.dumps(job_ids)})
    return {str(row["id"]) for row in rows}


def list_api_keys(conn: sqlite3.Connection) -> list[ApiKey]:
    return [api_key_from_row(row) for row in conn.execute(Q["api_keys"])]


def revoke_api_key(conn: sqlite3.Connection, key_id: str) -> bool:
    with transaction(conn):
        return conn.execute(Q["delete_api_key"], {"id": key_id}).rowcount > 0


def register_worker(conn: sqlite3.Connection, info: WorkerInfo) -> None:
    with transaction(conn):
        conn.execute(
            Q["upsert_worker"],
            {
                "id": info.id,
                "host": info.host,
                "pid": info.pid,
                "version": info.version,
                "concurrency": info.concurrency,
                "tasks": dumps(list(info.tasks)),
                "started_at": info.started_at,
                "now": time.time(),
            },
        )


def unregister_worker(conn: sqlite3.Connection, worker_id: str) -> None:
    with transaction(conn):
        conn.execute(Q["delete_worker"], {"id": worker_id})


def list_workers(conn: sqlite3.Connection, ttl_s: float) -> list[WorkerInfo]:
    rows = conn.execute(Q["live_workers"], {"since": time.time() - ttl_s}).fetchall()
    return [worker_from_row(r) for r in rows]
