"""Webhook endpoints and the delivery transitions, the same on every store."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.conformance.helpers import add, book, claim_one, run_job
from ttsqueue.backends.base import Backend
from ttsqueue.webhooks.model import (
    ClaimedDelivery,
    DeliveryStatus,
    WebhookEndpoint,
    new_endpoint_id,
    new_secret,
    payload,
)

LEASE_S = 30.0


def endpoint(
    user: str = "alice",
    events: tuple[str, ...] = ("job.completed", "job.failed", "job.cancelled"),
    *,
    progress_interval_s: float = 3600.0,
) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=new_endpoint_id(),
        user_id=user,
        url="https://hooks.example.com/tts",
        events=events,
        secret=new_secret(),
        created_at=time.time(),
        progress_interval_s=progress_interval_s,
    )


@pytest.fixture
def hooks(backend: Backend) -> Backend:
    return backend


async def claim_all(backend: Backend, *, lease_s: float = LEASE_S) -> list[ClaimedDelivery]:
    return await backend.claim_deliveries(worker_id="w1", limit=100, lease_s=lease_s)


async def deliver(backend: Backend, held: ClaimedDelivery) -> None:
    assert await backend.finish_delivery(
        held.delivery.id,
        held.token,
        delivered=True,
        response_status=204,
        error=None,
        retry_at=None,
    )


async def test_endpoints_are_kept_per_user(hooks: Backend) -> None:
    a, b = endpoint("alice"), endpoint("bob")
    await hooks.create_webhook(a)
    await hooks.create_webhook(b)
    assert await hooks.get_webhook(a.id, user_id="alice") == a
    assert await hooks.get_webhook(a.id, user_id="bob") is None
    assert await hooks.get_webhook(a.id) == a
    assert await hooks.list_webhooks(user_id="bob") == [b]
    assert sorted(e.id for e in await hooks.list_webhooks()) == sorted([a.id, b.id])
    assert not await hooks.delete_webhook(a.id, user_id="bob")
    assert await hooks.delete_webhook(a.id, user_id="alice")
    assert await hooks.get_webhook(a.id) is None
    assert not await hooks.delete_webhook(a.id)


async def test_rotation_keeps_the_previous_secret_signing_for_a_while(hooks: Backend) -> None:
    ep = endpoint()
    await hooks.create_webhook(ep)
    fresh = new_secret()
    assert (
        await hooks.rotate_webhook_secret(ep.id, secret=fresh, previous_until=1.0, user_id="bob")
        is None
    )
    until = time.time() + 3600
    rotated = await hooks.rotate_webhook_secret(ep.id, secret=fresh, previous_until=until)
    assert rotated is not None
    assert (rotated.secret, rotated.previous_secret, rotated.previous_until) == (
        fresh,
        ep.secret,
        until,
    )
    assert await hooks.get_webhook(ep.id) == rotated

    await run_job(hooks, (await add(hooks, book("alice", 1))).id)
    (held,) = await claim_all(hooks)
    assert held.secrets == (fresh, ep.secret)


async def test_a_finished_job_makes_one_delivery_per_subscribed_endpoint(hooks: Backend) -> None:
    wants = endpoint("alice", ("job.completed",))
    other_type = endpoint("alice", ("job.failed",))
    other_user = endpoint("bob", ("job.completed",))
    for ep in (wants, other_type, other_user):
        await hooks.create_webhook(ep)
    job = await run_job(hooks, (await add(hooks, book("alice", 2))).id)

    (held,) = await claim_all(hooks)
    d = held.delivery
    assert (d.endpoint_id, d.job_id, d.user_id, d.type) == (
        wants.id,
        job.id,
        "alice",
        "job.completed",
    )
    assert (d.status, d.attempts, held.url, held.secrets) == (
        DeliveryStatus.RUNNING,
        1,
        wants.url,
        (wants.secret,),
    )
    assert d.id.startswith("msg_")
    events = await hooks.events(job.id)
    completed = [e for e in events if e.type == "job.completed"]
    assert d.event_seq == completed[0].seq
    assert d.data == completed[0].data
    assert b'"type":"job.completed"' in payload(d)
    assert await claim_all(hooks) == []  # held: nobody else gets it
    await deliver(hooks, held)
    (logged,) = await hooks.list_deliveries(wants.id, limit=10)
    assert (logged.status, logged.response_status, logged.attempts) == (
        DeliveryStatus.DELIVERED,
        204,
        1,
    )
    assert logged.delivered_at is not None
    assert await hooks.list_deliveries(other_type.id, limit=10) == []
    assert await hooks.list_deliveries(other_user.id, limit=10) == []


async def test_a_failed_attempt_is_retried_at_its_time_and_a_stale_token_is_refused(
    hooks: Backend,
) -> None:
    ep = endpoint()
    await hooks.create_webhook(ep)
    job = await add(hooks, book("alice", 1))
    await hooks.cancel(job.id)
    (held,) = await claim_all(hooks)
    assert held.delivery.type == "job.cancelled"
    later = time.time() + 3600
    assert await hooks.finish_delivery(
        held.delivery.id,
        held.token,
        delivered=False,
        response_status=500,
        error="HTTP 500",
        retry_at=later,
    )
    assert not await hooks.finish_delivery(
        held.delivery.id, held.token, delivered=True, response_status=200, error=None, retry_at=None
    )
    (logged,) = await hooks.list_deliveries(ep.id, limit=10)
    assert (logged.status, logged.response_status, logged.error) == (
        DeliveryStatus.PENDING,
        500,
        "HTTP 500",
    )
    assert logged.run_at == pytest.approx(later)
    assert await claim_all(hooks) == []  # not due yet

    soon = time.time() + 0.3
    # redeliver makes it due now, attempts from 0
    again = await hooks.redeliver(ep.id, held.delivery.id)
    assert again is not None and (again.status, again.attempts) == (DeliveryStatus.PENDING, 0)
    (held2,) = await claim_all(hooks)
    assert held2.token > held.token and held2.delivery.attempts == 1
    assert await hooks.finish_delivery(
        held2.delivery.id,
        held2.token,
        delivered=False,
        response_status=None,
        error="timeout",
        retry_at=soon,
    )
    await asyncio.sleep(max(0.0, soon - time.time()) + 0.05)
    (held3,) = await claim_all(hooks)
    assert held3.delivery.attempts == 2
    assert await hooks.finish_delivery(
        held3.delivery.id,
        held3.token,
        delivered=False,
        response_status=410,
        error="gone",
        retry_at=None,
    )
    (logged,) = await hooks.list_deliveries(ep.id, limit=10)
    assert logged.status is DeliveryStatus.FAILED
    assert await claim_all(hooks) == []
    assert await hooks.redeliver(ep.id, "msg_unknown") is None
    assert await hooks.redeliver(endpoint().id, held.delivery.id) is None


async def test_an_expired_lease_is_taken_over_with_a_new_token(hooks: Backend) -> None:
    await hooks.create_webhook(endpoint())
    job = await add(hooks, book("alice", 1))
    await hooks.cancel(job.id)
    (held,) = await claim_all(hooks, lease_s=0.2)
    await asyncio.sleep(0.4)
    (again,) = await claim_all(hooks)
    assert again.delivery.id == held.delivery.id
    assert again.token > held.token and again.delivery.attempts == 2
    assert not await hooks.finish_delivery(
        held.delivery.id, held.token, delivered=True, response_status=200, error=None, retry_at=None
    )
    await deliver(hooks, again)


async def test_deliveries_reach_an_endpoint_in_order_per_job(hooks: Backend) -> None:
    ep = endpoint(events=("job.cancelled", "job.progress"), progress_interval_s=0.0)
    await hooks.create_webhook(ep)
    first = await add(hooks, book("alice", 2))
    second = await add(hooks, book("alice", 1))
    task = await claim_one(hooks)
    assert task.job_id == first.id
    await hooks.heartbeat([task.lease], lease_s=LEASE_S, progress={task.lease.task_id: 0.5})
    await hooks.cancel(first.id)
    await hooks.cancel(second.id)

    held = await claim_all(hooks)
    # the first job's progress and the second job's cancel: its cancel waits behind progress
    assert [(h.delivery.job_id, h.delivery.type) for h in held] == [
        (first.id, "job.progress"),
        (second.id, "job.cancelled"),
    ]
    progress = held[0]
    assert await hooks.finish_delivery(
        progress.delivery.id,
        progress.token,
        delivered=False,
        response_status=503,
        error="busy",
        retry_at=time.time() + 0.3,
    )
    assert await claim_all(hooks) == []  # the cancel stays behind the retrying progress
    await asyncio.sleep(0.45)
    (progress2,) = await claim_all(hooks)
    assert progress2.delivery.id == progress.delivery.id
    await deliver(hooks, progress2)
    (cancelled,) = await claim_all(hooks)
    assert (cancelled.delivery.job_id, cancelled.delivery.type) == (first.id, "job.cancelled")
    log = await hooks.list_deliveries(ep.id, limit=10)
    assert [d.seq for d in log] == sorted((d.seq for d in log), reverse=True)
    assert len(log) == 3
    page = await hooks.list_deliveries(ep.id, limit=10, before=log[0].seq)
    assert page == log[1:]


async def test_progress_is_delivered_at_most_once_per_interval_per_job(hooks: Backend) -> None:
    ep = endpoint(events=("job.progress",), progress_interval_s=3600.0)
    await hooks.create_webhook(ep)
    await add(hooks, book("alice", 1))
    task = await claim_one(hooks)
    for fraction in (0.2, 0.4, 0.6):
        await hooks.heartbeat(
            [task.lease], lease_s=LEASE_S, progress={task.lease.task_id: fraction}
        )
    log = await hooks.list_deliveries(ep.id, limit=10)
    assert [d.type for d in log] == ["job.progress"]
    events = [e for e in await hooks.events(task.job_id) if e.type == "job.progress"]
    assert len(events) >= 3


async def test_prune_forgets_only_finished_deliveries_older_than_the_cutoff(
    hooks: Backend,
) -> None:
    ep = endpoint(events=("job.cancelled",))
    await hooks.create_webhook(ep)
    for _ in range(3):
        await hooks.cancel((await add(hooks, book("alice", 1))).id)
    held = await claim_all(hooks)
    assert len(held) == 3
    await deliver(hooks, held[0])
    assert await hooks.finish_delivery(
        held[1].delivery.id,
        held[1].token,
        delivered=False,
        response_status=410,
        error="gone",
        retry_at=None,
    )
    # held[2] stays running
    assert await hooks.prune_deliveries(older_than=time.time() - 3600) == 0
    assert await hooks.prune_deliveries(older_than=time.time() + 1, limit=1) == 1
    assert await hooks.prune_deliveries(older_than=time.time() + 1) == 1
    (left,) = await hooks.list_deliveries(ep.id, limit=10)
    assert (left.id, left.status) == (held[2].delivery.id, DeliveryStatus.RUNNING)
    await deliver(hooks, held[2])


async def test_concurrent_claimers_never_share_a_delivery(hooks: Backend) -> None:
    await hooks.create_webhook(endpoint(events=("job.cancelled",)))
    for _ in range(12):
        await hooks.cancel((await add(hooks, book("alice", 1))).id)
    batches = await asyncio.gather(
        *(hooks.claim_deliveries(worker_id=f"w{i}", limit=3, lease_s=LEASE_S) for i in range(6))
    )
    ids = [h.delivery.id for batch in batches for h in batch]
    assert len(ids) == len(set(ids)) == 12


async def test_deleting_an_endpoint_deletes_its_deliveries(hooks: Backend) -> None:
    ep = endpoint()
    await hooks.create_webhook(ep)
    job = await add(hooks, book("alice", 1))
    await hooks.cancel(job.id)
    assert len(await hooks.list_deliveries(ep.id, limit=10)) == 1
    assert await hooks.delete_webhook(ep.id)
    assert await hooks.list_deliveries(ep.id, limit=10) == []
    assert await claim_all(hooks) == []
