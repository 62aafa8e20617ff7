"""Per-user limits through the API, the same on every store."""

from __future__ import annotations

import asyncio

import httpx

from tests.api.conftest import ALICE, book
from ttsqueue.settings import Settings


async def test_thirty_concurrent_submissions_leave_exactly_the_cap(
    store_client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.max_active_jobs = 20
    answers = await asyncio.gather(
        *(store_client.post("/v1/jobs", json=book(1), headers=ALICE) for _ in range(30))
    )
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] * 20 + [429] * 10, codes
    for r in answers:
        if r.status_code == 429:
            assert "max_active_jobs" in r.json()["detail"][0]["msg"]
    stats = (await store_client.get("/v1/stats", headers=ALICE)).json()
    unfinished = sum(n for s, n in stats["jobs"].items() if s in ("queued", "scheduled"))
    assert unfinished == 20
