"""Enqueue inside the caller's own transaction: the job exists only if it commits."""

from __future__ import annotations

import psycopg
import pytest

from tests.postgres.helpers import book
from ttsqueue.backends import BackendOptions, open_backend
from ttsqueue.backends.postgres import PostgresBackend
from ttsqueue.models import Chapter, JobStatus, User
from ttsqueue.queue import BookRequest, Queue, QueueError
from ttsqueue.settings import Settings


async def test_a_rolled_back_transaction_leaves_no_job(pg: PostgresBackend, base_url: str) -> None:
    spec = book()
    async with await psycopg.AsyncConnection.connect(base_url) as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                (result,) = await pg.enqueue_in(conn, [spec])
                assert result.created and result.job.status is JobStatus.QUEUED
                raise RuntimeError("the caller changes their mind")
    assert await pg.get(spec.id) is None
    assert await pg.claim(worker_id="w", limit=10, lease_s=30) == []
    assert await pg.events(spec.id) == []


async def test_a_committed_transaction_enqueues_visible_only_at_commit(
    pg: PostgresBackend, base_url: str
) -> None:
    spec = book()
    async with await psycopg.AsyncConnection.connect(base_url) as conn:
        async with conn.transaction():
            await pg.enqueue_in(conn, [spec])
            assert await pg.get(spec.id) is None  # another connection: not yet
    job = await pg.get(spec.id)
    assert job is not None and job.total_chapters == 2
    claimed = await pg.claim(worker_id="w", limit=10, lease_s=30)
    assert {c.job_id for c in claimed} == {spec.id}


async def test_queue_add_job_with_a_connection_uses_the_callers_transaction(
    pg: PostgresBackend, base_url: str
) -> None:
    queue = Queue(pg, Settings())
    user = User("writer")
    request = BookRequest(chapters=[Chapter("One", "Hello there.")], title="T")
    async with await psycopg.AsyncConnection.connect(base_url) as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                rolled = await queue.add_job(user, request, connection=conn)
                raise RuntimeError("rollback")
        async with conn.transaction():
            kept = await queue.add_job(user, request, connection=conn)
    assert await pg.get(rolled.job.id) is None
    assert await pg.get(kept.job.id) is not None


async def test_queue_add_job_with_a_connection_on_a_store_without_it_is_refused() -> None:
    async with open_backend("memory://", BackendOptions()) as memory:
        queue = Queue(memory, Settings())
        request = BookRequest(chapters=[Chapter("One", "Hello there.")])
        with pytest.raises(QueueError) as info:
            await queue.add_job(User("writer"), request, connection=object())
        assert info.value.field == "connection"
