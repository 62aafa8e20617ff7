"""/metrics: the Prometheus text parses, and the counts follow what the queue does."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import ADMIN, ALICE, submit
from ttsqueue.backends import Backend
from ttsqueue.settings import Settings
from ttsqueue.worker import Worker


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(
    m: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return m.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_follow_enqueue_cancel_and_completion(
    client: httpx.AsyncClient, backend: Backend, settings: Settings
) -> None:
    before = await scrape(client)
    assert value(before, "ttsqueue_jobs", status="queued") == 0
    job_id = await submit(client, ALICE, n=2, output_format="wav")
    doomed = await submit(client, ALICE, n=1, output_format="wav")
    assert (await client.delete(f"/v1/jobs/{doomed}", headers=ALICE)).status_code == 200

    mid = await scrape(client)
    assert value(mid, "ttsqueue_jobs", status="queued") == 1
    assert value(mid, "ttsqueue_jobs", status="cancelled") == 1
    assert value(mid, "ttsqueue_tasks", status="pending") == 2
    enq = "ttsqueue_jobs_enqueued_total"
    assert value(mid, enq, engine="espeak") - value(before, enq, engine="espeak") == 2
    cancelled = "ttsqueue_jobs_cancelled_total"
    assert value(mid, cancelled) - value(before, cancelled) == 1

    settings.heartbeat_s = 0.2
    with ThreadPoolExecutor(2) as pool:
        worker = Worker(backend, settings, concurrency=2, pool=pool, worker_id="metrics-w")
        running = asyncio.create_task(worker.run())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = await backend.get(job_id)
            assert job is not None
            if job.status.terminal:
                break
            await asyncio.sleep(0.1)
        worker.stop()
        await running
    assert job.status.value == "completed", job.error
    assert isinstance(job.result, dict) and job.result["characters"] > 0

    after = await scrape(client)
    assert value(after, "ttsqueue_jobs", status="completed") == 1
    assert value(after, "ttsqueue_jobs", status="queued") == 0

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(mid, name, **labels)

    assert delta("ttsqueue_tasks_claimed_total", kind="synthesize") == 2
    assert delta("ttsqueue_tasks_claimed_total", kind="assemble") == 1
    assert delta("ttsqueue_tasks_completed_total", kind="synthesize", engine="espeak") == 2
    assert delta("ttsqueue_jobs_completed_total", engine="espeak") == 1
    assert (
        delta("ttsqueue_characters_synthesized_total", engine="espeak") == job.result["characters"]
    )
    assert delta("ttsqueue_audio_seconds_produced_total", engine="espeak") > 0
    waits = "ttsqueue_job_wait_seconds_count"
    assert delta(waits, engine="espeak", tier="free") == 1
    assert delta("ttsqueue_job_run_seconds_count", engine="espeak", tier="free") == 1
    assert value(after, "ttsqueue_sla_wait_target_seconds", tier="premium") == 60


async def test_metrics_show_live_workers(client: httpx.AsyncClient, backend: Backend) -> None:
    from ttsqueue.backends.base import WorkerInfo

    info = WorkerInfo("w", "h", 1, "0", 4, ("a.0",), time.time())
    await backend.register_worker(info)
    m = await scrape(client)
    assert value(m, "ttsqueue_workers") == 1
    assert value(m, "ttsqueue_worker_slots") == 4
    assert value(m, "ttsqueue_worker_tasks_held") == 1
    assert (await client.get("/v1/admin/workers", headers=ADMIN)).json()[0]["id"] == "w"
