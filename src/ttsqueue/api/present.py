"""Domain objects (``ttsqueue.models``) to response bodies (``schemas``)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from ttsqueue.api import schemas
from ttsqueue.models import Event, Job, JobStatus, TaskInfo, TaskKind, TaskStatus, Voice


def ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def ts_required(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _duration(result: dict[str, Any] | None) -> float | None:
    value = (result or {}).get("duration_s")
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def job_url(job_id: str) -> str:
    return f"/v1/jobs/{job_id}"


def book_audio_url(job: Job) -> str | None:
    if job.status is JobStatus.COMPLETED and (job.result or {}).get("path"):
        return f"{job_url(job.id)}/audio"
    return None


def chapter_audio_url(job_id: str, task: TaskInfo) -> str | None:
    if task.status is TaskStatus.COMPLETED and (task.result or {}).get("path"):
        return f"{job_url(job_id)}/chapters/{task.index + 1}/audio"
    return None


def voice(v: Voice) -> schemas.VoicePublic:
    return schemas.VoicePublic(**v.to_dict())


def chapter(job_id: str, task: TaskInfo) -> schemas.ChapterPublic:
    return schemas.ChapterPublic(
        index=task.index + 1,
        title=task.title,
        status=task.status,
        attempts=task.attempts,
        max_attempts=task.max_attempts,
        progress=task.progress,
        duration_s=_duration(task.result),
        error=task.error,
        started_at=ts(task.started_at),
        finished_at=ts(task.finished_at),
        audio_url=chapter_audio_url(job_id, task),
    )


def _summary_fields(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "user_id": job.user_id,
        "status": job.status,
        "priority": job.priority,
        "title": job.title,
        "author": job.author,
        "work_id": job.work_id,
        "voice": voice(job.voice),
        "output_format": job.output_format,
        "progress_percent": job.progress_percent,
        "progress_message": job.progress_message,
        "current_chapter": job.current_chapter,
        "total_chapters": job.total_chapters,
        "completed_chapters": job.completed_chapters,
        "attempts": job.attempts,
        "error": job.error,
        "idempotency_key": job.idempotency_key,
        "created_at": ts_required(job.created_at),
        "updated_at": ts_required(job.updated_at),
        "run_at": ts(job.run_at),
        "started_at": ts(job.started_at),
        "finished_at": ts(job.finished_at),
        "audio_url": book_audio_url(job),
        "duration_s": _duration(job.result) if job.status is JobStatus.COMPLETED else None,
        "events_url": f"{job_url(job.id)}/events",
    }


def summary(job: Job) -> schemas.JobSummary:
    return schemas.JobSummary(**_summary_fields(job))


def job(j: Job) -> schemas.JobPublic:
    chapters = [chapter(j.id, t) for t in j.tasks if t.kind is TaskKind.SYNTHESIZE]
    chapters.sort(key=lambda c: c.index)
    return schemas.JobPublic(**_summary_fields(j), chapters=chapters)


def event(e: Event) -> schemas.EventPublic:
    return schemas.EventPublic(
        job_id=e.job_id,
        user_id=e.user_id,
        seq=e.seq,
        type=str(e.type),
        data=e.data,
        at=ts_required(e.at),
    )


def legacy_status(j: Job) -> schemas.LegacyStatus:
    return schemas.LegacyStatus(
        jobId=j.id,
        status=j.status,
        progressPercent=j.progress_percent,
        progressMessage=j.progress_message,
        currentChapter=j.current_chapter,
        totalChapters=j.total_chapters,
        error=j.error,
        audioUrl=book_audio_url(j),
        createdAt=ts_required(j.created_at),
    )
