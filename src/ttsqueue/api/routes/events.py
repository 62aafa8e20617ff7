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
from ttsqueue.backends.base import Backend
from ttsqueue.models import TERMINAL_EVENTS, Event, User
from ttsqueue.queue import Queue

router = APIRouter(tags=["events"])
log = logging.getLogger("ttsqueue.api.events")

KEEPALIVE_S = 15.0  # a comment line this often keeps proxies from closing the stream
RETRY_MS = 3000  # how long a browser's EventSource waits before reconnecting
HISTORY_PAGE = 1000
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


def sse_frame(event: Event) -> bytes:
    data = present.event(event).model_dump_json()
    return f"id: {event.seq}\nevent: {event.type}\ndata: {data}\n\n".encode()


async def _history(backend: Backend, job_id: str, after: int) -> list[Event]:
    out: list[Event] = []
    while True:
        batch = await backend.events(job_id, after=after, limit=HISTORY_PAGE)
        out.extend(batch)
        if len(batch) < HISTORY_PAGE:
            return out
        after = batch[-1].seq


async def _next(
    buffer: asyncio.Queue[Event], backend: Backend, job_id: str, last: int
) -> tuple[bool, list[Event]]:
    """The events to send after ``last``: the next live one, or, when it skipped some or
    nothing came for KEEPALIVE_S (then the first item is True), the history."""
    try:
        event = await asyncio.wait_for(buffer.get(), KEEPALIVE_S)
    except TimeoutError:
        return True, await _history(backend, job_id, last)
    if event.seq <= last:
        return False, []
    if event.seq > last + 1:
        return False, await _history(backend, job_id, last)
    return False, [event]


async def job_events(queue: Queue, user: User, job_id: str, after: int) -> AsyncIterator[bytes]:
    """SSE frames: the history after ``after``, then live events, until a terminal one.

    The subscription is made before the history is read, so nothing appended meanwhile
    is lost; sequence numbers already sent are skipped, and a gap in them (or a quiet
    keep-alive period) is filled from the history.
    """
    backend = queue.backend
    live = queue.subscribe(user, job_id=job_id)
    buffer: asyncio.Queue[Event] = asyncio.Queue()

    async def pump() -> None:
        async for event in live:
            await buffer.put(event)

    pumping = asyncio.create_task(pump())
    last = after
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        await asyncio.sleep(0)  # let the subscription start before reading history
        done = False
        for event in await _history(backend, job_id, last):
            yield sse_frame(event)
            last = event.seq
            done = event.type in TERMINAL_EVENTS
        if done:
            return
        job = await backend.get(job_id)
        if job is None or job.status.terminal:
            for event in await _history(backend, job_id, last):
                yield sse_frame(event)
            return
        while not pumping.done():  # a subscription ends when the store closes
            keepalive, pending = await _next(buffer, backend, job_id, last)
            if keepalive:
                yield b": keep-alive\n\n"
            for event in pending:
                yield sse_frame(event)
                last = event.seq
                if event.type in TERMINAL_EVENTS:
                    return
    finally:
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pumping


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
    await websocket.accept()
    live = state.queue.subscribe(user, job_id=job_id)

    async def forward() -> None:
        async for event in live:
            await websocket.send_json(present.event(event).model_dump(mode="json"))

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
