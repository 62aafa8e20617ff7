"""Read-along subtitles: WebVTT or SRT, one cue per sentence, per chapter or for the book.

The cues of each chapter are written by the worker beside the chapter's audio; like the
audio they are read only from inside the job's own directory.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import Response

from ttsqueue.api.deps import CurrentUser, JobId, QueueDep, StateDep
from ttsqueue.api.errors import responses
from ttsqueue.api.routes.audio import _chapter, _not_ready
from ttsqueue.audio.subtitles import CONTENT_TYPES, Cue, load, render
from ttsqueue.models import Job, JobStatus, TaskKind, TaskStatus
from ttsqueue.storage import Storage

router = APIRouter(prefix="/v1/jobs", tags=["audio"])

Format = Annotated[
    Literal["vtt", "srt"], Query(description="vtt (WebVTT, the default) or srt (SubRip)")
]
SUBTITLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The subtitles",
        "content": {
            t.split(";")[0]: {"schema": {"type": "string"}} for t in CONTENT_TYPES.values()
        },
    },
    **responses(401, 404, 422),
}


def _cues(storage: Storage, job_id: str, result: dict[str, Any] | None) -> list[Cue]:
    rel = (result or {}).get("cues")
    if not isinstance(rel, str) or not rel:
        raise _not_ready("this chapter has no subtitles")
    try:
        path = storage.resolve_for_job(job_id, rel)
        return load(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        raise _not_ready("the subtitles are missing (pruned or not yet written)") from None


def _answer(cues: list[Cue], fmt: str, name: str) -> Response:
    return Response(
        render(cues, fmt),
        media_type=CONTENT_TYPES[fmt].split(";")[0],
        headers={"Content-Disposition": f'inline; filename="{name}.{fmt}"'},
    )


def _book_cues(job: Job, storage: Storage) -> list[Cue]:
    starts = [float(c.get("start_s", 0.0)) for c in (job.result or {}).get("chapters", [])]
    chapters = sorted(
        (t for t in job.tasks if t.kind is TaskKind.SYNTHESIZE), key=lambda t: t.index
    )
    if len(starts) != len(chapters):
        raise _not_ready("the audiobook's chapter list is missing")
    out: list[Cue] = []
    for start, task in zip(starts, chapters, strict=True):
        out.extend(cue.shifted(start) for cue in _cues(storage, job.id, task.result))
    return out


@router.get(
    "/{job_id}/subtitles",
    response_class=Response,
    responses=SUBTITLE_RESPONSES,
    summary="Subtitles for the whole audiobook",
)
async def book_subtitles(
    job_id: JobId, queue: QueueDep, state: StateDep, user: CurrentUser, format: Format = "vtt"
) -> Response:
    """One cue per sentence, timed on the assembled book, once the job has completed;
    404 until then."""
    job = await queue.get_job(user, job_id)
    if job.status is not JobStatus.COMPLETED:
        raise _not_ready(f"the audiobook is not ready: the job is {job.status.value}")
    return _answer(_book_cues(job, state.storage), format, "book")


@router.get(
    "/{job_id}/chapters/{n}/subtitles",
    response_class=Response,
    responses=SUBTITLE_RESPONSES,
    summary="Subtitles for one chapter",
)
async def chapter_subtitles(
    job_id: JobId,
    n: Annotated[int, PathParam(ge=1, le=1_000_000, description="chapter number, from 1")],
    queue: QueueDep,
    state: StateDep,
    user: CurrentUser,
    format: Format = "vtt",
) -> Response:
    """One cue per sentence, timed on the chapter's own audio, as soon as the chapter is
    done; 404 until then."""
    job = await queue.get_job(user, job_id)
    task = _chapter(job, n)
    if task.status is not TaskStatus.COMPLETED:
        raise _not_ready(f"chapter {n} is not ready: it is {task.status.value}")
    return _answer(_cues(state.storage, job.id, task.result), format, f"chapter-{n:03d}")


__all__ = ["router"]
