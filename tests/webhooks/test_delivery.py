"""The worker's delivery loop against a real HTTP receiver: signatures, retries,
redirects, timeouts, body limits, rotation, and the address check at connect time."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conformance.helpers import add, book, finish, run_job
from tests.stores import STORES
from tests.webhooks.receiver import Receiver
from ttsqueue.backends import Backend, BackendOptions
from ttsqueue.client.webhooks import WebhookVerificationError, verify_webhook
from ttsqueue.settings import Settings
from ttsqueue.webhooks.deliver import DeliveryLoop, next_try
from ttsqueue.webhooks.model import (
    DeliveryStatus,
    WebhookEndpoint,
    new_endpoint_id,
    new_secret,
)


def settings(tmp_path: Path, **kw: object) -> Settings:
    values: dict[str, object] = {
        "database_url": "memory://",
        "data_dir": tmp_path,
        "webhooks_allow_private": True,
        "webhooks_retry_base_s": 0.05,
        "webhooks_retry_max_s": 0.2,
        "webhooks_timeout_s": 5.0,
    }
    values.update(kw)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg,arg-type]


@pytest.fixture(params=STORES)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    module = importlib.import_module(f"tests.stores.{request.param}")
    async with module.store(tmp_path, BackendOptions(event_poll_s=0.05)) as b:
        yield b


async def register(backend: Backend, url: str, *events: str) -> WebhookEndpoint:
    ep = WebhookEndpoint(
        id=new_endpoint_id(),
        user_id="alice",
        url=url,
        events=events or ("job.completed",),
        secret=new_secret(),
        created_at=time.time(),
        progress_interval_s=0.0,
    )
    await backend.create_webhook(ep)
    return ep


async def deliver_until(loop: DeliveryLoop, check: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            await loop.deliver_once(client)
            if check():  # type: ignore[operator]
                return
            await asyncio.sleep(0.02)
    raise AssertionError("timed out delivering")


async def test_a_finished_book_is_posted_signed(
    backend: Backend, receiver: Receiver, tmp_path: Path
) -> None:
    ep = await register(backend, receiver.url)
    job = await run_job(backend, (await add(backend, book("alice", 2))).id)
    loop = DeliveryLoop(backend, settings(tmp_path), worker_id="w1")
    await deliver_until(loop, lambda: loop.delivered == 1)

    (got,) = receiver.received
    assert got.path == "/hooks/tts"
    assert got.headers["content-type"] == "application/json"
    body = verify_webhook(got.body, got.headers, ep.secret)
    assert body["type"] == "job.completed"
    assert body["data"]["job_id"] == job.id
    assert body["data"]["user_id"] == "alice"
    assert body["timestamp"].endswith("Z")
    assert got.headers["webhook-id"].startswith("msg_")
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    with pytest.raises(WebhookVerificationError):
        verify_webhook(got.body, got.headers, new_secret())
    with pytest.raises(WebhookVerificationError):
        verify_webhook(got.body.replace(b"alice", b"mallory"), got.headers, ep.secret)
    (logged,) = await backend.list_deliveries(ep.id, limit=10)
    assert (logged.status, logged.attempts, logged.response_status) == (
        DeliveryStatus.DELIVERED,
        1,
        204,
    )


async def test_a_receiver_failing_twice_gets_it_on_the_third_try(
    backend: Backend, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.script = ["fail", "fail"]
    ep = await register(backend, receiver.url)
    await run_job(backend, (await add(backend, book("alice", 1))).id)
    slower = settings(tmp_path, webhooks_retry_base_s=0.5, webhooks_retry_max_s=5)
    loop = DeliveryLoop(backend, slower, worker_id="w1")

    async with httpx.AsyncClient() as client:
        before = time.time()
        await loop.deliver_once(client)
        (first,) = await backend.list_deliveries(ep.id, limit=10)
        assert (first.status, first.attempts, first.response_status) == (
            DeliveryStatus.PENDING,
            1,
            500,
        )
        assert first.error == "HTTP 500: receiver is down"
        assert first.run_at >= before + 0.25  # backed off (0.25-0.5 s), not hammered
    await deliver_until(loop, lambda: loop.delivered == 1)

    got = receiver.received
    assert len(got) == 3
    assert len({r.headers["webhook-id"] for r in got}) == 1  # one message, three attempts
    assert len({r.body for r in got}) == 1
    for r in got:
        verify_webhook(r.body, r.headers, ep.secret)
    (logged,) = await backend.list_deliveries(ep.id, limit=10)
    assert (logged.status, logged.attempts, logged.response_status, logged.error) == (
        DeliveryStatus.DELIVERED,
        3,
        204,
        None,
    )


async def test_retries_stop_after_the_retry_window(
    backend: Backend, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.script = ["fail"] * 100
    ep = await register(backend, receiver.url)
    await run_job(backend, (await add(backend, book("alice", 1))).id)
    loop = DeliveryLoop(backend, settings(tmp_path, webhooks_retry_for_s=1.0), worker_id="w1")
    (d,) = await backend.list_deliveries(ep.id, limit=10)
    await backend.redeliver(ep.id, d.id)  # the one-second window starts now
    started = time.monotonic()

    async def given_up() -> bool:
        (d,) = await backend.list_deliveries(ep.id, limit=10)
        return d.status is DeliveryStatus.FAILED

    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while not await given_up():
            assert time.monotonic() < deadline
            await loop.deliver_once(client)
            await asyncio.sleep(0.02)
    tries = len(receiver.received)
    assert 2 <= tries < 40  # tried again and again (backoff of at most 0.2 s) ...
    assert time.monotonic() - started >= 0.75  # ... until about the end of the window
    await asyncio.sleep(0.3)
    async with httpx.AsyncClient() as client:
        assert await loop.deliver_once(client) == 0
    # a redeliver call queues it again, with a fresh window
    (d,) = await backend.list_deliveries(ep.id, limit=10)
    receiver.script = []
    receiver.received.clear()
    await backend.redeliver(ep.id, d.id)
    await deliver_until(loop, lambda: len(receiver.received) == 1)
    (d,) = await backend.list_deliveries(ep.id, limit=10)
    assert (d.status, d.attempts) == (DeliveryStatus.DELIVERED, 1)


async def test_redirects_are_not_followed_and_big_answers_not_read(
    backend: Backend, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.script = ["redirect", "big"]
    ep = await register(backend, receiver.url)
    await run_job(backend, (await add(backend, book("alice", 1))).id)
    loop = DeliveryLoop(backend, settings(tmp_path), worker_id="w1")
    async with httpx.AsyncClient() as client:
        await loop.deliver_once(client)
        (d,) = await backend.list_deliveries(ep.id, limit=10)
        assert (d.status, d.response_status) == (DeliveryStatus.PENDING, 302)
        assert d.error == "redirect to '/elsewhere' not followed"
        assert [r.path for r in receiver.received] == ["/hooks/tts"]
        await asyncio.sleep(0.25)
        started = time.monotonic()
        await loop.deliver_once(client)
        assert time.monotonic() - started < 4
    (d,) = await backend.list_deliveries(ep.id, limit=10)
    assert d.response_status == 500
    assert d.error is not None and len(d.error) <= 500


async def test_a_receiver_that_never_answers_times_out(
    backend: Backend, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.script = ["hang"]
    ep = await register(backend, receiver.url)
    await run_job(backend, (await add(backend, book("alice", 1))).id)
    loop = DeliveryLoop(backend, settings(tmp_path, webhooks_timeout_s=0.5), worker_id="w1")
    started = time.monotonic()
    async with httpx.AsyncClient() as client:
        await loop.deliver_once(client)
    assert time.monotonic() - started < 5
    (d,) = await backend.list_deliveries(ep.id, limit=10)
    assert (d.status, d.response_status, d.error) == (
        DeliveryStatus.PENDING,
        None,
        "no answer within 0.5 s",
    )


async def test_while_rotating_both_secrets_sign(
    backend: Backend, receiver: Receiver, tmp_path: Path
) -> None:
    ep = await register(backend, receiver.url)
    fresh = new_secret()
    await backend.rotate_webhook_secret(ep.id, secret=fresh, previous_until=time.time() + 60)
    await run_job(backend, (await add(backend, book("alice", 1))).id)
    loop = DeliveryLoop(backend, settings(tmp_path), worker_id="w1")
    await deliver_until(loop, lambda: loop.delivered == 1)
    (got,) = receiver.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    verify_webhook(got.body, got.headers, ep.secret)  # the receiver not switched yet
    verify_webhook(got.body, got.headers, fresh)  # and the one that has


async def test_private_targets_are_refused_at_connect_time(
    backend: Backend, receiver: Receiver, tmp_path: Path
) -> None:
    """An endpoint that passed the check (or whose name now resolves elsewhere) is
    still refused on the address connected to: nothing reaches the receiver."""
    ep = await register(backend, receiver.url.replace("127.0.0.1", "localhost"))
    await run_job(backend, (await add(backend, book("alice", 1))).id)
    loop = DeliveryLoop(backend, settings(tmp_path, webhooks_allow_private=False), worker_id="w1")
    async with httpx.AsyncClient() as client:
        await loop.deliver_once(client)
    (d,) = await backend.list_deliveries(ep.id, limit=10)
    assert d.status is DeliveryStatus.PENDING
    assert d.error is not None and "loopback" in d.error and "refused" in d.error
    assert receiver.received == []


async def test_progress_and_order_per_job(
    backend: Backend, receiver: Receiver, tmp_path: Path
) -> None:
    ep = await register(backend, receiver.url, "job.progress", "job.completed")
    job = await add(backend, book("alice", 1))
    (task,) = await backend.claim(worker_id="w", limit=1, lease_s=30)
    await backend.heartbeat([task.lease], lease_s=30, progress={task.lease.task_id: 0.5})
    await finish(backend, task)
    await run_job(backend, job.id)
    receiver.script = ["fail"]  # the progress fails once: the completion waits behind it
    loop = DeliveryLoop(backend, settings(tmp_path), worker_id="w1")
    await deliver_until(loop, lambda: loop.delivered == 2)
    types = [json.loads(r.body)["type"] for r in receiver.received]
    assert types == ["job.progress", "job.progress", "job.completed"]
    assert len(await backend.list_deliveries(ep.id, limit=10)) == 2


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    import random

    rng = random.Random(7)
    waits = [next_try(n, base_s=5, max_s=3600, rng=rng) for n in range(1, 12)]
    for n, wait in enumerate(waits, start=1):
        ceiling = min(3600, 5 * 2 ** (n - 1))
        assert ceiling / 2 <= wait <= ceiling
    assert len({round(w, 6) for w in waits[-3:]}) == 3  # jittered, not one value
