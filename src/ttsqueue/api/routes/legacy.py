"""The original ``/api/tts/queue`` shape, for clients migrating to ttsqueue.

``POST`` submits (``workId``, ``chapters`` of ``{id, text, title}``, ``voiceSettings`` as
``{voice, speed}`` or ``{engine, name, speed}``); ``GET ?jobId=`` reads one job, ``GET``
alone lists the caller's jobs; ``DELETE ?jobId=`` cancels. Errors carry
``success: false`` and ``error`` beside the usual ``detail``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from ttsqueue.api import present
from ttsqueue.api.deps import CurrentUser, QueueDep, StateDep, check_job_id
from ttsqueue.api.errors import responses
from ttsqueue.api.routes.jobs import check_rate, list_page
from ttsqueue.api.schemas import (
    LegacyCancelled,
    LegacyList,
    LegacyStatus,
    LegacySubmit,
    LegacySubmitted,
)
from ttsqueue.api.submit import checked
from ttsqueue.models import Chapter, Voice
from ttsqueue.queue import MAX_PAGE, BookRequest, QueueError
from ttsqueue.settings import Settings

router = APIRouter(prefix="/api/tts/queue", tags=["legacy"])

_FIELDS = {"voice": "voiceSettings", "voice.speed": "voiceSettings.speed"}
_FIELDS |= {"voice.name": "voiceSettings.voice", "voice.engine": "voiceSettings.engine"}
_FIELDS |= {"metadata.job_type": "jobType"}
_FIELDS |= {"output_format": "outputFormat", "work_id": "workId"}
_FIELDS |= {"idempotency_key": "idempotencyKey", "job_id": "jobId"}


def _voice(body: LegacySubmit, settings: Settings) -> Voice | None:
    vs = body.voiceSettings
    if vs is None:
        return None
    return Voice(
        engine=vs.engine or settings.default_engine,
        name=vs.name or vs.voice or settings.default_voice,
        speed=vs.speed,
    )


def _book(body: LegacySubmit, settings: Settings) -> BookRequest:
    metadata = {"job_type": body.jobType} if body.jobType else None
    return BookRequest(
        chapters=[
            Chapter(title=c.title, text=c.text, id=None if c.id is None else str(c.id))
            for c in body.chapters
        ],
        title=body.title,
        author=body.author,
        voice=_voice(body, settings),
        output_format=body.outputFormat,
        idempotency_key=body.idempotencyKey,
        work_id=None if body.workId is None else str(body.workId),
        metadata=metadata,
    )


def _legacy_error(exc: QueueError) -> QueueError:
    """The same error, naming the field as the original API spelled it."""
    field = _FIELDS.get(exc.field, exc.field)
    renamed = type(exc)(field, exc.message)
    return renamed


@router.post(
    "",
    status_code=201,
    response_model=LegacySubmitted,
    responses={
        200: {"model": LegacySubmitted, "description": "Matched an idempotency key"},
        **responses(400, 401, 413, 422, 429, 503),
    },
)
async def legacy_submit(
    request: Request, response: Response, body: LegacySubmit, state: StateDep, user: CurrentUser
) -> LegacySubmitted:
    """Submit a book in the original shape."""
    await check_rate(request, user)
    try:
        await state.queue.check_room(user)  # the cap, before the chapters are parsed
        book = await state.parsing.run(checked, state.queue, _book(body, state.settings))
        result = await state.queue.add_job(user, book)
    except QueueError as exc:
        raise _legacy_error(exc) from None
    response.status_code = 201 if result.created else 200
    status = present.legacy_status(result.job)
    return LegacySubmitted(
        **status.model_dump(),
        message="Job queued" if result.created else "Existing job for this idempotency key",
        created=result.created,
    )


@router.get("", response_model=LegacyStatus | LegacyList, responses=responses(401, 404, 422))
async def legacy_get(
    queue: QueueDep,
    user: CurrentUser,
    jobId: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> LegacyStatus | LegacyList:
    """With `jobId`: that job's status. Without: the caller's jobs, newest first."""
    if jobId is not None:
        job = await queue.get_job(user, check_job_id(jobId, ("query", "jobId")))
        return present.legacy_status(job)
    items, next_cursor = await list_page(queue, user, status=None, limit=limit, cursor=cursor)
    return LegacyList(jobs=[present.legacy_status(j) for j in items], nextCursor=next_cursor)


@router.delete("", response_model=LegacyCancelled, responses=responses(401, 404, 409, 422))
async def legacy_cancel(
    queue: QueueDep,
    user: CurrentUser,
    jobId: Annotated[str, Query(max_length=100)],
) -> LegacyCancelled:
    """Cancel a job."""
    job = await queue.cancel_job(user, check_job_id(jobId, ("query", "jobId")))
    return LegacyCancelled(jobId=job.id, status=job.status)
