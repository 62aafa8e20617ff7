"""Audio downloads: the assembled book and each chapter, with HTTP Range support.

Starlette's FileResponse answers ``Range: bytes=…`` itself: 206 with Content-Range for
one range, multipart/byteranges for several, 416 for a range past the end, 400 for a
malformed header.
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from ttsqueue.api.deps import CurrentUser, JobId, QueueDep, StateDep
from ttsqueue.api.errors import ApiError, responses
from ttsqueue.audio.encode import CHAPTER_FORMAT, CONTENT_TYPES, EXTENSIONS
from ttsqueue.models import Job, JobStatus, TaskKind, TaskStatus
from ttsqueue.storage import Storage

router = APIRouter(prefix="/v1/jobs", tags=["audio"])

AUDIO_TYPES = sorted(set(CONTENT_TYPES.values()))
AUDIO_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The audio file",
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in AUDIO_TYPES},
    },
    206: {
        "description": "Part of the file (Range request)",
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in AUDIO_TYPES},
    },
    400: {"description": "Malformed Range header", "content": {"text/plain": {}}},
    416: {"description": "Range not satisfiable", "content": {"text/plain": {}}},
    **responses(401, 404, 422),
}


def _not_ready(msg: str) -> ApiError:
    return ApiError(404, msg, loc=["path", "job_id"], type="not_ready")


def _safe_name(text: str, fallback: str) -> str:
    name = re.sub(r"[^\w\- .]+", "", text).strip(" .")[:100]
    return name or fallback


def _file(
    storage: Storage, job_id: str, result: dict[str, Any] | None, fmt: str, name: str
) -> FileResponse:
    """The file a result names, served only from the job's own directory."""
    rel = (result or {}).get("path")
    if not isinstance(rel, str) or not rel:
        raise _not_ready("the audio is not ready")
    try:
        path: Path = storage.resolve_for_job(job_id, rel)
    except ValueError:
        raise _not_ready("the audio file is missing") from None
    if not path.is_file():
        raise _not_ready("the audio file is missing (pruned or not yet written)")
    fmt = str((result or {}).get("format") or fmt)
    media = CONTENT_TYPES.get(fmt) or mimetypes.guess_type(path.name)[0]
    ext = EXTENSIONS.get(fmt, path.suffix)
    return FileResponse(
        path,
        media_type=media or "application/octet-stream",
        filename=f"{name}{ext}",
        content_disposition_type="attachment",
    )


@router.get(
    "/{job_id}/audio",
    response_class=FileResponse,
    responses=AUDIO_RESPONSES,
    summary="Download the audiobook",
)
async def book_audio(
    job_id: JobId, queue: QueueDep, state: StateDep, user: CurrentUser
) -> FileResponse:
    """The assembled book (M4B with chapter markers, or the job's format) once the job
    has completed; 404 until then."""
    job = await queue.get_job(user, job_id)
    if job.status is not JobStatus.COMPLETED:
        raise _not_ready(f"the audiobook is not ready: the job is {job.status.value}")
    return _file(
        state.storage, job.id, job.result, job.output_format, _safe_name(job.title, job.id)
    )


def _chapter(job: Job, n: int) -> Any:
    for task in job.tasks:
        if task.kind is TaskKind.SYNTHESIZE and task.index == n - 1:
            return task
    raise ApiError(
        404,
        f"no chapter {n}: the book has {job.total_chapters}",
        loc=["path", "n"],
        type="not_found",
    )


@router.get(
    "/{job_id}/chapters/{n}/audio",
    response_class=FileResponse,
    responses=AUDIO_RESPONSES,
    summary="Download one chapter",
)
async def chapter_audio(
    job_id: JobId,
    n: Annotated[int, PathParam(ge=1, le=1_000_000, description="chapter number, from 1")],
    queue: QueueDep,
    state: StateDep,
    user: CurrentUser,
) -> FileResponse:
    """One chapter's audio, as soon as that chapter is done; 404 until then."""
    job = await queue.get_job(user, job_id)
    task = _chapter(job, n)
    if task.status is not TaskStatus.COMPLETED:
        raise _not_ready(f"chapter {n} is not ready: it is {task.status.value}")
    fmt = CHAPTER_FORMAT.get(job.output_format, job.output_format)
    name = _safe_name(f"{job.title or job.id} - {n:03d} {task.title}", f"chapter-{n:03d}")
    return _file(state.storage, job.id, task.result, fmt, name)
