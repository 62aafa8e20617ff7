"""add_jobs: many books in one request, from the async client and the blocking one."""

from __future__ import annotations

import pytest

from tests.clients.conftest import LiveServer
from ttsqueue.client import AsyncClient, ChapterIn, ClientError, JobCreate


def _books(n: int) -> list[dict[str, object]]:
    return [
        {"title": f"Vol {i}", "idempotency_key": f"vol-{i}", "chapters": [{"text": f"Part {i}."}]}
        for i in range(n)
    ]


async def test_async_add_jobs_all_or_nothing_and_per_item(alice: AsyncClient) -> None:
    model = JobCreate(
        title="Typed", idempotency_key="typed", chapters=[ChapterIn(title="1", text="One.")]
    )
    batch = await alice.add_jobs([*_books(2), model])
    assert batch.created == 3
    assert [i.status for i in batch.items] == [201, 201, 201]
    assert [i.job.title for i in batch.items if i.job] == ["Vol 0", "Vol 1", "Typed"]

    again = await alice.add_jobs(_books(2))
    assert [i.status for i in again.items] == [200, 200]
    assert again.items[0].job and batch.items[0].job
    assert again.items[0].job.id == batch.items[0].job.id

    bad = [*_books(1), {"idempotency_key": "x", "chapters": [{"text": "x" * 6000}]}]
    with pytest.raises(ClientError) as refused:
        await alice.add_jobs(bad)
    assert refused.value.status_code == 422
    assert refused.value.detail[0]["loc"] == ["body", "jobs", 1, "chapters", 0, "text"]

    mixed = await alice.add_jobs(bad, atomic=False)
    assert [i.status for i in mixed.items] == [200, 422]
    assert mixed.items[1].error is not None and mixed.items[1].job is None


def test_blocking_add_jobs(live_server: LiveServer) -> None:
    with live_server.client("carol") as carol:
        batch = carol.add_jobs(_books(3))
        assert batch.created == 3
        ids = {i.job.id for i in batch.items if i.job}
        listed = {j.id for j in carol.get_user_jobs(limit=10).items}
        assert listed == ids
