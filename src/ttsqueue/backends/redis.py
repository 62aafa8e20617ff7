"""The Redis store, for the highest throughput.

Every state transition is one Lua script (``backends/lua/NAME.lua``, prefixed with the
shared ``_prelude.lua``), loaded once and called by SHA (EVALSHA, with redis-py
reloading it on NOSCRIPT). Key names live in :mod:`ttsqueue.backends.keys`; the layout
and what works on Redis Cluster are described in docs/redis.md.

URL: ``redis://[:password@]host[:port][/db][?prefix=ttsqueue&retention_days=30&events_max=10000]``
(``rediss://`` for TLS). Other query parameters go to redis-py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ttsqueue.backends import sqlfiles
from ttsqueue.backends.base import (
    Backend,
    BackendError,
    BackendOptions,
    Capabilities,
    Completion,
    InvalidTransition,
    JobNotFound,
    LexiconLimit,
    LexiconNotFound,
    Pause,
    SchemaTooNew,
    StoreUnavailable,
    WorkerInfo,
)
from ttsqueue.backends.keys import SCHEMA_VERSION, Keys, lua_templates
from ttsqueue.backends.redis_codec import (
    RedisUrl,
    active_limit,
    created_job,
    decode_api_key,
    decode_claimed,
    decode_event,
    decode_job,
    decode_worker,
    encode_api_key,
    encode_worker,
    enqueue_args,
)
from ttsqueue.backends.redis_listener import Listener
from ttsqueue.backends.redis_webhooks import SCRIPTS as WEBHOOK_SCRIPTS
from ttsqueue.backends.redis_webhooks import RedisWebhooks
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

log = logging.getLogger("ttsqueue.backends.redis")

SCRIPTS = (
    "enqueue",
    "claim",
    "heartbeat",
    "complete",
    "fail",
    "release",
    "cancel",
    "retry",
    "set_priority",
    "reap",
    "prune",
    "stats",
    "list_jobs",
    "register_worker",
    "unregister_worker",
    "list_workers",
    "put_api_key",
    "revoke_api_key",
    "put_lexicon",
    "delete_lexicon",
    "init_schema",
    "next_due",
)

# Scripts whose second run would not be a no-op (a claim takes more tasks, an enqueue
# meets its own id, a completion is refused as stale). Their calls carry a reply key, so
# a call redis-py sends again after a dropped connection returns the first run's reply.
ONCE = frozenset(
    {
        "enqueue",
        "claim",
        "complete",
        "fail",
        "release",
        "cancel",
        "retry",
        "set_priority",
        "put_api_key",
        "revoke_api_key",
    }
)

# A dropped pooled connection is re-opened and the command sent again, with backoff
# (about 3 s in all), before the caller sees StoreUnavailable and backs off itself.
RETRIES = 6
RETRY_BASE_S = 0.05
RETRY_CAP_S = 1.0
CONNECT_TIMEOUT_S = 5.0

T = TypeVar("T")

LOST_DATA = (
    "Redis lost ttsqueue's data (the schema_version key under prefix %r is gone): it was "
    "probably restarted without AOF persistence. Jobs and tasks in flight are lost. "
    "Re-initialised schema version %d and carrying on; run Redis with appendonly yes."
)


def _lexicon(lexicon_id: str, data: dict[str, Any], created_at: float) -> StoredLexicon:
    return StoredLexicon(
        id=lexicon_id,
        user_id=str(data["user_id"]),
        name=str(data["name"]),
        entries=tuple(data["entries"]),
        created_at=created_at,
        updated_at=float(data["updated_at"]),
    )


def script_text(name: str) -> str:
    prelude = sqlfiles.lua("_prelude").replace("{{KEYS}}", lua_templates())
    return prelude + "\n" + sqlfiles.lua(name)


async def _guard(call: Awaitable[T]) -> T:
    """Connection trouble becomes :class:`StoreUnavailable` (callers retry with backoff)."""
    try:
        return await call
    except (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError) as exc:
        # ReadOnlyError: we reached a replica (during a failover); try again later.
        raise StoreUnavailable(f"redis: {exc}") from exc


class RedisBackend(Backend):
    capabilities = Capabilities(
        shared=True,
        persistent=True,
        push_wakeups=True,
        transactional_enqueue=False,
        row_level_security=False,
    )

    def __init__(self, url: str, options: BackendOptions) -> None:
        self.url = url
        self.options = options
        self.config = RedisUrl(url, options.retention_days)
        self.keys = Keys(self.config.prefix)
        self._redis: Redis | None = None
        self._scripts: dict[str, Callable[..., Awaitable[Any]]] = {}
        self._listener: Listener | None = None
        self._schema_seen = False
        self._wakes_at_claim: int | None = None  # listener.wakes when claim() last began
        self._hooks = RedisWebhooks(self._run, _guard, lambda: self.redis, self.keys)

    # -- plumbing --------------------------------------------------------------------

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            raise StoreUnavailable("the redis backend is not open")
        return self._redis

    async def _run(self, name: str, *args: object) -> Any:
        """Call a script; returns its result after noting the last event id it wrote."""
        common = (
            self.keys.prefix,
            self.config.events_max,
            self.config.retention_s,
            SCHEMA_VERSION,
        )
        keys = [self.keys.schema]
        if name in ONCE:
            keys.append(self.keys.key("reply", secrets.token_hex(12)))
        try:
            last_event, result = await _guard(self._scripts[name](keys=keys, args=[*common, *args]))
        except ResponseError as exc:
            raise BackendError(f"redis {name}: {exc}") from exc
        if last_event and self._listener is not None:
            self._listener.saw_event(int(last_event))
        return result

    def _note_schema(self, reinitialised: Any) -> None:
        if int(reinitialised) and self._schema_seen:
            log.error(LOST_DATA, self.keys.prefix, SCHEMA_VERSION)
        self._schema_seen = True

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        if self._redis is not None:
            return
        self._redis = Redis.from_url(
            self.config.client_url,
            decode_responses=True,
            retry=Retry(ExponentialWithJitterBackoff(cap=RETRY_CAP_S, base=RETRY_BASE_S), RETRIES),
            socket_connect_timeout=CONNECT_TIMEOUT_S,
        )
        self._scripts = {
            n: self._redis.register_script(script_text(n)) for n in (*SCRIPTS, *WEBHOOK_SCRIPTS)
        }
        try:
            await self.migrate()
            self._listener = Listener(self._redis, self.keys.wake_channel, self.keys.event_channel)
            await _guard(self._listener.start())
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.stop()
            self._listener = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def migrate(self) -> list[int]:
        created, version = await self._run("init_schema")
        if int(version) > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"redis prefix {self.keys.prefix!r} holds schema version {version}; "
                f"this ttsqueue knows up to {SCHEMA_VERSION}"
            )
        if int(created):
            if self._schema_seen:
                log.error(LOST_DATA, self.keys.prefix, SCHEMA_VERSION)
            else:
                log.info("initialised redis prefix %r (schema %s)", self.keys.prefix, version)
        self._schema_seen = True
        return [SCHEMA_VERSION] if int(created) else []

    async def ping(self) -> None:
        await _guard(self.redis.ping())
        await self.migrate()

    # -- producers -------------------------------------------------------------------

    async def enqueue(self, specs: Sequence[JobSpec]) -> list[EnqueueResult]:
        if not specs:
            return []
        args, metas = enqueue_args(specs)
        try:
            at, rows = await self._run("enqueue", *args)
        except BackendError as exc:
            if "duplicate id" in str(exc):
                raise BackendError("a job with this id already exists") from None
            refused = active_limit(exc)
            if refused is None:
                raise
            raise refused from None
        # New jobs are built from their specs; only jobs found by idempotency key are read.
        created_at = float(at)
        found = [str(r[0]) for r in rows if not int(r[1])]
        existing = iter(await self._get_many(found) if found else ())
        return [
            EnqueueResult(created_job(spec, str(r[2]), created_at, meta), True)
            if int(r[1])
            else EnqueueResult(next(existing), False)
            for spec, meta, r in zip(specs, metas, rows, strict=True)
        ]

    async def _get_many(self, job_ids: Sequence[str]) -> list[Job]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hgetall(self.keys.job(job_id))
            hashes = await _guard(pipe.execute())
        return [decode_job(h, None) for h in hashes]

    # -- workers ---------------------------------------------------------------------

    async def claim(self, *, worker_id: str, limit: int, lease_s: float) -> list[ClaimedTask]:
        if limit <= 0:
            return []
        every = self.options.starvation_every
        if self._listener is not None:
            self._wakes_at_claim = self._listener.wakes
        reinit, rows = await self._run("claim", worker_id, limit, repr(lease_s), every)
        self._note_schema(reinit)
        return [decode_claimed(r) for r in rows]

    async def heartbeat(
        self, leases: Sequence[Lease], *, lease_s: float, progress: dict[str, float] | None = None
    ) -> HeartbeatResult:
        if not leases:
            return HeartbeatResult(frozenset(), frozenset(), frozenset())
        args: list[object] = [repr(lease_s)]
        for lease in leases:
            value = (progress or {}).get(lease.task_id)
            args += [lease.task_id, lease.token, "" if value is None else repr(float(value))]
        extended, cancelled, lost = await self._run("heartbeat", *args)
        return HeartbeatResult(frozenset(extended), frozenset(cancelled), frozenset(lost))

    async def complete(self, completions: Sequence[Completion]) -> list[bool]:
        if not completions:
            return []
        args: list[object] = []
        for c in completions:
            duration = c.result.get("duration_s")
            args += [
                c.lease.task_id,
                c.lease.token,
                json.dumps(c.result),
                "" if "duration_s" not in c.result else json.dumps(duration),
            ]
        return [bool(x) for x in await self._run("complete", *args)]

    async def fail(self, lease: Lease, *, error: str, retry_at: float | None) -> bool:
        retry = "" if retry_at is None else repr(float(retry_at))
        return bool(await self._run("fail", lease.task_id, lease.token, error, retry))

    async def release(self, leases: Sequence[Lease], *, run_at: float | None = None) -> int:
        if not leases:
            return 0
        args: list[object] = ["" if run_at is None else repr(float(run_at))]
        for lease in leases:
            args += [lease.task_id, lease.token]
        return int(await self._run("release", *args))

    async def wait_for_work(self, timeout: float) -> None:
        if self._listener is None:
            raise StoreUnavailable("the redis backend is not open")
        wakes, wakeup = self._listener.waiter()
        since, self._wakes_at_claim = self._wakes_at_claim, None
        if since is not None and since != wakes:
            return  # work arrived while the last claim was on its way: claim again
        due = await self._run("next_due")
        if due != "":  # wake up for a delayed task or an expiring lease, not later
            timeout = min(timeout, float(due) + 0.01)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), max(0.0, timeout))

    async def register_worker(self, info: WorkerInfo) -> None:
        await self._run("register_worker", info.id, encode_worker(info))

    async def unregister_worker(self, worker_id: str) -> None:
        await self._run("unregister_worker", worker_id)

    async def list_workers(self) -> list[WorkerInfo]:
        rows = await self._run("list_workers", repr(self.options.worker_ttl_s))
        return sorted((decode_worker(text, seen) for text, seen in rows), key=lambda w: w.id)

    # -- pauses ----------------------------------------------------------------------

    async def pause(self, engine: str | None = None) -> Pause:
        key = self.keys.key("pauses")
        await _guard(self.redis.hsetnx(key, engine or "", repr(time.time())))
        since = await _guard(self.redis.hget(key, engine or ""))
        return Pause(engine, float(since) if since else time.time())

    async def resume(self, engine: str | None = None) -> bool:
        return bool(await _guard(self.redis.hdel(self.keys.key("pauses"), engine or "")))

    async def list_pauses(self) -> list[Pause]:
        found = await _guard(self.redis.hgetall(self.keys.key("pauses")))
        return [Pause(str(e) or None, float(since)) for e, since in sorted(found.items())]

    async def drain_worker(self, worker_id: str) -> None:
        await _guard(self.redis.hsetnx(self.keys.key("drains"), worker_id, repr(time.time())))

    async def take_drain(self, worker_id: str) -> bool:
        return bool(await _guard(self.redis.hdel(self.keys.key("drains"), worker_id)))

    # -- users and admins ------------------------------------------------------------

    async def get(self, job_id: str, *, user_id: str | None = None) -> Job | None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(self.keys.job(job_id))
            pipe.hgetall(self.keys.key("tasks", job_id))
            job, tasks = await _guard(pipe.execute())
        if not job or (user_id is not None and job["user_id"] != user_id):
            return None
        return decode_job(job, tasks)

    async def existing_jobs(self, job_ids: Sequence[str]) -> set[str]:
        if not job_ids:
            return set()
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.exists(self.keys.job(job_id))
            found = await _guard(pipe.execute())
        return {job_id for job_id, n in zip(job_ids, found, strict=True) if n}

    async def list_jobs(self, flt: JobFilter, *, limit: int, cursor: str | None = None) -> Page:
        status = "" if flt.status is None else flt.status.value
        next_cursor, items = await self._run(
            "list_jobs", flt.user_id or "", status, max(0, limit), cursor or ""
        )
        return Page(
            items=tuple(decode_job(h, None) for h in items), next_cursor=next_cursor or None
        )

    async def _change(self, script: str, job_id: str, *args: object) -> Job:
        outcome = await self._run(script, job_id, *args)
        job = await self.get(job_id)
        if outcome == "missing" or job is None:
            raise JobNotFound(job_id)
        if outcome != "ok":
            raise InvalidTransition(job, f"job is already {outcome}")
        return job

    async def cancel(self, job_id: str, *, user_id: str | None = None) -> Job:
        return await self._change("cancel", job_id, user_id or "")

    async def retry(
        self, job_id: str, *, user_id: str | None = None, max_active_jobs: int | None = None
    ) -> Job:
        cap = "" if max_active_jobs is None else max_active_jobs
        try:
            return await self._change("retry", job_id, user_id or "", cap)
        except BackendError as exc:
            refused = active_limit(exc)
            if refused is None:
                raise
            raise refused from None

    async def set_priority(self, job_id: str, priority: int) -> Job:
        return await self._change("set_priority", job_id, priority)

    async def count_active(self, user_id: str) -> int:
        fields = [f"j:{s.value}" for s in JobStatus if not s.terminal]
        found = await _guard(self.redis.hmget(self.keys.key("user_counts", user_id), fields))
        return sum(int(v) for v in found if v is not None)

    async def stats(self, *, user_id: str | None = None) -> QueueStats:
        flat, users, oldest = await self._run("stats", user_id or "")
        counts = {k: int(v) for k, v in zip(flat[::2], flat[1::2], strict=True)}
        return QueueStats(
            jobs={s.value: counts.get(f"j:{s.value}", 0) for s in JobStatus},
            tasks={s.value: counts.get(f"t:{s.value}", 0) for s in TaskStatus},
            users=int(users),
            oldest_pending_at=float(oldest) if oldest != "" else None,
        )

    # -- API keys --------------------------------------------------------------------

    async def put_api_key(self, key: ApiKey) -> None:
        if not int(await self._run("put_api_key", key.id, key.key_hash, encode_api_key(key))):
            raise BackendError("an API key with this id or hash already exists")

    async def get_api_key(self, key_hash: str) -> ApiKey | None:
        text = await _guard(self.redis.hget(self.keys.key("api_keys"), key_hash))
        return None if text is None else decode_api_key(str(text))

    async def revoke_api_key(self, key_id: str) -> bool:
        return bool(int(await self._run("revoke_api_key", key_id)))

    async def list_api_keys(self) -> list[ApiKey]:
        values = await _guard(self.redis.hvals(self.keys.key("api_keys")))
        keys = [decode_api_key(str(v)) for v in values]
        return sorted(keys, key=lambda k: (k.created_at, k.id))

    # -- lexicons --------------------------------------------------------------------

    async def put_lexicon(self, lexicon: StoredLexicon, *, max_per_user: int) -> StoredLexicon:
        text = json.dumps(
            {
                "user_id": lexicon.user_id,
                "name": lexicon.name,
                "entries": list(lexicon.entries),
                "updated_at": lexicon.updated_at,
            },
            ensure_ascii=False,
        )
        created = str(
            await self._run(
                "put_lexicon",
                lexicon.id,
                lexicon.user_id,
                text,
                repr(lexicon.created_at),
                max_per_user,
            )
        )
        if created == "other":
            raise LexiconNotFound(lexicon.id)
        if created == "limit":
            raise LexiconLimit(lexicon.user_id, max_per_user)
        return replace(lexicon, created_at=float(created))

    async def get_lexicon(self, lexicon_id: str) -> StoredLexicon | None:
        text = await _guard(self.redis.hget(self.keys.key("lexicons"), lexicon_id))
        if text is None:
            return None
        data = json.loads(text)
        owner = self.keys.key("user_lexicons", data["user_id"])
        created = await _guard(self.redis.zscore(owner, lexicon_id))
        return _lexicon(lexicon_id, data, float(created or 0.0))

    async def list_lexicons(self, user_id: str | None) -> list[StoredLexicon]:
        index = (
            self.keys.key("lexicon_ids")
            if user_id is None
            else self.keys.key("user_lexicons", user_id)
        )
        ids: Any = await _guard(self.redis.zrange(index, 0, -1, withscores=True))
        if not ids:
            return []
        texts: Any = await _guard(self.redis.hmget(self.keys.key("lexicons"), [i for i, _ in ids]))
        return [
            _lexicon(str(i), json.loads(t), float(score))
            for (i, score), t in zip(ids, texts, strict=True)
            if t is not None
        ]

    async def delete_lexicon(self, lexicon_id: str) -> bool:
        return bool(int(await self._run("delete_lexicon", lexicon_id)))

    # -- events ----------------------------------------------------------------------

    async def events(self, job_id: str, *, after: int = 0, limit: int = 1000) -> list[Event]:
        if limit <= 0:
            return []
        stream = self.keys.events(job_id)
        rows: Any = await _guard(self.redis.xrange(stream, min=f"{after + 1}-0", count=limit))
        return [decode_event(fields["e"]) for _, fields in rows]

    def subscribe(
        self, *, job_id: str | None = None, user_id: str | None = None
    ) -> AsyncIterator[Event]:
        if self._listener is None:
            raise StoreUnavailable("the redis backend is not open")
        return self._listener.subscribe(job_id, user_id)

    # -- maintenance -----------------------------------------------------------------

    async def reap(self) -> ReapResult:
        reinit, requeued, failed = await self._run("reap")
        self._note_schema(reinit)
        return ReapResult(requeued=int(requeued), failed=int(failed))

    async def prune(self, *, older_than: float) -> list[str]:
        gone: list[str] = []
        while True:
            ids = await self._run("prune", repr(float(older_than)))
            gone += [str(i) for i in ids or []]
            if len(ids or []) < 1000:
                return gone

    # -- webhooks --------------------------------------------------------------------

    async def create_webhook(self, endpoint: WebhookEndpoint) -> None:
        if not await self._hooks.create(endpoint):
            raise BackendError("a webhook endpoint with this id already exists")

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
