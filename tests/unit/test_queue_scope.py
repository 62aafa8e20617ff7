"""The facade scopes every call to its caller: someone else's job is "no job" (the API's
404) for every verb, an admin sees and changes all, listings and counts hold only the
caller's jobs, and a page is between 1 and MAX_PAGE jobs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ttsqueue.backends import open_backend
from ttsqueue.backends.base import Completion
from ttsqueue.models import Chapter, Event, JobStatus, User
from ttsqueue.queue import (
    MAX_PAGE,
    BookRequest,
    Conflict,
    NotFound,
    Queue,
    QueueError,
)
from ttsqueue.settings import Settings

ALICE = User("alice")
BOB = User("bob")
ADMIN = User("root", admin=True)


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[Queue]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="memory://",
        data_dir=tmp_path,
        retention_days=1,
    )
    async with open_backend(settings.database_url) as backend:
        yield Queue(backend, settings)


def book(title: str = "B") -> BookRequest:
    return BookRequest(chapters=[Chapter("One", "Some text.")], title=title)


async def test_someone_elses_job_is_no_job_for_every_verb(queue: Queue) -> None:
    job = (await queue.add_job(ALICE, book())).job
    for call in (
        queue.get_job(BOB, job.id),
        queue.events(BOB, job.id),
        queue.cancel_job(BOB, job.id),
        queue.retry_job(BOB, job.id),
        queue.set_priority(ALICE, job.id, 50),  # only admins change priorities
    ):
        with pytest.raises(NotFound) as caught:
            await call
        assert (caught.value.field, caught.value.message) == ("job_id", f"no job {job.id}")
    assert (await queue.get_job(ALICE, job.id)).status is JobStatus.QUEUED  # untouched
    assert [e.seq for e in await queue.events(ALICE, job.id)] == [1]
    assert (await queue.get_job(ADMIN, job.id)).id == job.id
    assert (await queue.set_priority(ADMIN, job.id, 50)).priority == 50
    assert (await queue.cancel_job(ADMIN, job.id)).status is JobStatus.CANCELLED
    assert (await queue.retry_job(ALICE, job.id)).status is JobStatus.QUEUED


async def test_a_missing_job_is_no_job(queue: Queue) -> None:
    missing = "01890000-0000-7000-8000-000000000000"
    for call in (
        queue.cancel_job(ADMIN, missing),
        queue.retry_job(ADMIN, missing),
        queue.set_priority(ADMIN, missing, 1),
        queue.get_job(ADMIN, missing),
    ):
        with pytest.raises(NotFound) as caught:
            await call
        assert (caught.value.field, caught.value.message) == ("job_id", f"no job {missing}")


async def test_transitions_that_do_not_apply_are_conflicts(queue: Queue) -> None:
    job = (await queue.add_job(ALICE, book())).job
    with pytest.raises(Conflict) as caught:
        await queue.retry_job(ALICE, job.id)
    assert caught.value.field == "job_id"
    assert caught.value.message == ("only failed or cancelled jobs can be retried (job is queued)")
    await queue.cancel_job(ALICE, job.id)
    for call in (queue.cancel_job(ALICE, job.id), queue.set_priority(ADMIN, job.id, 3)):
        with pytest.raises(Conflict) as conflict:
            await call
        assert (conflict.value.field, conflict.value.message) == (
            "job_id",
            "job is already cancelled",
        )


async def test_listings_and_counts_hold_only_the_callers_jobs(queue: Queue) -> None:
    mine = [(await queue.add_job(ALICE, book(f"a{i}"))).job for i in range(3)]
    theirs = (await queue.add_job(BOB, book("b"))).job
    await queue.cancel_job(ALICE, mine[0].id)
    page = await queue.user_jobs(ALICE)
    assert [j.id for j in page.items] == [j.id for j in reversed(mine)]
    assert [j.id for j in (await queue.user_jobs(ALICE, all_users=True)).items] == [
        j.id for j in reversed(mine)
    ]  # only admins may ask for everyone's
    assert [j.id for j in (await queue.user_jobs(ALICE, owner="bob")).items] == [
        j.id for j in reversed(mine)
    ]
    everyone = await queue.user_jobs(ADMIN, all_users=True)
    assert {j.id for j in everyone.items} == {j.id for j in [*mine, theirs]}
    assert [j.id for j in (await queue.user_jobs(ADMIN, owner="bob")).items] == [theirs.id]
    assert [j.id for j in (await queue.user_jobs(ADMIN)).items] == []  # the admin's own
    cancelled = await queue.user_jobs(ALICE, status=JobStatus.CANCELLED)
    assert [j.id for j in cancelled.items] == [mine[0].id]
    assert (await queue.stats(ALICE)).jobs.get(JobStatus.QUEUED, 0) == 2
    assert (await queue.stats(BOB)).jobs.get(JobStatus.QUEUED, 0) == 1
    assert (await queue.stats(ADMIN)).jobs.get(JobStatus.QUEUED, 0) == 3
    assert await queue.active_jobs(ALICE) == 2
    assert await queue.active_jobs(ADMIN) == 0


async def test_pages_are_one_to_max_page_jobs_and_follow_the_cursor(queue: Queue) -> None:
    ids = [(await queue.add_job(ALICE, book(f"a{i}"))).job.id for i in range(5)]
    first = await queue.user_jobs(ALICE, limit=0)
    assert len(first.items) == 1 and first.items[0].id == ids[-1]
    second = await queue.user_jobs(ALICE, limit=2, cursor=first.next_cursor)
    assert [j.id for j in second.items] == [ids[3], ids[2]]
    everything = await queue.user_jobs(ALICE, limit=MAX_PAGE + 100)
    assert len(everything.items) == 5 and everything.next_cursor is None


async def test_subscriptions_are_scoped_to_the_caller(queue: Queue) -> None:
    got: dict[str, list[Event]] = {"alice": [], "bob": [], "root": [], "job": []}

    async def follow(name: str, user: User, job_id: str | None = None) -> None:
        async for event in queue.subscribe(user, job_id=job_id):
            got[name].append(event)

    alice_job = (await queue.add_job(ALICE, book())).job
    tasks = [
        asyncio.create_task(follow("alice", ALICE)),
        asyncio.create_task(follow("bob", BOB)),
        asyncio.create_task(follow("root", ADMIN)),
        asyncio.create_task(follow("job", ALICE, alice_job.id)),
    ]
    await asyncio.sleep(0.2)
    other = (await queue.add_job(ALICE, book())).job
    bobs = (await queue.add_job(BOB, book())).job
    await queue.cancel_job(ALICE, alice_job.id)
    deadline = time.monotonic() + 20
    while len(got["root"]) < 3 or not got["job"]:
        assert time.monotonic() < deadline, got
        await asyncio.sleep(0.05)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert {e.job_id for e in got["alice"]} == {other.id, alice_job.id}
    assert {e.job_id for e in got["bob"]} == {bobs.id}
    assert {e.job_id for e in got["root"]} == {other.id, bobs.id, alice_job.id}
    assert {e.job_id for e in got["job"]} == {alice_job.id}


async def test_prune_removes_finished_jobs_past_retention(queue: Queue) -> None:
    old = (await queue.add_job(ALICE, book())).job
    fresh = (await queue.add_job(BOB, book())).job
    backend = queue.backend
    while (await queue.get_job(ALICE, old.id)).status is not JobStatus.COMPLETED:
        for task in await backend.claim(worker_id="w", limit=10, lease_s=60):
            if task.job_id == old.id:
                assert await backend.complete([Completion(task.lease, {"path": "x"})]) == [True]
            else:
                await backend.release([task.lease])
    assert await queue.prune() == 0  # finished just now: within retention
    queue.settings.retention_days = 0
    await asyncio.sleep(0.01)
    assert await queue.prune() == 1
    with pytest.raises(NotFound):
        await queue.get_job(ALICE, old.id)
    assert (await queue.get_job(BOB, fresh.id)).id == fresh.id  # not finished: kept


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff" + b"\x00" * 32


async def test_a_batch_is_validated_whole_before_anything_is_enqueued(queue: Queue) -> None:
    good = BookRequest(chapters=[Chapter("One", "Text.")], cover=PNG)
    bad = BookRequest(chapters=[Chapter("One", "  ")])
    with pytest.raises(QueueError) as caught:
        await queue.add_jobs(ALICE, [good, bad])
    assert caught.value.field == "chapters.0.text"
    assert not (await queue.user_jobs(ALICE)).items
    assert not queue.storage.root.exists() or not any(queue.storage.root.iterdir())


async def test_a_batch_enqueues_every_book_for_its_caller_with_covers(
    queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    books = [
        BookRequest(chapters=[Chapter("One", "Text.")], cover=PNG, idempotency_key="a"),
        BookRequest(chapters=[Chapter("One", "Text.")], cover=JPEG),
        BookRequest(chapters=[Chapter("One", "Text."), Chapter("Two", "More.")]),
    ]
    with caplog.at_level(logging.INFO, logger="ttsqueue.queue"):
        results = await queue.add_jobs(ALICE, books)
    assert [r.created for r in results] == [True, True, True]
    assert {r.job.user_id for r in results} == {"alice"}
    assert [r.job.total_chapters for r in results] == [1, 1, 2]
    first, second, _ = (r.job for r in results)
    assert queue.storage.resolve(first.metadata["cover_path"]).read_bytes() == PNG
    assert first.metadata["cover_path"] == f"{first.id}/cover.png"
    assert second.metadata["cover_path"] == f"{second.id}/cover.jpg"
    assert "enqueued 3 jobs for alice" in caplog.text
    again = await queue.add_jobs(ALICE, books[:1])  # the same key: the first job again
    assert not again[0].created and again[0].job.id == first.id
    assert sorted(p.name for p in queue.storage.root.iterdir()) == sorted([first.id, second.id])


async def test_each_submission_is_logged_once_saying_what_happened(
    queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ttsqueue.queue"):
        job = (await queue.add_job(ALICE, book())).job
        await queue.add_job(ALICE, BookRequest(chapters=[Chapter("a", "b")], idempotency_key="k"))
        again = (
            await queue.add_job(
                ALICE, BookRequest(chapters=[Chapter("a", "b")], idempotency_key="k")
            )
        ).job
    lines = [r.getMessage() for r in caplog.records if r.name == "ttsqueue.queue"]
    assert lines[0] == f"job {job.id} enqueued for alice: 1 chapters, priority 5"
    assert lines[-1] == f"job {again.id} matched idempotency key for alice: 1 chapters, priority 5"
    assert len(lines) == 3


async def test_a_store_without_transactions_refuses_a_connection(queue: Queue) -> None:
    with pytest.raises(QueueError) as caught:
        await queue.add_job(ALICE, book(), connection=object())
    assert (caught.value.field, caught.value.message) == (
        "connection",
        "this store cannot enqueue inside a transaction",
    )
    assert not (await queue.user_jobs(ALICE)).items
