"""The HTTP API's application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ttsqueue import __version__, dashboard, tracing, tts
from ttsqueue.api import errors
from ttsqueue.api.auth import Authenticator
from ttsqueue.api.deps import ApiState
from ttsqueue.api.guards import StringGuard
from ttsqueue.api.parsing import ParseSlots
from ttsqueue.api.premium import premium_check
from ttsqueue.api.ratelimit import SlidingWindow
from ttsqueue.api.retry_reads import RetryReads
from ttsqueue.api.routes import (
    admin,
    audio,
    batch,
    events,
    health,
    jobs,
    legacy,
    lexicons,
    pauses,
    prom,
    stats,
    subtitles,
    voices,
    webhooks,
)
from ttsqueue.api.schemas import JobCreate
from ttsqueue.api.sla_cache import SlaCache
from ttsqueue.backends import open_backend, open_waiting
from ttsqueue.queue import Queue
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage

DESCRIPTION = """Books in, audiobooks out.

Submit a book (`POST /v1/jobs`), follow it (`GET /v1/jobs/{id}`, or live with
`GET /v1/jobs/{id}/events`), then download the audiobook and its chapters. Every route
but `/v1/health` and the docs needs `Authorization: Bearer <JWT or API key>`. Errors
answer `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`.
"""


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` (413): by Content-Length up front, and by
    counting what actually arrives (a chunked or lying client). A body cut short by the
    client leaving is not an error of ours."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, scope: Scope, send: Send, status: int, msg: str) -> None:
        from starlette.responses import JSONResponse

        kind = "too_large" if status == 413 else "invalid"
        item = errors.ErrorItem(loc=["header", "Content-Length"], msg=msg, type=kind)
        response = JSONResponse(errors.error_body(scope.get("path", ""), [item]), status)
        await response(scope, _no_receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.strip().isdigit():
                    await self._refuse(scope, send, 400, "invalid Content-Length")
                    return
                if int(value) > self.max_bytes:
                    await self._refuse(
                        scope, send, 413, f"request body larger than {self.max_bytes} bytes"
                    )
                    return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise errors.BodyTooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, limited, send)
        except ClientDisconnect:
            pass  # the client left (or was cut off) before its body arrived: nobody to answer


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def _state(settings: Settings, queue: Queue) -> ApiState:
    return ApiState(
        settings=settings,
        queue=queue,
        storage=Storage(settings.audio_dir),
        submissions=SlidingWindow(settings.submissions_per_minute),
        auth=Authenticator(settings, queue.backend, premium_check(settings, queue.backend)),
        sla=SlaCache(),
        parsing=ParseSlots(settings.parse_concurrency, settings.parse_queue),
        previews=SlidingWindow(settings.previews_per_minute),
    )


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the JSON body of POST /v1/jobs, which the route reads itself
    (it also takes text and file uploads)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    extra = JobCreate.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(extra.pop("$defs", {}))
    components["JobCreate"] = extra
    app.openapi_schema = schema
    return schema


@asynccontextmanager
async def metrics_apart(settings: Settings, app: FastAPI) -> AsyncIterator[None]:
    """With ``metrics_port`` set, serve ``/metrics`` (only) on that port of the
    configured host, beside the API and sharing its state, while the API runs."""
    if not settings.metrics_port:
        yield
        return
    import uvicorn

    side = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    side.state.api = app.state.api
    errors.install(side)
    side.include_router(prom.router)

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # the API's server has them
            yield

    server = Server(
        uvicorn.Config(
            side,
            host=settings.host,
            port=settings.metrics_port,
            log_level="warning",
            lifespan="off",
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():
        await asyncio.sleep(0.02)
    if serving.done():
        await serving
        raise RuntimeError(f"/metrics could not listen on {settings.host}:{settings.metrics_port}")
    try:
        yield
    finally:
        server.should_exit = True
        await serving


def create_app(settings: Settings, *, queue: Queue | None = None) -> FastAPI:
    """The API on ``queue`` when given (``ttsqueue up`` shares one with its worker);
    otherwise the app opens its own store from ``settings.database_url`` at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if queue is not None:
            async with metrics_apart(settings, app):
                yield
            return
        backend = open_backend(settings.database_url, settings.backend_options)
        await open_waiting(backend, settings.startup_wait_s)
        try:
            own = Queue(backend, settings, check_voice=tts.check_voice, check_text=tts.check_text)
            app.state.api = _state(settings, own)
            async with metrics_apart(settings, app):
                yield
        finally:
            app.state.api = None
            await backend.close()

    app = FastAPI(
        title="ttsqueue",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    if queue is not None:
        app.state.api = _state(settings, queue)
    errors.install(app)
    for module in (
        jobs,
        batch,
        events,
        audio,
        subtitles,
        voices,
        lexicons,
        stats,
        health,
        legacy,
        webhooks,
    ):
        app.include_router(module.router)
    app.include_router(admin.router)
    app.include_router(pauses.router)
    if not settings.metrics_port:
        app.include_router(prom.router)
    app.include_router(dashboard.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RetryReads, budget_s=settings.store_retry_s)
    app.add_middleware(StringGuard)
    tracing.configure(settings.tracing)
    if settings.tracing:
        app.add_middleware(tracing.TraceRequests)  # outermost: the whole request
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
