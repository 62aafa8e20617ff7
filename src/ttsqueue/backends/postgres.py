"""The PostgreSQL backend: the production store, shared by every process on every machine.

Each contract method is one call of a SQL function (defined in the migrations) or one
named query, so the hot path is one round trip per claim batch, heartbeat batch and
completion batch. Claims take tasks with ``FOR UPDATE SKIP LOCKED`` and apply fairness
and per-user caps inside ``tq_claim``; LISTEN/NOTIFY wakes idle workers and carries
events to subscribers in any process. The driver is psycopg 3 (the ``postgres`` extra).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

try:
    import psycopg
    from psycopg import errors, sql
    from psycopg.rows import dict_row
    from psycopg.types.json import Jsonb
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the postgres backend needs its driver: pip install 'ttsqueue[postgres]'"
    ) from exc

from ttsqueue.backends import postgres_lexicons as lexicons
from ttsqueue.backends import postgres_rows as rows
from ttsqueue.backends.base import (
    ActiveJobsLimit,
    Backend,
    BackendError,
    BackendOptions,
    Capabilities,
    Completion,
    InvalidTransition,
    JobNotFound,
    Pause,
    StoreUnavailable,
    WorkerInfo,
)
from ttsqueue.backends.postgres_conn import QB, Conn, Database, formatted, parse_url, unavailable
from ttsqueue.backends.postgres_listen import Listener
from ttsqueue.backends.postgres_webhooks import PostgresWebhooks
from ttsqueue.backends.sqlfiles import queries
from ttsqueue.models import (
    ApiKey,
    ClaimedTask,
    EnqueueResult,
    Event,
    HeartbeatResult,
    Job,
    JobFilter,
    JobSpec,
    JobStatus,
    Lease,
    Page,
    QueueStats,
    ReapResult,
    StoredLexicon,
    TaskStatus,
)
from ttsqueue.webhooks.model import ClaimedDelivery, WebhookDelivery, WebhookEndpoint

IDENTITY = queries("postgres", "identity.sql")


class PostgresBackend(Backend):
    capabilities = Capabilities(
        shared=True,
        persistent=True,
        push_wakeups=True,
        transactional_enqueue=True,
        row_level_security=True,
    )

    def __init__(self, url: str, options: BackendOptions) -> None:
        self.url = url
        self.options = options
        self.target = parse_url(url)
        self.schema = self.target.schema
        self._db = Database(self.target)
        self._listener = Listener(
            self._db.connect,
            self.schema,
            fetch_ids=self._events_by_ids,
            fetch_after=self._events_after,
        )
        self._claim_generation = 0
        self._open = False
        self._hooks = PostgresWebhooks(self._db)

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        if self._open:
            return
        await self._db.migrate()  # before the pool, whose new connections warm up
        await self._db.open()
        try:
            row = await self._db.one("last_event_id")
            await self._listener.start(int(row["id"]) if row else 0)
        except BaseException:
            await self._db.close()
            raise
        self._open = True

    async def close(self) -> None:
        self._open = False
        await self._listener.stop()
        await self._db.close()

    async def migrate(self) -> list[int]:
        return await self._db.migrate()

    async def grant_readers(self, *, create_app_role: bool = False) -> list[str]:
        """Create the ``ttsqueue_app`` role if asked, and grant the roles that read the
        queue directly what they may read (docs/security.md); answers those roles."""
        from ttsqueue.backends.postgres_roles import grant_readers

        return await grant_readers(self._db, self.schema, create_app_role=create_app_role)

    async def ping(self) -> None:
        if not self._open:
            raise StoreUnavailable("the postgres backend is closed")
        await self._db.one("ping")

    async def premium_lookup(
        self, table: tuple[str, ...], column: str, key: str, user_id: str
    ) -> bool:
        """Whether the app's own ``table.column`` marks ``user_id`` premium (the names
        are quoted identifiers; the user id is a parameter)."""
        query = sql.SQL(IDENTITY["premium_lookup"]).format(
            table=sql.Identifier(*table), column=sql.Identifier(column), key=sql.Identifier(key)
        )

        async def work(conn: Conn) -> bool:
            cur = await conn.execute(query, {"user": user_id})
            row = await cur.fetchone()
            return bool(row and row["premium"])

        return await self._db.run(work)

    # -- producers -------------------------------------------------------------------

    async def enqueue(self, specs: Sequence[JobSpec]) -> list[EnqueueResult]:
        if not specs:
            return []

        async def work(conn: Conn) -> list[EnqueueResult]:  # one statement: atomic
            return await self._enqueue_on(conn, specs, qualified=False)

        return await self._db.run(work)

    async def enqueue_in(
        self, conn: psycopg.AsyncConnection[Any], specs: Sequence[JobSpec]
    ) -> list[EnqueueResult]:
        """Enqueue inside the caller's open transaction on their own connection: the
        jobs exist if and only if that transaction commits."""
        if not specs:
            return []
        async with conn.transaction():  # a savepoint: a refused batch leaves no trace
            return await self._enqueue_on(conn, specs, qualified=True)

    async def _enqueue_on(
        self, conn: psycopg.AsyncConnection[Any], specs: Sequence[JobSpec], *, qualified: bool
    ) -> list[EnqueueResult]:
        ids = [s.id for s in specs if not s.idempotency_key]
        if len(set(ids)) != len(ids):
            raise BackendError("a job with this id already exists")
        enqueue = formatted("enqueue_in", self.schema) if qualified else QB["enqueue"]
        try:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(enqueue, {"specs": rows.specs_json(specs)})
            made = await cur.fetchall()
        except errors.UniqueViolation as exc:
            raise BackendError("a job with this id already exists") from exc
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if isinstance(exc, errors.TransactionRollback):
                raise
            raise unavailable(exc) from exc
        except psycopg.Error as exc:
            if exc.sqlstate == rows.ACTIVE_LIMIT_SQLSTATE:
                raise rows.active_limit(exc.diag.message_detail) from None
            raise
        return [EnqueueResult(rows.job(r), bool(r["created"])) for r in made]

    # -- workers ---------------------------------------------------------------------

    async def claim(self, *, worker_id: str, limit: int, lease_s: float) -> list[ClaimedTask]:
        if limit <= 0:
            return []
        self._claim_generation = self._listener.work_generation
        found = await self._db.all(
            "claim",
            {
                "worker": worker_id,
                "limit": limit,
                "lease": lease_s,
                "starve": self.options.starvation_every,
            },
        )
        return [rows.claimed(r) for r in found]

    async def heartbeat(
        self, leases: Sequence[Lease], *, lease_s: float, progress: dict[str, float] | None = None
    ) -> HeartbeatResult:
        if not leases:
            return HeartbeatResult(frozenset(), frozenset(), frozenset())
        prog = progress or {}
        found = await self._db.all(
            "heartbeat",
            {
                "ids": [lease.task_id for lease in leases],
                "tokens": [lease.token for lease in leases],
                "lease": lease_s,
                "prog_ids": list(prog),
                "prog": [float(v) for v in prog.values()],
            },
        )
        by_state: dict[str, set[str]] = {"extended": set(), "cancelled": set(), "lost": set()}
        for r in found:
            by_state[r["state"]].add(r["id"])
        return HeartbeatResult(
            frozenset(by_state["extended"]),
            frozenset(by_state["cancelled"]),
            frozenset(by_state["lost"]),
        )

    async def complete(self, completions: Sequence[Completion]) -> list[bool]:
        if not completions:
            return []
        found = await self._db.all(
            "complete",
            {
                "ids": [c.lease.task_id for c in completions],
                "tokens": [c.lease.token for c in completions],
                "results": Jsonb([dict(c.result) for c in completions]),
            },
        )
        return [bool(r["ok"]) for r in found]

    async def fail(self, lease: Lease, *, error: str, retry_at: float | None) -> bool:
        row = await self._db.one(
            "fail",
            {"id": lease.task_id, "token": lease.token, "error": error, "retry_at": retry_at},
        )
        return bool(row and row["ok"])

    async def release(self, leases: Sequence[Lease], *, run_at: float | None = None) -> int:
        if not leases:
            return 0
        params = {"ids": [x.task_id for x in leases], "tokens": [x.token for x in leases]}
        if run_at is None:
            row = await self._db.one("release", params)
            return int(row["n"]) if row else 0

        async def work(conn: Conn) -> int:
            # One transaction: lock the tasks this lease set still holds, release them,
            # then hold exactly those back until run_at.
            async with conn.transaction():
                held = await (await conn.execute(QB["release_held"], params)).fetchall()
                row = await (await conn.execute(QB["release"], params)).fetchone()
                ids = [r["id"] for r in held]
                await conn.execute(QB["release_until"], {"ids": ids, "run_at": run_at})
            return int(row["n"]) if row else 0

        return await self._db.run(work)

    async def wait_for_work(self, timeout: float) -> None:
        await self._listener.wait(timeout, since=self._claim_generation)
        self._claim_generation = self._listener.work_generation

    async def register_worker(self, info: WorkerInfo) -> None:
        await self._db.execute("register_worker", rows.worker_params(info))

    async def unregister_worker(self, worker_id: str) -> None:
        await self._db.execute("unregister_worker", {"id": worker_id})

    async def list_workers(self) -> list[WorkerInfo]:
        found = await self._db.all("list_workers", {"ttl": self.options.worker_ttl_s})
        return [rows.worker(r) for r in found]

    # -- pauses ----------------------------------------------------------------------

    async def pause(self, engine: str | None = None) -> Pause:
        await self._db.execute("put_pause", {"engine": engine or "", "since": time.time()})
        row = await self._db.one("get_pause", {"engine": engine or ""})
        return Pause(engine, float(row["since"]) if row else time.time())

    async def resume(self, engine: str | None = None) -> bool:
        return await self._db.execute("delete_pause", {"engine": engine or ""}) > 0

    async def list_pauses(self) -> list[Pause]:
        found = await self._db.all("list_pauses")
        return [Pause(r["engine"] or None, float(r["since"])) for r in found]

    async def drain_worker(self, worker_id: str) -> None:
        await self._db.execute("put_drain", {"worker_id": worker_id, "now": time.time()})

    async def take_drain(self, worker_id: str) -> bool:
        return await self._db.execute("take_drain", {"worker_id": worker_id}) > 0

    # -- users and admins ------------------------------------------------------------

    async def _job(self, job_id: str) -> Job | None:
        async def work(conn: Conn) -> Job | None:
            cur = await conn.execute(QB["get_job"], {"id": job_id})
            row = await cur.fetchone()
            if row is None:
                return None
            cur = await conn.execute(QB["job_tasks"], {"id": job_id})
            return rows.job(row, await cur.fetchall())

        return await self._db.run(work)

    async def get(self, job_id: str, *, user_id: str | None = None) -> Job | None:
        found = await self._job(job_id)
        if found is None or (user_id is not None and found.user_id != user_id):
            return None
        return found

    async def existing_jobs(self, job_ids: Sequence[str]) -> set[str]:
        if not job_ids:
            return set()
        found = await self._db.all("existing_jobs", {"ids": list(job_ids)})
        return {str(row["id"]) for row in found}

    async def list_jobs(self, flt: JobFilter, *, limit: int, cursor: str | None = None) -> Page:
        if limit <= 0:
            return Page(items=(), next_cursor=None)
        name = "list_jobs"
        name += "_user" if flt.user_id is not None else ""
        name += "_status" if flt.status is not None else ""
        name += "_all" if flt.user_id is None and flt.status is None else ""
        name += "_after" if cursor is not None else ""
        found = await self._db.all(
            name,
            {
                "user": flt.user_id,
                "status": None if flt.status is None else flt.status.value,
                "cursor": cursor,
                "limit": limit + 1,
            },
        )
        items = tuple(rows.job(r) for r in found[:limit])
        more = len(found) > limit
        return Page(items=items, next_cursor=items[-1].id if more else None)

    async def _transition(self, query: str, job_id: str, params: dict[str, Any]) -> Job:
        row = await self._db.one(query, {"id": job_id, **params})
        outcome = row["outcome"] if row else "not_found"
        found = await self._job(job_id)
        if outcome == "not_found" or found is None:
            raise JobNotFound(job_id)
        if outcome == "invalid":
            raise InvalidTransition(found, f"job is {found.status.value}")
        if outcome.startswith("limit "):
            raise ActiveJobsLimit(found.user_id, int(outcome[6:]), int(params["max_active"]))
        return found

    async def cancel(self, job_id: str, *, user_id: str | None = None) -> Job:
        return await self._transition("cancel", job_id, {"user": user_id})

    async def retry(
        self, job_id: str, *, user_id: str | None = None, max_active_jobs: int | None = None
    ) -> Job:
        return await self._transition(
            "retry", job_id, {"user": user_id, "max_active": max_active_jobs}
        )

    async def set_priority(self, job_id: str, priority: int) -> Job:
        return await self._transition("set_priority", job_id, {"priority": priority})

    async def count_active(self, user_id: str) -> int:
        row = await self._db.one("active_jobs_user", {"user": user_id})
        return int(row["n"]) if row else 0

    async def stats(self, *, user_id: str | None = None) -> QueueStats:
        scope = "all" if user_id is None else "user"

        async def work(conn: Conn) -> QueueStats:
            cur = await conn.execute(QB[f"stats_counts_{scope}"], {"user": user_id})
            counts = await cur.fetchall()
            cur = await conn.execute(QB[f"stats_extra_{scope}"], {"user": user_id})
            extra = await cur.fetchone()
            jobs = {s.value: 0 for s in JobStatus}
            tasks = {s.value: 0 for s in TaskStatus}
            for r in counts:
                target = jobs if r["kind"] == "job" else tasks
                if r["status"] in target:
                    target[r["status"]] += int(r["n"])
            return QueueStats(
                jobs=jobs,
                tasks=tasks,
                users=int(extra["users"]) if extra else 0,
                oldest_pending_at=rows._opt_float(extra["oldest_pending_at"]) if extra else None,
            )

        return await self._db.run(work)

    # -- API keys --------------------------------------------------------------------

    async def put_api_key(self, key: ApiKey) -> None:
        try:
            await self._db.execute("put_api_key", rows.api_key_params(key))
        except errors.UniqueViolation as exc:
            raise BackendError("an API key with this id or hash already exists") from exc

    async def get_api_key(self, key_hash: str) -> ApiKey | None:
        row = await self._db.one("get_api_key", {"key_hash": key_hash})
        return None if row is None else rows.api_key(row)

    async def revoke_api_key(self, key_id: str) -> bool:
        return await self._db.execute("revoke_api_key", {"id": key_id}) > 0

    async def list_api_keys(self) -> list[ApiKey]:
        return [rows.api_key(row) for row in await self._db.all("list_api_keys")]

    # -- lexicons --------------------------------------------------------------------

    async def put_lexicon(self, lexicon: StoredLexicon, *, max_per_user: int) -> StoredLexicon:
        return await lexicons.put_lexicon(self._db, lexicon, max_per_user)

    async def get_lexicon(self, lexicon_id: str) -> StoredLexicon | None:
        return await lexicons.get_lexicon(self._db, lexicon_id)

    async def list_lexicons(self, user_id: str | None) -> list[StoredLexicon]:
        return await lexicons.list_lexicons(self._db, user_id)

    async def delete_lexicon(self, lexicon_id: str) -> bool:
        return await lexicons.delete_lexicon(self._db, lexicon_id)

    # -- events ----------------------------------------------------------------------

    async def events(self, job_id: str, *, after: int = 0, limit: int = 1000) -> list[Event]:
        if limit <= 0:
            return []
        found = await self._db.all("job_events", {"job_id": job_id, "after": after, "limit": limit})
        return [rows.event(r) for r in found]

    async def _events_by_ids(self, ids: list[int]) -> list[Event]:
        found = await self._db.all("events_by_ids", {"ids": ids})
        return [rows.event(r) for r in found]

    async def _events_after(self, event_id: int) -> list[Event]:
        found = await self._db.all("events_after_id", {"after": event_id, "limit": 10_000})
        return [rows.event(r) for r in found]

    def subscribe(
        self, *, job_id: str | None = None, user_id: str | None = None
    ) -> AsyncIterator[Event]:
        return self._listener.subscribe(job_id=job_id, user_id=user_id)

    # -- maintenance -----------------------------------------------------------------

    async def reap(self) -> ReapResult:
        row = await self._db.one("reap")
        if row is None:
            return ReapResult(requeued=0, failed=0)
        return ReapResult(requeued=int(row["requeued"]), failed=int(row["failed"]))

    async def prune(self, *, older_than: float) -> list[str]:
        return [str(row["id"]) for row in await self._db.all("prune", {"older_than": older_than})]

    # -- webhooks --------------------------------------------------------------------

    async def create_webhook(self, endpoint: WebhookEndpoint) -> None:
        await self._hooks.create(endpoint)

    async def list_webhooks(self, *, user_id: str | None = None) -> list[WebhookEndpoint]:
        return await self._hooks.list_all(user_id)

    async def get_webhook(
        self, endpoint_id: str, *, user_id: str | None = None
    ) -> WebhookEndpoint | None:
        return await self._hooks.get(endpoint_id, user_id)

    async def delete_webhook(self, endpoint_id: str, *, user_id: str | None = None) -> bool:
        return await self._hooks.delete(endpoint_id, user_id)

    async def rotate_webhook_secret(
        self, endpoint_id: str, *, secret: str, previous_until: float, user_id: str | None = None
    ) -> WebhookEndpoint | None:
        return await self._hooks.rotate(endpoint_id, secret, previous_until, user_id)

    async def claim_deliveries(
        self, *, worker_id: str, limit: int, lease_s: float
    ) -> list[ClaimedDelivery]:
        return await self._hooks.claim(limit, lease_s)

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
        return await self._hooks.finish(
            delivery_id, token, delivered, response_status, error, retry_at
        )

    async def list_deliveries(
        self, endpoint_id: str, *, limit: int, before: int | None = None
    ) -> list[WebhookDelivery]:
        return await self._hooks.deliveries(endpoint_id, limit, before)

    async def redeliver(self, endpoint_id: str, delivery_id: str) -> WebhookDelivery | None:
        return await self._hooks.redeliver(endpoint_id, delivery_id)

    async def prune_deliveries(self, *, older_than: float, limit: int = 1000) -> int:
        return await self._hooks.prune(older_than, limit)
