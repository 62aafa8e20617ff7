"""OpenTelemetry tracing: one book is one trace, from the API request to the audiobook.

Off unless ``TTSQUEUE_TRACING=true``, which needs the ``otel`` extra
(``pip install 'ttsqueue[otel]'``); while off, nothing here imports opentelemetry and
every call is a no-op. Spans go to the global tracer provider, which the application
configures (an OTLP exporter, for one); ttsqueue only makes them:

* ``POST /v1/jobs`` (and every request): a server span, continuing the caller's
  ``traceparent`` header when it sends one;
* ``ttsqueue.enqueue``: the facade's enqueue. Its context goes into the job's metadata
  (``traceparent``), which every store keeps with the job, so the worker — another
  process, another machine — continues the same trace;
* ``ttsqueue.claim`` (the claim call that took the task), ``ttsqueue.synthesize`` (a
  chapter) and ``ttsqueue.assemble`` (the book), children of the enqueue span.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from ttsqueue import __version__

TRACEPARENT = "traceparent"

_tracer: Any = None  # an opentelemetry Tracer while tracing is on

P = ParamSpec("P")
R = TypeVar("R")


def configure(enabled: bool, provider: Any = None) -> None:
    """Turn tracing on (or leave it off). ``provider``: a TracerProvider to use instead
    of the global one (tests)."""
    global _tracer
    if not enabled or (_tracer is not None and provider is None):
        return  # off, or already on (the API and a worker in one process)
    try:
        from opentelemetry import trace
    except ImportError:
        raise RuntimeError(
            "TTSQUEUE_TRACING needs the otel extra: pip install 'ttsqueue[otel]'"
        ) from None
    _tracer = (provider or trace.get_tracer_provider()).get_tracer("ttsqueue", __version__)


def disable() -> None:
    global _tracer
    _tracer = None


def enabled() -> bool:
    return _tracer is not None


def _context(traceparent: str | None) -> Any:
    if not traceparent:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({TRACEPARENT: traceparent})


@contextlib.contextmanager
def span(
    name: str, *, parent: str | None = None, kind: str = "internal", **attributes: Any
) -> Iterator[Any]:
    """A span around the block (the current span's child, or ``parent``'s when given as
    a traceparent); yields the span, or None while tracing is off."""
    if _tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind

    with _tracer.start_as_current_span(
        name,
        context=_context(parent),
        kind=SpanKind.SERVER if kind == "server" else SpanKind.INTERNAL,
        attributes={k: v for k, v in attributes.items() if v is not None},
    ) as current:
        yield current


def traced(name: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Run an async function in a span called ``name`` (while tracing is on)."""

    def wrap(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(fn)
        async def run(*args: P.args, **kwargs: P.kwargs) -> R:
            if _tracer is None:
                return await fn(*args, **kwargs)
            with span(name):
                return await fn(*args, **kwargs)

        return run

    return wrap


def annotate(**attributes: Any) -> None:
    """Set attributes on the current span (while tracing is on)."""
    if _tracer is None:
        return
    from opentelemetry import trace

    current = trace.get_current_span()
    for key, value in attributes.items():
        if value is not None:
            current.set_attribute(key, value)


def record(name: str, *, parent: str | None, start: float, end: float, **attributes: Any) -> None:
    """A span that has already happened, between two ``time.time()`` readings."""
    if _tracer is None:
        return
    item = _tracer.start_span(
        name,
        context=_context(parent),
        start_time=int(start * 1e9),
        attributes={k: v for k, v in attributes.items() if v is not None},
    )
    item.end(end_time=int(end * 1e9))


def current_traceparent() -> str | None:
    """The current span's context as a W3C ``traceparent``, to carry to another process."""
    if _tracer is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get(TRACEPARENT)


class TraceRequests:
    """ASGI middleware: a server span per HTTP request, named by its route."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or _tracer is None:
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "")
        incoming = None
        for key, value in scope.get("headers", ()):
            if key == b"traceparent":
                incoming = value.decode("latin-1")
        status: list[int] = []

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        started = time.monotonic()
        with span(
            f"{method} {scope.get('path', '')}",
            parent=incoming,
            kind="server",
            **{"http.request.method": method, "url.path": scope.get("path", "")},
        ) as current:
            try:
                await self.app(scope, receive, sending)
            finally:
                route = scope.get("route")
                if route is not None and getattr(route, "path", None):
                    current.update_name(f"{method} {route.path}")
                    current.set_attribute("http.route", route.path)
                if status:
                    current.set_attribute("http.response.status_code", status[0])
                current.set_attribute("ttsqueue.duration_s", time.monotonic() - started)
