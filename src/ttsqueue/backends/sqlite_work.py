"""The worker's hot path on SQLite: claim, heartbeat, complete, fail, release, reap.

Each function runs on the connection's thread and is one ``BEGIN IMMEDIATE``
transaction, so several processes sharing the file see every transition whole.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from ttsqueue.backends.base import Completion, Pause
from ttsqueue.backends.sqlite_db import Q, transaction
from ttsqueue.backends.sqlite_rows import add_event, dumps, job_row, loads, refresh_progress
from ttsqueue.models import (
    ASSEMBLING_MESSAGE,
    COMPLETED_MESSAGE,
    ClaimedTask,
    EventType,
    HeartbeatResult,
    JobStatus,
    Lease,
    ReapResult,
    TaskKind,
    TaskStatus,
    chapter_message,
    task_id,
)

LEASE_EXPIRED = "lease expired"
SYNTHESIZE = TaskKind.SYNTHESIZE.value


# -- claim -------------------------------------------------------------------------------


def claim(
    conn: sqlite3.Connection, worker_id: str, limit: int, lease_s: float, starvation_every: int
) -> list[ClaimedTask]:
    now = time.time()
    params = {"now": now, "until": now + lease_s, "worker_id": worker_id}
    claimed: list[ClaimedTask] = []
    with transaction(conn):
        take_back_expired(conn, now)
        if conn.execute(Q["globally_paused"]).fetchone() is not None:
            return []
        counter = start = int(conn.execute(Q["claims_counter"]).fetchone()[0])
        while len(claimed) < limit:
            slot = counter + 1
            fifo = starvation_every > 0 and slot % starvation_every == 0
            task = conn.execute(Q["claim_fifo" if fifo else "claim_fair"], params).fetchone()
            if task is None:
                break
            counter = slot
            conn.execute(Q["mark_served"], {"counter": slot, "user_id": task["user_id"]})
            claimed.append(_leased(conn, task, worker_id, now))
        if counter != start:
            conn.execute(Q["set_claims_counter"], {"value": counter})
    return claimed


def _leased(conn: sqlite3.Connection, task: sqlite3.Row, worker_id: str, now: float) -> ClaimedTask:
    job_id, user_id = task["job_id"], task["user_id"]
    job = job_row(conn, job_id)
    assert job is not None
    first_claim = job["status"] in (JobStatus.QUEUED, JobStatus.SCHEDULED)
    chapter = task["kind"] == SYNTHESIZE
    conn.execute(
        Q["job_claimed"],
        {
            "job_id": job_id,
            "now": now,
            "status": JobStatus.PROCESSING.value if first_claim else job["status"],
            "current_chapter": task["idx"] + 1 if chapter else None,
            "message": (
                chapter_message(task["idx"], job["total_chapters"], task["title"])
                if chapter
                else None
            ),
        },
    )
    if first_claim:
        add_event(conn, job_id, user_id, EventType.PROCESSING, {}, now)
    if chapter:
        data = {
            "index": task["idx"],
            "title": task["title"],
            "attempt": task["attempts"],
            "worker_id": worker_id,
        }
        add_event(conn, job_id, user_id, EventType.CHAPTER_STARTED, data, now)
    # No progress refresh: a pending task's progress is always 0 (every way back to
    # pending resets it), so leasing it leaves the job's percentage as it was.
    return ClaimedTask(
        lease=Lease(task["id"], task["token"]),
        job_id=job_id,
        user_id=user_id,
        kind=TaskKind(task["kind"]),
        index=task["idx"],
        attempt=task["attempts"],
        max_attempts=task["max_attempts"],
        lease_expires_at=task["lease_expires_at"],
        payload=loads(task["payload"]),
    )


# -- while running -----------------------------------------------------------------------


def heartbeat(
    conn: sqlite3.Connection,
    leases: Sequence[Lease],
    lease_s: float,
    progress: dict[str, float] | None,
) -> HeartbeatResult:
    now = time.time()
    extended: set[str] = set()
    cancelled: set[str] = set()
    lost: set[str] = set()
    moved: dict[str, str] = {}  # job id -> user id
    with transaction(conn):
        for lease in leases:
            row = conn.execute(Q["tasks_with_job_status"], {"id": lease.task_id}).fetchone()
            if row is None or row["token"] != lease.token:
                lost.add(lease.task_id)
            elif row["job_status"] in (JobStatus.CANCELLED, JobStatus.FAILED):
                cancelled.add(lease.task_id)
            elif row["status"] != TaskStatus.RUNNING:
                lost.add(lease.task_id)
            else:
                key = {"id": lease.task_id, "token": lease.token}
                conn.execute(Q["extend_lease"], {**key, "until": now + lease_s})
                extended.add(lease.task_id)
                value = (progress or {}).get(lease.task_id)
                if value is not None and min(1.0, max(0.0, value)) != row["progress"]:
                    value = min(1.0, max(0.0, value))
                    conn.execute(Q["set_task_progress"], {**key, "progress": value})
                    moved[row["job_id"]] = row["user_id"]
        for job_id, user_id in moved.items():
            refresh_progress(conn, job_id, now)
            job = job_row(conn, job_id)
            assert job is not None
            data = {
                "progress_percent": job["progress_percent"],
                "progress_message": job["progress_message"],
                "current_chapter": job["current_chapter"],
            }
            add_event(conn, job_id, user_id, EventType.PROGRESS, data, now)
    return HeartbeatResult(frozenset(extended), frozenset(cancelled), frozenset(lost))


# -- finishing ---------------------------------------------------------------------------


def complete(conn: sqlite3.Connection, completions: Sequence[Completion]) -> list[bool]:
    now = time.time()
    done: list[bool] = []
    with transaction(conn):
        for c in completions:
            result = dict(c.result)
            key = {"id": c.lease.task_id, "token": c.lease.token}
            task = conn.execute(
                Q["complete_task"], {**key, "result": dumps(result), "now": now}
            ).fetchone()
            done.append(task is not None)
            if task is not None:
                _completed(conn, task, result, now)
    return done


def _completed(
    conn: sqlite3.Connection, task: sqlite3.Row, result: dict[str, Any], now: float
) -> None:
    job_id, user_id = task["job_id"], task["user_id"]
    if task["kind"] != SYNTHESIZE:
        conn.execute(
            Q["job_completed"],
            {"job_id": job_id, "result": dumps(result), "message": COMPLETED_MESSAGE, "now": now},
        )
        refresh_progress(conn, job_id, now)
        add_event(conn, job_id, user_id, EventType.COMPLETED, {"result": result}, now)
        return
    counts = conn.execute(Q["chapter_completed"], {"job_id": job_id, "now": now}).fetchone()
    refresh_progress(conn, job_id, now)
    data: dict[str, Any] = {"index": task["idx"], "title": task["title"]}
    if "duration_s" in result:
        data["duration_s"] = result["duration_s"]
    add_event(conn, job_id, user_id, EventType.CHAPTER_COMPLETED, data, now)
    if counts["completed_chapters"] == counts["total_chapters"]:
        assemble = task_id(job_id, counts["total_chapters"])
        conn.execute(Q["assemble_ready"], {"task_id": assemble, "now": now})
        conn.execute(
            Q["job_assembling"], {"job_id": job_id, "message": ASSEMBLING_MESSAGE, "now": now}
        )
        add_event(conn, job_id, user_id, EventType.ASSEMBLING, {}, now)


def _held(conn: sqlite3.Connection, lease: Lease) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(Q["task_for_lease"], {"id": lease.task_id}).fetchone()
    if row is None or row["token"] != lease.token or row["status"] != TaskStatus.RUNNING:
        return None
    return row


def fail(conn: sqlite3.Connection, lease: Lease, error: str, retry_at: float | None) -> bool:
    with transaction(conn):
        task = _held(conn, lease)
        if task is None:
            return False
        now = time.time()
        if retry_at is not None and task["attempts"] < task["max_attempts"]:
            requeue(conn, task, error, retry_at, now)
        else:
            fail_job(conn, task, error, now)
    return True


def requeue(
    conn: sqlite3.Connection, task: sqlite3.Row, error: str, retry_at: float, now: float
) -> None:
    conn.execute(Q["task_retrying"], {"id": task["id"], "run_at": retry_at, "error": error})
    refresh_progress(conn, task["job_id"], now)
    data = {"index": task["idx"], "attempt": task["attempts"], "error": error, "retry_at": retry_at}
    add_event(conn, task["job_id"], task["user_id"], EventType.TASK_RETRYING, data, now)


def fail_job(conn: sqlite3.Connection, task: sqlite3.Row, error: str, now: float) -> None:
    job_id = task["job_id"]
    conn.execute(Q["task_failed"], {"id": task["id"], "error": error, "now": now})
    conn.execute(Q["cancel_unfinished_tasks"], {"job_id": job_id, "now": now})
    conn.execute(Q["job_failed"], {"job_id": job_id, "error": error, "now": now})
    refresh_progress(conn, job_id, now)
    data = {"error": error, "index": task["idx"]}
    add_event(conn, job_id, task["user_id"], EventType.FAILED, data, now)


def release(conn: sqlite3.Connection, leases: Sequence[Lease], run_at: float | None) -> int:
    now = time.time()
    due = now if run_at is None else max(now, run_at)
    released = 0
    with transaction(conn):
        for lease in leases:
            task = conn.execute(
                Q["release_task"], {"id": lease.task_id, "token": lease.token, "run_at": due}
            ).fetchone()
            if task is None:
                continue
            refresh_progress(conn, task["job_id"], now)
            data = {"index": task["idx"]}
            add_event(conn, task["job_id"], task["user_id"], EventType.TASK_RELEASED, data, now)
            released += 1
    return released


# -- maintenance -------------------------------------------------------------------------


def take_back_expired(conn: sqlite3.Connection, now: float) -> tuple[int, int]:
    """Expired leases: requeued (due now) while attempts remain, else the job fails."""
    requeued = failed = 0
    for row in conn.execute(Q["expired_leases"], {"now": now}).fetchall():
        task = _held(conn, Lease(row["id"], row["token"]))
        if task is None:
            continue  # cancelled meanwhile by a sibling's final failure
        if task["attempts"] < task["max_attempts"]:
            requeue(conn, task, LEASE_EXPIRED, now, now)
            requeued += 1
        else:
            fail_job(conn, task, LEASE_EXPIRED, now)
            failed += 1
    return requeued, failed


def reap(conn: sqlite3.Connection) -> ReapResult:
    now = time.time()
    with transaction(conn):
        requeued, failed = take_back_expired(conn, now)
        for job in conn.execute(Q["due_scheduled_jobs"], {"now": now}).fetchall():
            data = {"priority": job["priority"], "total_chapters": job["total_chapters"]}
            add_event(conn, job["id"], job["user_id"], EventType.QUEUED, data, now)
    return ReapResult(requeued=requeued, failed=failed)


def pause(conn: sqlite3.Connection, engine: str | None) -> Pause:
    with transaction(conn):
        conn.execute(Q["put_pause"], {"engine": engine or "", "since": time.time()})
        row = conn.execute(Q["get_pause"], {"engine": engine or ""}).fetchone()
    return Pause(engine, float(row["since"]))


def resume(conn: sqlite3.Connection, engine: str | None) -> bool:
    with transaction(conn):
        return conn.execute(Q["delete_pause"], {"engine": engine or ""}).rowcount > 0


def drain_worker(conn: sqlite3.Connection, worker_id: str) -> None:
    with transaction(conn):
        conn.execute(Q["put_drain"], {"worker_id": worker_id, "now": time.time()})


def take_drain(conn: sqlite3.Connection, worker_id: str) -> bool:
    with transaction(conn):
        return conn.execute(Q["take_drain"], {"worker_id": worker_id}).rowcount > 0


def list_pauses(conn: sqlite3.Connection) -> list[Pause]:
    rows = conn.execute(Q["list_pauses"]).fetchall()
    return [Pause(r["engine"] or None, float(r["since"])) for r in rows]
