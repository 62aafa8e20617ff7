"""Webhooks from real worker processes: a finished book is posted, signed, to a real
receiver, and a worker killed with SIGKILL in the middle of a delivery loses nothing."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from tests.acceptance.conftest import Cli
from tests.acceptance.test_workers import read_job, write_book
from tests.webhooks.receiver import Receiver
from ttsqueue.backends import open_backend
from ttsqueue.cli import CLI_USER
from ttsqueue.client.webhooks import verify_webhook
from ttsqueue.models import JobStatus
from ttsqueue.webhooks.model import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    new_endpoint_id,
    new_secret,
)

pytestmark = pytest.mark.slow

TIMEOUT_S = 4.0  # one attempt's deadline; the delivery's lease is a few seconds longer


def register(cli: Cli, url: str) -> WebhookEndpoint:
    ep = WebhookEndpoint(
        id=new_endpoint_id(),
        user_id=CLI_USER,
        url=url,
        events=("job.completed",),
        secret=new_secret(),
        created_at=time.time(),
        progress_interval_s=10.0,
    )

    async def run() -> None:
        async with open_backend(cli.env["TTSQUEUE_DATABASE_URL"]) as backend:
            await backend.create_webhook(ep)

    asyncio.run(run())
    return ep


def deliveries(cli: Cli, endpoint_id: str) -> list[WebhookDelivery]:
    async def run() -> list[WebhookDelivery]:
        async with open_backend(cli.env["TTSQUEUE_DATABASE_URL"]) as backend:
            return await backend.list_deliveries(endpoint_id, limit=10)

    return asyncio.run(run())


def test_a_worker_killed_mid_delivery_loses_nothing(cli: Cli, tmp_path: Path) -> None:
    receiver = Receiver(script=["hang"]).start()
    try:
        cli.extra_env.update(
            {
                "TTSQUEUE_WEBHOOKS_ALLOW_PRIVATE": "true",
                "TTSQUEUE_WEBHOOKS_TIMEOUT_S": str(TIMEOUT_S),
                "TTSQUEUE_WEBHOOKS_POLL_S": "0.2",
            }
        )
        ep = register(cli, receiver.url)
        write_book(tmp_path / "book.md", chapters=2, paragraphs=1)
        job_id = cli.run("submit", "book.md", "--format", "mp3").strip()

        victim = cli.start("worker", "--concurrency", "2")
        (first,) = receiver.wait_for(1, 120)  # the book is read; its webhook is in flight
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(10) == -signal.SIGKILL
        assert read_job(cli, job_id).status is JobStatus.COMPLETED
        (held,) = deliveries(cli, ep.id)
        assert (held.status, held.attempts) == (DeliveryStatus.RUNNING, 1)

        survivor = cli.start("worker", "--concurrency", "1")
        got = receiver.wait_for(2, 60)
        second = got[1]
        # the same message, correctly signed, about the finished book
        assert second.headers["webhook-id"] == first.headers["webhook-id"]
        assert second.body == first.body
        body = verify_webhook(second.body, second.headers, ep.secret)
        assert body["type"] == "job.completed"
        assert body["data"]["job_id"] == job_id
        assert body["data"]["result"]["path"] == read_job(cli, job_id).result["path"]  # type: ignore[index]

        def delivered() -> bool:
            found = deliveries(cli, ep.id)
            return bool(found) and found[0].status is DeliveryStatus.DELIVERED

        deadline = time.monotonic() + 30
        while not delivered():
            assert time.monotonic() < deadline, "the delivery was never recorded"
            time.sleep(0.1)
        (done,) = deliveries(cli, ep.id)
        assert (done.attempts, done.response_status) == (2, 204)
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(30) == 0, cli.log_of(survivor)
        assert len(receiver.received) == 2
    finally:
        receiver.stop()
