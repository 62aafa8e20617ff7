"""Batch submission: many books in one request (``POST /v1/jobs/batch``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ttsqueue.api import present
from ttsqueue.api.deps import CurrentUser, StateDep
from ttsqueue.api.errors import ApiError, ErrorItem, field_loc, responses
from ttsqueue.api.routes.jobs import check_rate
from ttsqueue.api.schemas import BatchCreate, BatchItem, BatchResult
from ttsqueue.api.submit import from_model
from ttsqueue.batch import submit_batch
from ttsqueue.queue import LimitExceeded, QueueError

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


def _error(exc: QueueError) -> ErrorItem:
    loc = [] if isinstance(exc, LimitExceeded) else field_loc(exc.field)
    return ErrorItem(loc=loc, msg=exc.message, type=type(exc).__name__.lower())


@router.post(
    "/batch",
    status_code=201,
    response_model=BatchResult,
    summary="Submit many books",
    responses={
        200: {"model": BatchResult, "description": "atomic=false: each item has its status"},
        **responses(400, 401, 413, 422, 429),
    },
)
async def submit_jobs(
    request: Request, response: Response, state: StateDep, user: CurrentUser, body: BatchCreate
) -> BatchResult:
    """Enqueue many books, each as `POST /v1/jobs` takes it in JSON, with its own
    idempotency key. `atomic` (default): all or nothing — 201 with every job, or one
    error naming `jobs.<i>.<field>` (422) or the cap on unfinished jobs, which counts the
    whole batch (429). `atomic: false`: 200 with a status per book (201, 200 for an
    existing key, 422, 429). The batch counts as one submission against the per-minute
    rate; every book counts against the cap on unfinished jobs."""
    limit = state.settings.max_batch_jobs
    if len(body.jobs) > limit:
        raise ApiError(422, f"at most {limit} books per batch", loc=["body", "jobs"])
    await check_rate(request, user)
    books = [from_model(job, state.settings) for job in body.jobs]
    outcomes = await submit_batch(state.queue, user, books, atomic=body.atomic)
    items = []
    for o in outcomes:
        if o.result is not None:
            status = 201 if o.result.created else 200
            items.append(BatchItem(index=o.index, status=status, job=present.summary(o.result.job)))
        else:
            assert o.error is not None
            items.append(
                BatchItem(index=o.index, status=o.error.status_code, error=_error(o.error))
            )
    if not body.atomic:
        response.status_code = 200
    return BatchResult(items=items, created=sum(1 for i in items if i.status == 201))
