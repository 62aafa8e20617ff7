"""The in-memory backend's records, and how they are shown as domain types.

Rows are plain mutable dataclasses; :mod:`ttsqueue.backends.memory` moves their state.
Here they are built from a :class:`JobSpec` and turned into frozen :class:`Job` /
:class:`TaskInfo` snapshots, so that no caller ever holds a live row.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ttsqueue.models import (
    Event,
    Job,
    JobSpec,
    JobStatus,
    TaskInfo,
    TaskKind,
    TaskStatus,
    job_progress,
    task_id,
)

UNFINISHED_TASK = frozenset({TaskStatus.WAITING, TaskStatus.PENDING, TaskStatus.RUNNING})


@dataclass
class TaskRow:
    id: str
    job_id: str
    user_id: str
    index: int
    kind: TaskKind
    title: str
    payload: dict[str, Any]
    priority: int
    max_attempts: int
    status: TaskStatus
    run_at: float
    attempts: int = 0
    token: int = 0
    lease_expires_at: float | None = None
    worker_id: str | None = None
    progress: float = 0.0
    error: str | None = None
    result: dict[str, Any] | None = None
    started_at: float | None = None
    finished_at: float | None = None


@dataclass
class JobRow:
    order: int  # enqueue order: the FIFO tie-breaker
    spec: JobSpec
    status: JobStatus
    priority: int
    created_at: float
    updated_at: float
    tasks: list[TaskRow]  # the chapters by index, then the assemble task
    completed_chapters: int = 0
    progress_percent: float = 0.0
    progress_message: str = ""
    current_chapter: int | None = None
    attempts: int = 0  # every claim of any of its tasks
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    result: dict[str, Any] | None = None
    events: list[Event] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def user_id(self) -> str:
        return self.spec.user_id

    @property
    def chapters(self) -> list[TaskRow]:
        return self.tasks[:-1]

    @property
    def assemble(self) -> TaskRow:
        return self.tasks[-1]

    def refresh_progress(self) -> None:
        """Recompute ``progress_percent`` from completed and running chapters."""
        running = sum(t.progress for t in self.chapters if t.status is TaskStatus.RUNNING)
        self.progress_percent = job_progress(
            total_chapters=len(self.chapters),
            completed_chapters=self.completed_chapters,
            running_progress=running,
            completed=self.status is JobStatus.COMPLETED,
        )


@dataclass
class UserRow:
    cap: int  # max_concurrency of the user's most recently enqueued job
    last_served: int = 0  # claim counter value of the user's last claim


@dataclass
class Subscriber:
    job_id: str | None
    user_id: str | None
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)

    def wants(self, event: Event) -> bool:
        return (self.job_id is None or event.job_id == self.job_id) and (
            self.user_id is None or event.user_id == self.user_id
        )


def new_job_row(spec: JobSpec, *, order: int, now: float) -> JobRow:
    """A fresh job: ``scheduled`` when ``run_at`` is ahead, chapters pending, assembly
    waiting."""
    scheduled = spec.run_at is not None and spec.run_at > now
    due = spec.run_at if spec.run_at is not None else now

    def row(index: int, kind: TaskKind, title: str, payload: dict[str, Any]) -> TaskRow:
        return TaskRow(
            id=task_id(spec.id, index),
            job_id=spec.id,
            user_id=spec.user_id,
            index=index,
            kind=kind,
            title=title,
            payload=payload,
            priority=spec.priority,
            max_attempts=spec.max_attempts,
            status=TaskStatus.PENDING if kind is TaskKind.SYNTHESIZE else TaskStatus.WAITING,
            run_at=due,
        )

    tasks = [
        row(
            i,
            TaskKind.SYNTHESIZE,
            ch.title,
            {
                "title": ch.title,
                "text": ch.text,
                "voice": spec.voice.to_dict(),
                "output_format": spec.output_format,
            },
        )
        for i, ch in enumerate(spec.chapters)
    ]
    assemble_payload = {
        "title": spec.title,
        "author": spec.author,
        "output_format": spec.output_format,
        "chapter_titles": [ch.title for ch in spec.chapters],
    }
    tasks.append(row(len(spec.chapters), TaskKind.ASSEMBLE, spec.title, assemble_payload))
    return JobRow(
        order=order,
        spec=spec,
        status=JobStatus.SCHEDULED if scheduled else JobStatus.QUEUED,
        priority=spec.priority,
        created_at=now,
        updated_at=now,
        tasks=tasks,
    )


def task_view(t: TaskRow) -> TaskInfo:
    return TaskInfo(
        id=t.id,
        index=t.index,
        kind=t.kind,
        title=t.title,
        status=t.status,
        attempts=t.attempts,
        max_attempts=t.max_attempts,
        progress=t.progress,
        error=t.error,
        result=None if t.result is None else dict(t.result),
        worker_id=t.worker_id,
        started_at=t.started_at,
        finished_at=t.finished_at,
    )


def job_view(job: JobRow, *, with_tasks: bool = False) -> Job:
    spec = job.spec
    return Job(
        id=job.id,
        user_id=job.user_id,
        status=job.status,
        priority=job.priority,
        title=spec.title,
        author=spec.author,
        work_id=spec.work_id,
        voice=spec.voice,
        output_format=spec.output_format,
        total_chapters=len(job.chapters),
        completed_chapters=job.completed_chapters,
        progress_percent=job.progress_percent,
        progress_message=job.progress_message,
        current_chapter=job.current_chapter,
        attempts=job.attempts,
        error=job.error,
        idempotency_key=spec.idempotency_key,
        created_at=job.created_at,
        updated_at=job.updated_at,
        run_at=spec.run_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        result=None if job.result is None else dict(job.result),
        metadata=dict(spec.metadata),
        tasks=tuple(task_view(t) for t in job.tasks) if with_tasks else (),
    )
