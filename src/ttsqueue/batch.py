"""Many books in one submission: all or nothing, or each on its own.

* **atomic** (the default): every book is checked first; any problem refuses the whole
  batch, naming ``jobs.<i>.<field>``. Then all are enqueued in one store transaction,
  which counts the whole batch against the caller's cap on unfinished jobs: a batch
  that would pass it inserts nothing.
* **per item**: each book is checked and enqueued on its own, so the good ones go in
  and each bad one gets its own error; the cap refuses the books past it.

Either way each book may carry its own idempotency key (a repeat answers the existing
job), and no key may appear twice in one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ttsqueue.models import EnqueueResult, User
from ttsqueue.queue import BookRequest, Queue, QueueError


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What became of book ``index``: its job, or the error that refused it."""

    index: int
    result: EnqueueResult | None = None
    error: QueueError | None = None


def _at(index: int, exc: QueueError) -> QueueError:
    """``exc`` with its field under ``jobs.<index>`` (limits keep their own name)."""
    field = exc.field if exc.status_code == 429 else f"jobs.{index}.{exc.field}"
    return type(exc)(field, exc.message)


def _repeated_keys(books: Sequence[BookRequest]) -> dict[int, QueueError]:
    first: dict[str, int] = {}
    errors: dict[int, QueueError] = {}
    for i, book in enumerate(books):
        key = book.idempotency_key
        if key is None:
            continue
        if key in first:
            errors[i] = QueueError(
                f"jobs.{i}.idempotency_key", f"repeats the key of jobs.{first[key]}"
            )
        else:
            first[key] = i
    return errors


async def submit_batch(
    queue: Queue, user: User, books: Sequence[BookRequest], *, atomic: bool
) -> list[BatchOutcome]:
    """Enqueue ``books`` for ``user``. Atomic: raises the first :class:`QueueError`
    (its field under ``jobs.<i>``) and enqueues nothing; otherwise one outcome per book."""
    repeated = _repeated_keys(books)
    if atomic:
        if repeated:
            raise repeated[min(repeated)]
        for i, book in enumerate(books):
            try:
                queue.build_spec(user, book)
            except QueueError as exc:
                raise _at(i, exc) from None
        results = await queue.add_jobs(user, books)
        return [BatchOutcome(i, result=r) for i, r in enumerate(results)]
    outcomes = []
    for i, book in enumerate(books):
        if i in repeated:
            outcomes.append(BatchOutcome(i, error=repeated[i]))
            continue
        try:
            outcomes.append(BatchOutcome(i, result=await queue.add_job(user, book)))
        except QueueError as exc:
            outcomes.append(BatchOutcome(i, error=_at(i, exc)))
    return outcomes
