"""Live events: one job's as Server-Sent Events, or all of the caller's over a WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, WebSocket
from fastapi.responses import StreamingResponse
from starlette.websockets import WebSocketDisconnect

from ttsqueue.api import present
from ttsqueue.api.auth import AuthError
from ttsqueue.api.deps import CurrentUser, JobId, QueueDep
from ttsqueue.api.errors import responses
from ttsqueue.api.streams import JobStream, SocketFeed
from ttsqueue.backends.base import StoreUnavailable
from ttsqueue.models import Event, User
from ttsqueue.queue import Queue

router = APIRouter(tags=["events"])
log = logging.getLogger("ttsqueue.api.events")

MAX_SEQ = 2**53


# One Server-Sent Event of the stream (OpenAPI before 3.2 describes each event so).
SSE_EVENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "the event's seq"},
        "event": {"type": "string", "description": "the event's type"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": "an EventPublic as JSON",
        },
    },
    "required": ["id", "event", "data"],
}


async def job_events(queue: Queue, user: User, job_id: str, after: int) -> AsyncIterator[bytes]:
    """SSE frames: the history after ``after``, then live events, until a terminal one
    (through store outages: see :mod:`ttsqueue.api.streams`)."""
    stream = JobStream(queue.backend, lambda: queue.subscribe(user, job_id=job_id), job_id, after)
    async for frame in stream.frames():
        yield frame


@router.get(
    "/v1/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-Sent Events: `id` is the event's sequence number, `event` "
            "its type, `data` an EventPublic as JSON. Ends after job.completed, "
            "job.failed or job.cancelled.",
            "content": {"text/event-stream": {"schema": SSE_EVENT}},
        },
        **responses(401, 404, 422),
    },
)
async def stream_job_events(
    job_id: JobId,
    queue: QueueDep,
    user: CurrentUser,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ, description="resume after this seq")] = 0,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=MAX_SEQ)] = None,
) -> StreamingResponse:
    """Every event of the job in order; `Last-Event-ID` (or `?after=`) resumes."""
    await queue.get_job(user, job_id)  # 404 for a job that is not the caller's
    start = last_event_id if last_event_id is not None else after
    return StreamingResponse(
        job_events(queue, user, job_id, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _ws_token(websocket: WebSocket, token: str | None) -> str:
    if token:
        return token
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    return value if scheme.lower() == "bearer" else ""


@router.websocket("/v1/ws")
async def events_socket(
    websocket: WebSocket, token: str | None = None, job_id: str | None = None
) -> None:
    """The caller's job events (every user's for admins) as JSON messages (EventPublic).
    Authenticate with ``?token=`` or ``Authorization: Bearer``; ``?job_id=`` narrows
    the stream to one job."""
    state = getattr(websocket.app.state, "api", None)
    if state is None:
        await websocket.close(code=1013, reason="the service is starting")
        return
    try:
        user: User = await state.auth.user(_ws_token(websocket, token))
    except AuthError as exc:
        await websocket.close(code=1008, reason=str(exc)[:100])
        return
    except StoreUnavailable:
        await websocket.close(code=1013, reason="the job store is unavailable; retry later")
        return
    await websocket.accept()

    async def send(event: Event) -> None:
        await websocket.send_json(present.event(event).model_dump(mode="json"))

    feed = SocketFeed(state.queue.backend, lambda: state.queue.subscribe(user, job_id=job_id), send)

    async def forward() -> None:
        await feed.run()

    async def until_closed() -> None:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass

    tasks = {asyncio.create_task(forward()), asyncio.create_task(until_closed())}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                await task
