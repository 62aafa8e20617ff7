"""The embedded store: one SQLite file, shared by every process that opens it.

``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``. The transitions live
in :mod:`ttsqueue.backends.sqlite_work` (the worker's hot path) and
:mod:`ttsqueue.backends.sqlite_jobs` (everything else); the connection, its thread and
the migrations in :mod:`ttsqueue.backends.sqlite_db`; all SQL in
``sql/sqlite/queries.sql`` and ``sql/sqlite/migrations``. SQLite has no notifications, so
waiting for work and subscribing to events poll every ``options.event_poll_s``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Future

from ttsqueue.backends import sqlite_jobs as jobs
from ttsqueue.backends import sqlite_lexicons as lexicons
from ttsqueue.backends import sqlite_webhooks as hooks
from ttsqueue.backends import sqlite_work as work
from ttsqueue.backends.base import (
    Backend,
    BackendOptions,
    Capabilities,
    Completion,
    Pause,
    StoreUnavailable,
    WorkerInfo,
)
from ttsqueue.backends.sqlite_db import Database, Q, migrate, path_from_url
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

SUBSCRIBE_BATCH = 500


def _data_version(conn: sqlite3.Connection) -> int:
    """The file's change counter: it moves when another connection commits."""
    return int(conn.execute(Q["data_version"]).fetchone()[0])


def _changed_and_runnable(conn: sqlite3.Connection, seen: int) -> tuple[int, bool]:
    """The change counter, and whether (when it moved) a task is claimable now."""
    version = _data_version(conn)
    if version == seen:
        return version, False
    return version, bool(conn.execute(Q["runnable_exists"], {"now": time.time()}).fetchone()[0])


def _next_due(conn: sqlite3.Connection) -> float | None:
    """When the next delayed task falls due, if any."""
    due: float | None = conn.execute(Q["next_due"], {"now": time.time()}).fetchone()[0]
    return due


def _ping(conn: sqlite3.Connection) -> None:
    conn.execute(Q["ping"]).fetchone()


