"""THE backend contract.

Every store (memory, sqlite, postgres, redis) implements :class:`Backend`. Each method is
one atomic state transition, safe under any number of concurrent workers and API
processes (on every machine, for the stores that are shared). There is no shared logic
here on purpose: validation, policy, logging and metrics happen once in
``ttsqueue.queue``; a backend only moves state.

The rules below are what the conformance suite (``tests/conformance``) checks on every
backend. Behaviour that differs between backends is a bug unless :class:`Capabilities`
declares it.

Vocabulary
----------
* A *job* is one book. It owns ``n`` ``synthesize`` tasks (index ``0..n-1``, one per
  chapter) and one ``assemble`` task (index ``n``) that waits until every chapter is done.
* A task's *token* grows by one on every claim. ``Lease(task_id, token)`` is the fencing
  token: a write with any other token is refused and changes nothing. A lease past its
  expiry is still held (its token still completes the task) until a claim or
  :meth:`Backend.reap` takes the task back.
* *now* is the store's clock (seconds since the epoch).
* The *claim counter* is a store-wide integer bumped by every claimed task. Each user
  remembers the counter value of their last claim (``last_served``, 0 when never served).

Claim order (one *slot* per task claimed)
-----------------------------------------
A task is *runnable* when it is ``pending``, its ``run_at <= now``, its job is not in a
terminal state, and its owner has fewer ``running`` tasks than their cap (the
``max_concurrency`` of their most recently enqueued job). For each slot ``k`` (the
claim counter after the bump):

* normally: highest ``priority`` first; then the user with the smallest ``last_served``
  (round-robin between users); then FIFO (job enqueue order, then task index);
* when ``starvation_every > 0`` and ``k % starvation_every == 0``: FIFO alone, so work
  waiting behind a stream of higher-priority jobs still gets one slot in
  ``starvation_every``.

Job progress
------------
``progress_percent = 100`` once the job is completed; otherwise
``min(99, round(100 * (completed_chapters + sum(progress of running chapters)) / n, 1))``
(see :func:`ttsqueue.models.job_progress`). ``current_chapter`` is the 1-based index of the
chapter most recently claimed, ``progress_message`` reads "Chapter 3 of 12: The Storm",
then "Assembling audiobook", then "Completed".
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from ttsqueue.models import (
    ApiKey,
    ClaimedTask,
    EnqueueResult,
    Event,
    HeartbeatResult,
    Job,
    JobFilter,
    JobSpec,
    Lease,
    Page,
    QueueStats,
    ReapResult,
    StoredLexicon,
)
from ttsqueue.webhooks.model import ClaimedDelivery, WebhookDelivery, WebhookEndpoint


class BackendError(Exception):
    """Base for errors a backend raises on purpose."""


class JobNotFound(BackendError):
    """No such job, or it belongs to another user (the two are indistinguishable)."""


class InvalidTransition(BackendError):
    """The job's state does not allow the operation (e.g. cancelling a completed job)."""

    def __init__(self, job: Job, message: str) -> None:
        super().__init__(message)
        self.job = job


class LexiconNotFound(BackendError):
    """No such lexicon, or it belongs to another user."""


class LexiconLimit(BackendError):
    """The owner already has ``limit`` lexicons: the store refused another
    (:meth:`Backend.put_lexicon`)."""

    def __init__(self, user_id: str, limit: int) -> None:
        super().__init__(f"user {user_id} has {limit} lexicons (the limit)")
        self.user_id = user_id
        self.limit = limit


class ActiveJobsLimit(BackendError):
    """The owner already has ``limit`` unfinished jobs (``active`` of them): the store
    refused to add another (:meth:`Backend.enqueue`, :meth:`Backend.retry`)."""

    def __init__(self, user_id: str, active: int, limit: int) -> None:
        super().__init__(f"user {user_id} has {active} unfinished jobs (limit {limit})")
        self.user_id = user_id
        self.active = active
        self.limit = limit


class SchemaTooNew(BackendError):
    """The store was migrated by a newer ttsqueue than this one."""


