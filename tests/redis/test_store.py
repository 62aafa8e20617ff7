"""What only the Redis store has: schema key, lost data, scripts, retention, prefixes."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time

import pytest
from redis.asyncio import Redis

from tests.conformance.helpers import (
    add,
    book,
    claim,
    finish,
    poll,
    run_job,
    stop,
    subscribed,
)
from tests.redis.conftest import backend_url
from tests.stores import redis as redis_store
from tests.stores import service_url
from ttsqueue.backends import BackendOptions, open_backend
from ttsqueue.backends.base import Completion, SchemaTooNew
from ttsqueue.backends.keys import SCHEMA_VERSION, Keys
from ttsqueue.backends.redis import RedisBackend
from ttsqueue.backends.redis_codec import decode_events
from ttsqueue.models import Event, EventType, JobFilter, JobStatus, Voice

JOB_KEYS = ("job", "tasks", "text", "events")


def opened(prefix: str, **params: object) -> RedisBackend:
    backend = open_backend(backend_url(prefix, **params), BackendOptions())
    assert isinstance(backend, RedisBackend)
    return backend


async def test_open_writes_the_schema_version(client: Redis, prefix: str) -> None:
    async with opened(prefix) as b:
        assert await b.migrate() == []
    assert await client.get(Keys(prefix).schema) == str(SCHEMA_VERSION)


async def test_a_newer_schema_is_refused(client: Redis, prefix: str) -> None:
    await client.set(Keys(prefix).schema, SCHEMA_VERSION + 1)
    with pytest.raises(SchemaTooNew):
        async with opened(prefix):
            pass


async def test_after_redis_loses_its_data_the_store_says_so_and_carries_on(
    rb: RedisBackend, client: Redis, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    job = await add(rb, book("alice", 2))
    (held,) = await claim(rb, limit=1)
    # What a restart without persistence leaves: nothing under the prefix.
    await redis_store.delete_prefix(redis_url, rb.keys.prefix)
    with caplog.at_level(logging.ERROR, logger="ttsqueue.backends.redis"):
        assert await claim(rb) == []
    assert "schema_version" in caplog.text and "AOF" in caplog.text
    assert await client.get(rb.keys.schema) == str(SCHEMA_VERSION)
    assert await rb.get(job.id) is None
    beat = await rb.heartbeat([held.lease], lease_s=30)
    assert beat.lost == {held.lease.task_id}
    assert await rb.complete([Completion(held.lease, {"path": "late.mp3"})]) == [False]
    again = await add(rb, book("alice", 1))
    assert (await run_job(rb, again.id)).status is JobStatus.COMPLETED


async def test_a_flushed_script_cache_is_reloaded(rb: RedisBackend, client: Redis) -> None:
    job = await add(rb, book("alice", 1))
    await client.script_flush()  # as after a restart: EVALSHA answers NOSCRIPT
    assert (await run_job(rb, job.id)).status is JobStatus.COMPLETED


async def test_finished_jobs_expire_and_jobs_in_flight_never(client: Redis, prefix: str) -> None:
    keys = Keys(prefix)
    async with opened(prefix, retention_days=1) as b:
        done = await add(b, book("alice", 1))
        await run_job(b, done.id)
        busy = await add(b, book("bob", 1))
        for name in JOB_KEYS:
            assert 86000 < await client.ttl(keys.key(name, done.id)) <= 86400
            assert await client.ttl(keys.key(name, busy.id)) == -1
        cancelled = await add(b, book("carol", 1))
        await b.cancel(cancelled.id)
        assert await client.ttl(keys.job(cancelled.id)) > 0
        await b.retry(cancelled.id)  # in flight again: nothing may expire
        for name in JOB_KEYS:
            assert await client.ttl(keys.key(name, cancelled.id)) == -1


async def test_expired_jobs_leave_no_trace_in_counts_or_listings(prefix: str) -> None:
    async with opened(prefix, retention_days=1 / 86400) as b:  # one second
        done = await add(b, book("alice", 1))
        await run_job(b, done.id)
        await add(b, book("alice", 1))

        async def gone() -> bool:
            stats = await b.stats(user_id="alice")
            return stats.jobs["completed"] == 0 and stats.tasks["completed"] == 0

        await poll(gone)
        stats = await b.stats()
        assert stats.jobs["queued"] == 1 and stats.users == 1
        page = await b.list_jobs(JobFilter(user_id="alice"), limit=10)
        assert [j.status for j in page.items] == [JobStatus.QUEUED]


async def test_prune_deletes_every_key_of_old_jobs(client: Redis, rb: RedisBackend) -> None:
    job = await add(rb, book("alice", 2, idempotency_key="k1"))
    await run_job(rb, job.id)
    assert await rb.prune(older_than=time.time() + 60) == [job.id]
    for name in JOB_KEYS:
        assert not await client.exists(rb.keys.key(name, job.id))
    assert await client.hlen(rb.keys.key("idem")) == 0
    stats = await rb.stats()
    assert sum(stats.jobs.values()) == 0 and sum(stats.tasks.values()) == 0
    assert stats.users == 0
    again = await rb.enqueue([book("alice", 1, idempotency_key="k1")])
    assert again[0].created


async def test_events_are_capped_per_job_keeping_the_newest(prefix: str) -> None:
    async with opened(prefix, events_max=3) as b:
        job = await add(b, book("alice", 3))
        await run_job(b, job.id)
        events = await b.events(job.id)
        assert len(events) == 3
        last = events[-1].seq
        assert [e.seq for e in events] == [last - 2, last - 1, last]
        assert [e.seq for e in await b.events(job.id, after=last - 1)] == [last]


async def test_prefixes_isolate_stores(prefix: str) -> None:
    other = redis_store.new_prefix()
    try:
        async with opened(prefix) as a, opened(other) as b:
            await add(a, book("alice", 1))
            assert await claim(b) == []
            assert (await b.stats()).users == 0
            assert len(await claim(a)) == 1
    finally:
        await redis_store.delete_prefix(service_url("TTSQUEUE_TEST_REDIS_URL"), other)


async def test_an_idle_waiter_wakes_on_work_from_another_process(
    rb: RedisBackend, prefix: str
) -> None:
    async with opened(rb.keys.prefix) as producer:
        waiter = asyncio.create_task(rb.wait_for_work(30))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await add(producer, book("alice", 1))
        await asyncio.wait_for(waiter, 10)
        assert time.monotonic() - started < 10
        (task,) = await claim(rb)
        await finish(rb, task)


async def test_live_events_of_one_batch_arrive_in_order_as_stored(rb: RedisBackend) -> None:
    """A script publishes the events it appended together; subscribers see each one."""
    probe = await add(rb, book("probe", 1))
    seen: list[Event] = []
    async with opened(rb.keys.prefix) as producer:
        consumer = await subscribed(rb, seen, probe.id, producer=producer)
        seen.clear()
        jobs = [j.job for j in await producer.enqueue([book("alice", 2), book("bob", 1)])]
        claimed = await producer.claim(worker_id="w1", limit=5, lease_s=30)
        await producer.complete([Completion(c.lease, {"duration_s": 1.0}) for c in claimed])
        stored = sorted([e for j in jobs for e in await producer.events(j.id)], key=lambda e: e.id)
        ids = {j.id for j in jobs}
        await poll(
            lambda: asyncio.sleep(0, len([e for e in seen if e.job_id in ids]) >= len(stored))
        )
        await stop(consumer)
    assert [e.type for e in stored].count(EventType.CHAPTER_COMPLETED) == 3
    assert [e for e in seen if e.job_id in ids] == stored
    assert [e.id for e in seen] == sorted({e.id for e in seen})


def test_a_single_event_message_still_decodes() -> None:
    event = {"job_id": "j", "user_id": "u", "seq": 1, "type": "job.queued", "data": {}}
    text = json.dumps({**event, "at": 1.5, "id": 7})
    assert decode_events(text) == decode_events(f"[{text}]")
    assert decode_events(text)[0].id == 7


async def test_enqueue_answers_what_get_reads_back(rb: RedisBackend) -> None:
    """New jobs are built from their specs without a read: they must equal the stored ones."""
    voice = Voice(engine="espeak", name="de", speed=1.25, pitch=0.5, sentence_pause_ms=300)
    specs = [
        book("alice", 3),
        book(
            "bob",
            1,
            title='Ünïcödé "quoted" \\ book\n',
            author="Ö. Author",
            work_id="w-1",
            voice=voice,
            output_format="mp3",
            priority=7,
            max_attempts=5,
            idempotency_key="k1",
            metadata={"cover_path": "x/cover.png", "n": [1, 2.5, None], "ok": True},
        ),
        book("carol", 2, run_at=time.time() + 3600.123456789),
        book("dave", 1, run_at=1_000_000),
    ]
    results = await rb.enqueue(specs)
    again = await rb.enqueue([book("bob", 1, idempotency_key="k1"), book("erin", 1)])
    assert [r.created for r in results + again] == [True] * 4 + [False, True]
    assert again[0].job == results[1].job
    for r in results + again:
        stored = await rb.get(r.job.id)
        assert stored is not None
        assert r.job == dataclasses.replace(stored, tasks=())
    assert [r.job.status for r in results] == [
        JobStatus.QUEUED,
        JobStatus.QUEUED,
        JobStatus.SCHEDULED,
        JobStatus.QUEUED,
    ]


async def test_a_fresh_prefix_is_logged_with_its_schema_version(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ttsqueue.backends.redis"):
        async with opened(prefix):
            pass
    assert f"initialised redis prefix {prefix!r} (schema {SCHEMA_VERSION})" in caplog.messages
