"""Checks that hold for every route, before any route runs.

:class:`StringGuard` applies the one rule for strings (:mod:`ttsqueue.strings`) to every
query parameter (name and value) and to the request headers the API reads: a NUL, a
lone surrogate or a control character answers 422 naming the parameter or header, the
same on every store. Bodies are checked where they are read (the queue facade checks
every field of a book, whichever route or format it came in).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ttsqueue import strings
from ttsqueue.api import errors

# lower-case name -> the spelling used in error answers
READ_HEADERS = {
    "authorization": "Authorization",
    "idempotency-key": "Idempotency-Key",
    "last-event-id": "Last-Event-ID",
}


def bad_input(scope: Scope) -> tuple[list[str | int], str] | None:
    """The first query parameter or read header that breaks the rule, and why."""
    query = scope.get("query_string", b"").decode("latin-1")
    if query:
        for name, value in parse_qsl(query, keep_blank_values=True):
            for part in (name, value):
                if why := strings.problem(part):
                    shown = name.encode("unicode_escape").decode("ascii")
                    return ["query", shown], why
    for raw_name, raw_value in scope.get("headers", ()):
        name = READ_HEADERS.get(raw_name.decode("latin-1").lower())
        if name is not None and (why := strings.problem(raw_value.decode("latin-1"))):
            return ["header", name], why
    return None


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


class StringGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        found = bad_input(scope)
        if found is None:
            await self.app(scope, receive, send)
            return
        loc, why = found
        if scope["type"] == "websocket":  # refused before the handshake completes
            await send({"type": "websocket.close", "code": 1008, "reason": why[:120]})
            return
        item = errors.ErrorItem(loc=loc, msg=why, type="invalid_characters")
        response = JSONResponse(errors.error_body(scope.get("path", ""), [item]), 422)
        await response(scope, _no_receive, send)