class StoreUnavailable(BackendError):
    """The store cannot be reached; callers retry with backoff."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend honestly can and cannot do; the conformance suite reads this."""

    shared: bool  # many processes (and machines) may use one store
    persistent: bool  # survives a restart of the process
    push_wakeups: bool  # wait_for_work() returns on a notification, not only by polling
    transactional_enqueue: bool  # enqueue inside the caller's own transaction
    row_level_security: bool  # the store itself isolates users


@dataclass(frozen=True, slots=True)
class BackendOptions:
    starvation_every: int = 5  # one claim slot in N is FIFO-only; 0 disables
    event_poll_s: float = 0.2  # polling interval for stores without push
    worker_ttl_s: float = 30.0  # a worker unseen this long drops off list_workers()
    retention_days: float = 30.0  # stores that expire finished jobs themselves (Redis)


@dataclass(frozen=True, slots=True)
class Completion:
    lease: Lease
    result: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    version: str
    concurrency: int
    tasks: tuple[str, ...]  # task ids held now
    started_at: float
    last_seen_at: float = 0.0  # set by the store on register


@dataclass(frozen=True, slots=True)
class Pause:
    """Claiming stopped by an admin: for every engine (``engine is None``) or one."""

    engine: str | None
    since: float


class Backend(abc.ABC):
    """A job store. Construct with :func:`ttsqueue.backends.open_backend`, then
    ``await open()`` (or ``async with``)."""

    capabilities: Capabilities
    url: str  # the store URL it was built with: another instance may open the same store

    # -- lifecycle -------------------------------------------------------------------

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect, and apply pending migrations. Raises :class:`SchemaTooNew` when the
        store was migrated by a newer version."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections. Idempotent."""

    @abc.abstractmethod
    async def migrate(self) -> list[int]:
        """Apply pending numbered migrations under a lock; return the versions applied."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise :class:`StoreUnavailable` unless the store answers."""

    async def __aenter__(self) -> Backend:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- producers -------------------------------------------------------------------

    @abc.abstractmethod
    async def enqueue(self, specs: Sequence[JobSpec]) -> list[EnqueueResult]:
        """Insert jobs and their tasks, all in one transaction, results in input order.

        A job whose ``run_at`` is in the future starts ``scheduled`` (event
        ``job.scheduled``), otherwise ``queued`` (event ``job.queued``); its chapter tasks
        are ``pending`` with that ``run_at``, the assemble task ``waiting``. The owner's
        cap becomes ``spec.max_concurrency``. A spec whose ``(user_id, idempotency_key)``
        matches an existing job inserts nothing and returns that job with
        ``created=False`` (also within one batch).

        The cap on unfinished jobs holds here, under any concurrency: a spec with
        ``max_active_jobs`` set is inserted only while its owner has fewer unfinished
        (not completed, failed or cancelled) jobs than that, counting the jobs this batch
        inserted before it. Otherwise the whole batch inserts nothing and
        :class:`ActiveJobsLimit` is raised. A spec that matches an idempotency key
        never counts.
        """

    # -- workers ---------------------------------------------------------------------

    @abc.abstractmethod
    async def claim(self, *, worker_id: str, limit: int, lease_s: float) -> list[ClaimedTask]:
        """Lease up to ``limit`` runnable tasks in claim order (see the module doc).

        First, tasks whose lease expired are taken back exactly as :meth:`reap` does.
        Each claimed task: ``running``, ``attempts += 1``, ``token += 1``, lease until
        ``now + lease_s``, ``worker_id`` recorded, ``started_at`` set on first run. Its
        job turns ``processing`` on its first claim (event ``job.processing``); a chapter
        claim sets ``current_chapter`` and ``progress_message`` and appends
        ``chapter.started``. Never hands one task to two claimers.
        """

    @abc.abstractmethod
    async def heartbeat(
        self, leases: Sequence[Lease], *, lease_s: float, progress: dict[str, float] | None = None
    ) -> HeartbeatResult:
        """Extend the lease of each task still held with its token to ``now + lease_s``.

        ``progress`` maps task id to 0..1 within the task; a changed value updates the
        task, recomputes the job's progress and appends ``job.progress``. A task whose
        job was cancelled or failed is reported in ``cancelled``; one whose token is
        stale (or that is no longer running) in ``lost``. Neither is extended.
        """

    @abc.abstractmethod
    async def complete(self, completions: Sequence[Completion]) -> list[bool]:
        """Finish tasks; ``False`` (and no change) for a stale token or a task not
        running. A chapter: ``completed``, result stored, ``completed_chapters += 1``,
        event ``chapter.completed``; when it was the last chapter, in the same
        transaction the assemble task turns ``pending`` (run_at now) and the job
        ``assembling`` (event ``job.assembling``). The assemble task: the job is
        ``completed`` with the task's result as the job's result (event ``job.completed``).
        """

    @abc.abstractmethod
    async def fail(self, lease: Lease, *, error: str, retry_at: float | None) -> bool:
        """Record a failed run; ``False`` (and no change) for a stale token.

        With ``retry_at`` and ``attempts < max_attempts``: back to ``pending`` at
        ``retry_at``, the error kept on the task (event ``task.retrying``). Otherwise the
        task is ``failed``, the job ``failed`` with ``error`` kept on it, and every other
        unfinished task of the job ``cancelled`` (event ``job.failed``).
        """

    @abc.abstractmethod
    async def release(self, leases: Sequence[Lease], *, run_at: float | None = None) -> int:
        """Give running tasks back without spending an attempt (``attempts -= 1``,
        ``pending``, due at ``run_at`` or now when None; event ``task.released``).
        Returns how many were released; stale tokens are ignored. A ``run_at`` in the
        future holds the task back until then: an engine that said "retry after"."""

    @abc.abstractmethod
    async def wait_for_work(self, timeout: float) -> None:
        """Return when new work may be runnable (a notification) or after ``timeout``."""

    @abc.abstractmethod
    async def register_worker(self, info: WorkerInfo) -> None:
        """Record (or refresh) a live worker; ``last_seen_at`` becomes now."""

    @abc.abstractmethod
    async def unregister_worker(self, worker_id: str) -> None:
        """Forget a worker that shut down cleanly."""

    @abc.abstractmethod
    async def list_workers(self) -> list[WorkerInfo]:
        """Workers seen within ``options.worker_ttl_s``, by id."""

    # -- pauses ----------------------------------------------------------------------

    @abc.abstractmethod
    async def pause(self, engine: str | None = None) -> Pause:
        """Stop claiming: every task (``engine=None``, checked inside :meth:`claim`, which
        then leases nothing) or the chapters of one engine (the worker releases those).
        Idempotent: pausing again keeps the first ``since``. Enqueueing goes on."""

    @abc.abstractmethod
    async def resume(self, engine: str | None = None) -> bool:
        """Lift the pause of ``engine`` (``None``: the global one); ``False`` if none."""

    @abc.abstractmethod
    async def list_pauses(self) -> list[Pause]:
        """Every pause, the global one first, then by engine name."""

    @abc.abstractmethod
    async def drain_worker(self, worker_id: str) -> None:
        """Ask a worker to stop claiming, finish what it holds and exit (idempotent)."""

    @abc.abstractmethod
    async def take_drain(self, worker_id: str) -> bool:
        """Whether a drain was asked of ``worker_id``; the request is consumed."""

    # -- users and admins ------------------------------------------------------------

    @abc.abstractmethod
    async def get(self, job_id: str, *, user_id: str | None = None) -> Job | None:
        """The job with its tasks, or ``None`` when absent or (``user_id`` given) owned
        by another user."""

    @abc.abstractmethod
    async def existing_jobs(self, job_ids: Sequence[str]) -> set[str]:
        """Which of ``job_ids`` the store holds, in any status (one round trip; file
        garbage collection asks this for every audio directory)."""

    @abc.abstractmethod
    async def list_jobs(self, flt: JobFilter, *, limit: int, cursor: str | None = None) -> Page:
        """Jobs newest first (by id), without tasks; ``next_cursor`` continues after the
        last item, ``None`` on the last page (the one that holds the oldest match, even when
        it is exactly ``limit`` long)."""

    @abc.abstractmethod
    async def cancel(self, job_id: str, *, user_id: str | None = None) -> Job:
        """Cancel a job: it and every unfinished task turn ``cancelled`` (running tasks
        learn it on their next heartbeat); event ``job.cancelled``. Raises
        :class:`JobNotFound`, or :class:`InvalidTransition` for a terminal job."""

    @abc.abstractmethod
    async def retry(
        self, job_id: str, *, user_id: str | None = None, max_active_jobs: int | None = None
    ) -> Job:
        """Run a failed or cancelled job again, redoing only unfinished chapters: their
        tasks turn ``pending`` (due now, attempts 0, error cleared), the assemble task
        ``waiting`` (or ``pending`` if every chapter is done); the job ``queued`` with its
        error cleared; event ``job.retried``. Raises :class:`JobNotFound` or
        :class:`InvalidTransition`; with ``max_active_jobs``, :class:`ActiveJobsLimit`
        (and no change) when the owner already has that many unfinished jobs, checked in
        the same transaction as for :meth:`enqueue`."""

    @abc.abstractmethod
    async def set_priority(self, job_id: str, priority: int) -> Job:
        """Change an unfinished job's priority (its tasks' too); event
        ``job.priority_changed``. Raises :class:`JobNotFound` or
        :class:`InvalidTransition`."""

    @abc.abstractmethod
    async def count_active(self, user_id: str) -> int:
        """How many unfinished (not completed, failed or cancelled) jobs the user has:
        the number the cap of :meth:`enqueue` counts, read by an index or counter, never
        a scan of the user's history."""

    @abc.abstractmethod
    async def stats(self, *, user_id: str | None = None) -> QueueStats:
        """Counts by job and task status (every status present, zero included), for
        one user or all."""

    # -- API keys --------------------------------------------------------------------

    @abc.abstractmethod
    async def put_api_key(self, key: ApiKey) -> None:
        """Store a new API key (its id and hash are unique)."""

    @abc.abstractmethod
    async def get_api_key(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, or ``None``."""

    @abc.abstractmethod
    async def revoke_api_key(self, key_id: str) -> bool:
        """Delete a key by id; ``False`` when there was none."""

    @abc.abstractmethod
    async def list_api_keys(self) -> list[ApiKey]:
        """Every key, oldest first (ties by id). Only hashes are stored, never secrets."""

    # -- lexicons --------------------------------------------------------------------

    @abc.abstractmethod
    async def put_lexicon(self, lexicon: StoredLexicon, *, max_per_user: int) -> StoredLexicon:
        """Create the lexicon, or replace the name, entries and ``updated_at`` of the one
        with its id (which must belong to the same user, else :class:`LexiconNotFound`);
        returns it as stored (an update keeps ``created_at``). Creating one more than
        ``max_per_user`` for its user raises :class:`LexiconLimit`, checked atomically
        with the insert."""

    @abc.abstractmethod
    async def get_lexicon(self, lexicon_id: str) -> StoredLexicon | None:
        """The lexicon with this id, or ``None``."""

    @abc.abstractmethod
    async def list_lexicons(self, user_id: str | None) -> list[StoredLexicon]:
        """One user's lexicons (``None``: every user's), oldest first (ties by id)."""

    @abc.abstractmethod
    async def delete_lexicon(self, lexicon_id: str) -> bool:
        """Delete a lexicon by id; ``False`` when there was none."""

    # -- events ----------------------------------------------------------------------

    @abc.abstractmethod
    async def events(self, job_id: str, *, after: int = 0, limit: int = 1000) -> list[Event]:
        """The job's events with ``seq > after``, in order."""

    @abc.abstractmethod
    def subscribe(
        self, *, job_id: str | None = None, user_id: str | None = None
    ) -> AsyncIterator[Event]:
        """Events appended from now on, from any process using the store, in order
        per job, optionally filtered. The iterator ends when the consumer stops it."""

    # -- maintenance -----------------------------------------------------------------

    @abc.abstractmethod
    async def reap(self) -> ReapResult:
        """Take back tasks whose lease expired: ``pending`` (due now) while
        ``attempts < max_attempts`` (as :meth:`fail` with ``retry_at`` now: the error
        "lease expired" kept on the task, event ``task.retrying``), else failed as by
        :meth:`fail` with the error "lease expired". Scheduled jobs now due turn
        ``queued`` (event ``job.queued``)."""

    @abc.abstractmethod
    async def prune(self, *, older_than: float) -> list[str]:
        """Delete terminal jobs finished before ``older_than`` with their tasks and
        events; return the ids of the jobs deleted (the caller deletes their files)."""

    # -- webhooks --------------------------------------------------------------------
    #
    # Deliveries are made by the store itself: in the same transaction that appends an
    # event of type ``job.completed``, ``job.failed``, ``job.cancelled`` or
    # ``job.progress``, one ``pending`` delivery (due at the event's time) is added for
    # every endpoint of the job's owner that subscribed to the type, except a
    # ``job.progress`` when the endpoint already has one for that job from an event
    # less than its ``progress_interval_s`` earlier. A delivery is *claimable* when it
    # is ``pending`` and due, or ``running`` with its lease expired, and no earlier
    # delivery (by ``seq``) of the same endpoint and job is ``pending`` or ``running``:
    # deliveries reach an endpoint in order per job.
    #
    # Why in the event's own transaction, not derived later from the event log with a
    # cursor: on PostgreSQL, event ids are handed out before commit, so transactions
    # commit out of id order and a cursor over ids can pass an event that commits later
    # with a smaller id; a trigger (a script on Redis) cannot miss one.

    @abc.abstractmethod
    async def create_webhook(self, endpoint: WebhookEndpoint) -> None:
        """Store a new endpoint (its id is new)."""

    @abc.abstractmethod
    async def list_webhooks(self, *, user_id: str | None = None) -> list[WebhookEndpoint]:
        """Endpoints by id, one user's or (``None``) everyone's."""

    @abc.abstractmethod
    async def get_webhook(
        self, endpoint_id: str, *, user_id: str | None = None
    ) -> WebhookEndpoint | None:
        """The endpoint, or ``None`` when absent or (``user_id`` given) another's."""

    @abc.abstractmethod
    async def delete_webhook(self, endpoint_id: str, *, user_id: str | None = None) -> bool:
        """Delete an endpoint and its deliveries; ``False`` when there was none."""

    @abc.abstractmethod
    async def rotate_webhook_secret(
        self, endpoint_id: str, *, secret: str, previous_until: float, user_id: str | None = None
    ) -> WebhookEndpoint | None:
        """Make ``secret`` the endpoint's secret; the one it replaces stays valid (signs
        too) until ``previous_until``. ``None`` when absent or another's."""

    @abc.abstractmethod
    async def claim_deliveries(
        self, *, worker_id: str, limit: int, lease_s: float
    ) -> list[ClaimedDelivery]:
        """Lease up to ``limit`` claimable deliveries, oldest first: ``running``,
        ``attempts += 1``, ``token += 1``, lease until ``now + lease_s``."""

    @abc.abstractmethod
    async def finish_delivery(
        self,
        delivery_id: str,
        token: int,
        *,
        delivered: bool,
        response_status: int | None,
        error: str | None,
        retry_at: float | None,
    ) -> bool:
        """Record an attempt; ``False`` (and no change) unless the delivery is
        ``running`` with this token. ``delivered``: ``delivered`` (``delivered_at``
        now); otherwise ``pending`` at ``retry_at``, or ``failed`` without one. The
        response status and error are kept (cleared when ``None``)."""

    @abc.abstractmethod
    async def list_deliveries(
        self, endpoint_id: str, *, limit: int, before: int | None = None
    ) -> list[WebhookDelivery]:
        """The endpoint's deliveries newest first (by ``seq``), those with ``seq <
        before`` when given."""

    @abc.abstractmethod
    async def redeliver(self, endpoint_id: str, delivery_id: str) -> WebhookDelivery | None:
        """Queue a delivery that is not ``running`` again: ``pending``, due now, attempts
        0, retry window from now. ``None`` when the endpoint has no such delivery."""

    @abc.abstractmethod
    async def prune_deliveries(self, *, older_than: float, limit: int = 1000) -> int:
        """Delete up to ``limit`` ``delivered`` or ``failed`` deliveries last updated
        before ``older_than``; return how many were deleted."""
