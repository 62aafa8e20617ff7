"""Jobs: submit, read, list, cancel, retry, reprioritise."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from ttsqueue import strings
from ttsqueue.api import present
from ttsqueue.api.deps import AdminUser, CurrentUser, JobId, QueueDep, StateDep
from ttsqueue.api.errors import ApiError, responses
from ttsqueue.api.schemas import JobPage, JobPublic, PriorityUpdate
from ttsqueue.api.submit import SubmitQuery, read_book
from ttsqueue.models import JobStatus, User
from ttsqueue.queue import MAX_KEY_CHARS, MAX_PAGE, Queue

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

SUBMIT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/JobCreate"}},
            "text/plain": {"schema": {"type": "string"}},
            "text/markdown": {"schema": {"type": "string"}},
            "text/html": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "lexicon": {
                            "type": "string",
                            "description": "the book's lexicon: a JSON list of entries, "
                            "as the JSON body's lexicon field",
                        },
                    },
                    "required": ["file"],
                }
            },
        },
    }
}


async def check_rate(request: Request, user: User) -> None:
    state = request.app.state.api
    if user.admin:
        return
    wait = state.submissions.hit(user.id)
    if wait:
        raise ApiError(
            429,
            f"at most {state.submissions.limit} submissions per minute",
            type="rate_limited",
            headers={"Retry-After": state.submissions.retry_after(wait)},
        )


@router.post(
    "",
    status_code=201,
    response_model=JobPublic,
    summary="Submit a book",
    responses={
        200: {"model": JobPublic, "description": "The job already made with this idempotency key"},
        **responses(400, 401, 413, 415, 422, 429, 503),
    },
    openapi_extra=SUBMIT_BODY,
)
async def submit_job(
    request: Request,
    response: Response,
    state: StateDep,
    user: CurrentUser,
    q: Annotated[SubmitQuery, Query()],
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=MAX_KEY_CHARS)
    ] = None,
) -> JobPublic:
    """Enqueue a book: JSON (`JobCreate`), a text/Markdown body, a web page (`text/html`),
    or an uploaded file (`multipart/form-data`, part `file`: .txt, .md, .epub, .html,
    .pdf). Query parameters set the title, voice and format of text and file uploads. A
    repeated idempotency key (body field or `Idempotency-Key` header) answers 200 with the
    existing job. A user over the rate limit or at the active-jobs cap is refused (429)
    before the body is parsed."""
    await check_rate(request, user)
    await state.queue.check_room(user)  # the cap, before the body is read or parsed
    book = await read_book(request, q, state, idempotency_key)
    result = await state.queue.add_job(user, book)
    response.status_code = 201 if result.created else 200
    response.headers["Location"] = present.job_url(result.job.id)
    job = result.job if result.job.tasks else await state.queue.get_job(user, result.job.id)
    return present.job(job)


def encode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    return base64.urlsafe_b64encode(cursor.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        decoded = raw.decode()
        if strings.problem(decoded):
            raise ValueError("a cursor holds no control characters")
        return decoded
    except (binascii.Error, ValueError):
        raise ApiError(422, "invalid cursor", loc=["query", "cursor"]) from None


async def list_page(
    queue: Queue,
    user: User,
    *,
    status: JobStatus | None,
    limit: int,
    cursor: str | None,
    all_users: bool = False,
    owner: str | None = None,
) -> tuple[list[Any], str | None]:
    """One page of jobs and the next (API) cursor; a cursor the store rejects is a 422."""
    if not user.admin and (all_users or (owner is not None and owner != user.id)):
        raise ApiError(403, "only admins may list other users' jobs", type="forbidden")
    try:
        page = await queue.user_jobs(
            user,
            status=status,
            limit=limit,
            cursor=decode_cursor(cursor),
            all_users=all_users,
            owner=owner,
        )
    except (ValueError, TypeError, KeyError, IndexError):
        raise ApiError(422, "invalid cursor", loc=["query", "cursor"]) from None
    return list(page.items), encode_cursor(page.next_cursor)


@router.get("", response_model=JobPage, responses=responses(401, 403, 422))
async def list_jobs(
    queue: QueueDep,
    user: CurrentUser,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    all: Annotated[bool, Query(description="admins: every user's jobs")] = False,
    user_id: Annotated[
        str | None, Query(alias="user", max_length=200, description="admins: this user's jobs")
    ] = None,
) -> JobPage:
    """The caller's jobs, newest first, a page at a time."""
    items, next_cursor = await list_page(
        queue, user, status=status, limit=limit, cursor=cursor, all_users=all, owner=user_id
    )
    return JobPage(items=[present.summary(j) for j in items], next_cursor=next_cursor)


@router.get("/{job_id}", response_model=JobPublic, responses=responses(401, 404, 422))
async def get_job(job_id: JobId, queue: QueueDep, user: CurrentUser) -> JobPublic:
    """A job with its chapters, progress and audio links."""
    return present.job(await queue.get_job(user, job_id))


@router.delete("/{job_id}", response_model=JobPublic, responses=responses(401, 404, 409, 422))
async def cancel_job(job_id: JobId, queue: QueueDep, user: CurrentUser) -> JobPublic:
    """Cancel a job that has not finished (409 once it has)."""
    await queue.cancel_job(user, job_id)
    return present.job(await queue.get_job(user, job_id))


@router.post(
    "/{job_id}/retry", response_model=JobPublic, responses=responses(401, 404, 409, 422, 429)
)
async def retry_job(
    request: Request, job_id: JobId, queue: QueueDep, user: CurrentUser
) -> JobPublic:
    """Run a failed or cancelled job again; finished chapters are kept (409 otherwise).
    A retry counts as a submission: against the per-minute rate and the cap on
    unfinished jobs (429)."""
    await check_rate(request, user)
    await queue.retry_job(user, job_id)
    return present.job(await queue.get_job(user, job_id))


@router.patch(
    "/{job_id}", response_model=JobPublic, responses=responses(400, 401, 403, 404, 409, 422)
)
async def update_job(
    job_id: JobId, body: PriorityUpdate, queue: QueueDep, user: AdminUser
) -> JobPublic:
    """Admins: change an unfinished job's priority."""
    await queue.set_priority(user, job_id, body.priority)
    return present.job(await queue.get_job(user, job_id))
