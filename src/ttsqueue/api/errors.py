"""One error shape for every answer that is not a success.

Every error, whether FastAPI's own request validation, a :class:`~ttsqueue.queue.QueueError`
from the facade, or an :class:`ApiError` raised by a route, answers
``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}``: ``loc`` is the path of the
offending input (``["body", "chapters", 0, "text"]``, ``["query", "cursor"]``,
``["header", "Authorization"]``), empty when no single input is to blame. The legacy
``/api/...`` routes add ``success: false`` and ``error`` (the first message), the shape
their clients read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ttsqueue.api.retry_reads import mark_store_down
from ttsqueue.backends.base import StoreUnavailable
from ttsqueue.queue import LimitExceeded, QueueError

log = logging.getLogger("ttsqueue.api")

LEGACY_PREFIX = "/api/"

Loc = list[str | int]


class ErrorItem(BaseModel):
    loc: Loc
    msg: str
    type: str


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer."""

    detail: list[ErrorItem]
    success: bool | None = None  # legacy routes only: always false
    error: str | None = None  # legacy routes only: the first message


class ApiError(HTTPException):
    """An HTTP error naming the input at fault."""

    def __init__(
        self,
        status_code: int,
        msg: str,
        *,
        loc: Sequence[str | int] = (),
        type: str = "invalid",
        headers: dict[str, str] | None = None,
        items: list[ErrorItem] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=msg, headers=headers)
        self.items = items or [ErrorItem(loc=list(loc), msg=msg, type=type)]


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"request body larger than {limit} bytes", loc=["body"], type="too_large"
        )


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of error answers, for a route's ``responses=``."""
    text = {
        400: "Malformed request (e.g. a bad Range header)",
        401: "Missing or invalid credentials",
        403: "Admins only",
        404: "No such job (or another user's), or the audio is not ready",
        409: "The job's state does not allow this",
        413: "Request body too large",
        415: "Unsupported content type",
        416: "Range not satisfiable",
        422: "Invalid input; `loc` names the field",
        429: "Too many submissions or unfinished jobs; see Retry-After",
        503: "The store is unavailable, or too many books wait to be parsed",
    }
    return {code: {"model": ErrorResponse, "description": text[code]} for code in codes}


def error_body(path: str, items: Iterable[ErrorItem]) -> dict[str, Any]:
    detail = list(items)
    body: dict[str, Any] = {"detail": [i.model_dump() for i in detail]}
    if path.startswith(LEGACY_PREFIX):
        body["success"] = False
        body["error"] = detail[0].msg if detail else "error"
    return body


def error_response(
    request: Request,
    status_code: int,
    items: Iterable[ErrorItem],
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(request.url.path, items), status_code=status_code, headers=headers
    )


def field_loc(field: str, root: str = "body") -> Loc:
    """``"chapters.0.text"`` → ``["body", "chapters", 0, "text"]``."""
    loc: Loc = [root]
    for part in field.split("."):
        loc.append(int(part) if part.isdigit() else part)
    return loc


def validation_items(errors: Iterable[Any], prefix: Sequence[str | int] = ()) -> list[ErrorItem]:
    """Pydantic/FastAPI error dicts to items, dropping ``input`` (it may be huge)
    and ``ctx`` (it may not be JSON)."""
    items = []
    for err in errors:
        loc = [p if isinstance(p, int) else str(p) for p in (*prefix, *err.get("loc", ()))]
        items.append(ErrorItem(loc=loc, msg=str(err.get("msg", "invalid")), type=str(err["type"])))
    return items


def pydantic_error(exc: ValidationError, prefix: Sequence[str | int] = ("body",)) -> ApiError:
    """A model validated by hand (a JSON body read by the route) as a 422."""
    errors = exc.errors(include_input=False, include_context=False, include_url=False)
    return ApiError(422, "invalid input", items=validation_items(errors, prefix))


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(request, 422, validation_items(exc.errors()))


async def _queue_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QueueError)
    if exc.field == "job_id":
        legacy = request.url.path.startswith(LEGACY_PREFIX)
        loc: Loc = ["query", "jobId"] if legacy else ["path", "job_id"]
    elif exc.field == "lexicon_id":
        loc = ["path", "lexicon_id"]
    elif isinstance(exc, LimitExceeded):
        loc = []  # no input is at fault; the message names the limit
    else:
        loc = field_loc(exc.field)
    headers = {"Retry-After": "60"} if exc.status_code == 429 else None
    item = ErrorItem(loc=loc, msg=exc.message, type=type(exc).__name__.lower())
    return error_response(request, exc.status_code, [item], headers)


# FastAPI's answer to a JSON body it cannot decode (not UTF-8), before any route code runs.
_BODY_PARSE_ERROR = "There was an error parsing the body"


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _BODY_PARSE_ERROR:
        # Not UTF-8: the same 422 as any other body that is not JSON, naming the body.
        item = ErrorItem(loc=["body"], msg="the body is not valid JSON", type="json_invalid")
        return error_response(request, 422, [item])
    if isinstance(exc, ApiError):
        items = exc.items
    else:
        items = [ErrorItem(loc=[], msg=str(exc.detail), type="http_error")]
    return error_response(request, exc.status_code, items, dict(exc.headers or {}) or None)


async def _store_down_handler(request: Request, exc: Exception) -> JSONResponse:
    log.warning("store unavailable: %s", exc)
    mark_store_down(request.state)
    item = ErrorItem(loc=[], msg="the job store is unavailable; retry later", type="unavailable")
    return error_response(request, 503, [item], {"Retry-After": "5"})


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(QueueError, _queue_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(StoreUnavailable, _store_down_handler)