class SqliteBackend(Backend):
    capabilities = Capabilities(
        shared=True,
        persistent=True,
        push_wakeups=False,
        transactional_enqueue=False,
        row_level_security=False,
    )

    def __init__(self, url: str, options: BackendOptions) -> None:
        self.url = url
        self.options = options
        self.path = path_from_url(url)
        self._db = Database(self.path)
        self._local_writes = 0  # writes through this instance (data_version misses them)

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        await self._db.open()
        try:
            await self.migrate()
        except BaseException:
            await self._db.close()
            raise

    async def close(self) -> None:
        await self._db.close()

    async def migrate(self) -> list[int]:
        return await self._db.run(migrate)

    async def ping(self) -> None:
        if not self._db.is_open:
            raise StoreUnavailable("the sqlite backend is closed")
        await self._db.run(_ping)

    # -- producers -------------------------------------------------------------------

    async def enqueue(self, specs: Sequence[JobSpec]) -> list[EnqueueResult]:
        results = await self._db.run(jobs.enqueue, list(specs))
        self._local_writes += 1
        return results

    # -- workers ---------------------------------------------------------------------

    async def claim(self, *, worker_id: str, limit: int, lease_s: float) -> list[ClaimedTask]:
        if limit <= 0:
            return []
        return await self._db.run(
            work.claim, worker_id, limit, lease_s, self.options.starvation_every
        )

    async def heartbeat(
        self, leases: Sequence[Lease], *, lease_s: float, progress: dict[str, float] | None = None
    ) -> HeartbeatResult:
        return await self._db.run(work.heartbeat, list(leases), lease_s, progress)

    async def complete(self, completions: Sequence[Completion]) -> list[bool]:
        done = await self._db.run(work.complete, list(completions))
        self._local_writes += 1
        return done

    async def fail(self, lease: Lease, *, error: str, retry_at: float | None) -> bool:
        failed = await self._db.run(work.fail, lease, error, retry_at)
        self._local_writes += 1
        return failed

    async def release(self, leases: Sequence[Lease], *, run_at: float | None = None) -> int:
        released = await self._db.run(work.release, list(leases), run_at)
        self._local_writes += 1
        return released

    async def wait_for_work(self, timeout: float) -> None:
        """Poll cheaply: return when another process committed and left claimable work,
        this instance wrote, a delayed task fell due, or ``timeout`` passed."""
        deadline = time.monotonic() + max(0.0, timeout)
        writes = self._local_writes
        version = await self._db.run(_data_version)
        due = await self._db.run(_next_due)
        wake_at = deadline if due is None else min(deadline, time.monotonic() + due - time.time())
        while (remaining := wake_at - time.monotonic()) > 0:
            await asyncio.sleep(min(self.options.event_poll_s, remaining))
            if self._local_writes != writes:
                return
            # Other processes commit heartbeats all the time: wake only when one of
            # their commits left something to claim.
            version, runnable = await self._db.run(_changed_and_runnable, version)
            if runnable:
                return

    async def register_worker(self, info: WorkerInfo) -> None:
        await self._db.run(jobs.register_worker, info)

    async def unregister_worker(self, worker_id: str) -> None:
        await self._db.run(jobs.unregister_worker, worker_id)

    async def list_workers(self) -> list[WorkerInfo]:
        return await self._db.run(jobs.list_workers, self.options.worker_ttl_s)

    # -- pauses ----------------------------------------------------------------------

    async def pause(self, engine: str | None = None) -> Pause:
        return await self._db.run(work.pause, engine)

    async def resume(self, engine: str | None = None) -> bool:
        return await self._db.run(work.resume, engine)

    async def list_pauses(self) -> list[Pause]:
        return await self._db.run(work.list_pauses)

    async def drain_worker(self, worker_id: str) -> None:
        await self._db.run(work.drain_worker, worker_id)

    async def take_drain(self, worker_id: str) -> bool:
        return await self._db.run(work.take_drain, worker_id)

    # -- users and admins ------------------------------------------------------------

    async def get(self, job_id: str, *, user_id: str | None = None) -> Job | None:
        return await self._db.run(jobs.get, job_id, user_id)

    async def existing_jobs(self, job_ids: Sequence[str]) -> set[str]:
        return await self._db.run(jobs.existing_jobs, list(job_ids)) if job_ids else set()

    async def list_jobs(self, flt: JobFilter, *, limit: int, cursor: str | None = None) -> Page:
        return await self._db.run(jobs.list_jobs, flt, limit, cursor)

    async def cancel(self, job_id: str, *, user_id: str | None = None) -> Job:
        job = await self._db.run(jobs.cancel, job_id, user_id)
        self._local_writes += 1
        return job

    async def retry(
        self, job_id: str, *, user_id: str | None = None, max_active_jobs: int | None = None
    ) -> Job:
        job = await self._db.run(jobs.retry, job_id, user_id, max_active_jobs)
        self._local_writes += 1
        return job

    async def set_priority(self, job_id: str, priority: int) -> Job:
        job = await self._db.run(jobs.set_priority, job_id, priority)
        self._local_writes += 1
        return job

    async def count_active(self, user_id: str) -> int:
        return await self._db.run(jobs.count_active, user_id)

    async def stats(self, *, user_id: str | None = None) -> QueueStats:
        return await self._db.run(jobs.stats, user_id)

    # -- API keys --------------------------------------------------------------------

    async def put_api_key(self, key: ApiKey) -> None:
        await self._db.run(jobs.put_api_key, key)

    async def get_api_key(self, key_hash: str) -> ApiKey | None:
        return await self._db.run(jobs.get_api_key, key_hash)

    async def revoke_api_key(self, key_id: str) -> bool:
        return await self._db.run(jobs.revoke_api_key, key_id)

    async def list_api_keys(self) -> list[ApiKey]:
        return await self._db.run(jobs.list_api_keys)

    # -- lexicons --------------------------------------------------------------------

    async def put_lexicon(self, lexicon: StoredLexicon, *, max_per_user: int) -> StoredLexicon:
        return await self._db.run(lexicons.put_lexicon, lexicon, max_per_user)

    async def get_lexicon(self, lexicon_id: str) -> StoredLexicon | None:
        return await self._db.run(lexicons.get_lexicon, lexicon_id)

    async def list_lexicons(self, user_id: str | None) -> list[StoredLexicon]:
        return await self._db.run(lexicons.list_lexicons, user_id)

    async def delete_lexicon(self, lexicon_id: str) -> bool:
        return await self._db.run(lexicons.delete_lexicon, lexicon_id)

    # -- events ----------------------------------------------------------------------

    async def events(self, job_id: str, *, after: int = 0, limit: int = 1000) -> list[Event]:
        return await self._db.run(jobs.events, job_id, after, limit)

    def subscribe(
        self, *, job_id: str | None = None, user_id: str | None = None
    ) -> AsyncIterator[Event]:
        # The starting point is asked for now, ahead of any write submitted after this
        # call (the connection's thread runs calls in order), so nothing is missed.
        start = self._db.submit(jobs.last_event_id)
        return self._feed(start, job_id, user_id)

    async def _feed(
        self, start: Future[int], job_id: str | None, user_id: str | None
    ) -> AsyncIterator[Event]:
        after = await asyncio.wrap_future(start)
        while True:
            batch = await self._db.run(jobs.events_after, after, SUBSCRIBE_BATCH)
            for event in batch:
                after = event.id
                if (job_id is None or event.job_id == job_id) and (
                    user_id is None or event.user_id == user_id
                ):
                    yield event
            if len(batch) < SUBSCRIBE_BATCH:
                await asyncio.sleep(self.options.event_poll_s)

    # -- maintenance -----------------------------------------------------------------

    async def reap(self) -> ReapResult:
        result = await self._db.run(work.reap)
        self._local_writes += 1
        return result

    async def prune(self, *, older_than: float) -> list[str]:
        return await self._db.run(jobs.prune, older_than)

    # -- webhooks --------------------------------------------------------------------

    async def create_webhook(self, endpoint: WebhookEndpoint) -> None:
        await self._db.run(hooks.create, endpoint)

    async def list_webhooks(self, *, user_id: str | None = None) -> list[WebhookEndpoint]:
        return await self._db.run(hooks.list_all, user_id)

    async def get_webhook(
        self, endpoint_id: str, *, user_id: str | None = None
    ) -> WebhookEndpoint | None:
        return await self._db.run(hooks.get, endpoint_id, user_id)

    async def delete_webhook(self, endpoint_id: str, *, user_id: str | None = None) -> bool:
        return await self._db.run(hooks.delete, endpoint_id, user_id)

    async def rotate_webhook_secret(
        self, endpoint_id: str, *, secret: str, previous_until: float, user_id: str | None = None
    ) -> WebhookEndpoint | None:
        return await self._db.run(hooks.rotate, endpoint_id, secret, previous_until, user_id)

    async def claim_deliveries(
        self, *, worker_id: str, limit: int, lease_s: float
    ) -> list[ClaimedDelivery]:
        return await self._db.run(hooks.claim, limit, lease_s)

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
        return await self._db.run(
            hooks.finish, delivery_id, token, delivered, response_status, error, retry_at
        )

    async def list_deliveries(
        self, endpoint_id: str, *, limit: int, before: int | None = None
    ) -> list[WebhookDelivery]:
        return await self._db.run(hooks.deliveries, endpoint_id, limit, before)

    async def redeliver(self, endpoint_id: str, delivery_id: str) -> WebhookDelivery | None:
        return await self._db.run(hooks.redeliver, endpoint_id, delivery_id)

    async def prune_deliveries(self, *, older_than: float, limit: int = 1000) -> int:
        return await self._db.run(hooks.prune, older_than, limit)
