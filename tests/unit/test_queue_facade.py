from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ttsqueue.backends import open_backend
from ttsqueue.backends.base import BackendError, StoreUnavailable
from ttsqueue.models import Chapter, User, Voice
from ttsqueue.queue import BookRequest, LimitExceeded, Queue, QueueError
from ttsqueue.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
ALICE = User("alice")


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[Queue]:
    settings = Settings(database_url="memory://", data_dir=tmp_path)
    async with open_backend(settings.database_url) as backend:
        yield Queue(backend, settings)


def book(**kw: object) -> BookRequest:
    return BookRequest(chapters=[Chapter("One", "Some text.")], **kw)  # type: ignore[arg-type]


async def test_a_cover_is_stored_before_the_job_exists(queue: Queue) -> None:
    job = (await queue.add_job(ALICE, book(cover=PNG))).job
    assert job.metadata["cover_path"] == f"{job.id}/cover.png"
    assert queue.storage.resolve(job.metadata["cover_path"]).read_bytes() == PNG


async def test_a_repeated_idempotency_key_keeps_only_the_first_cover(queue: Queue) -> None:
    first = (await queue.add_job(ALICE, book(cover=PNG, idempotency_key="k"))).job
    again = await queue.add_job(ALICE, book(cover=PNG, idempotency_key="k"))
    assert not again.created and again.job.id == first.id
    assert sorted(p.name for p in queue.storage.root.iterdir()) == [first.id]


@pytest.mark.parametrize(
    ("refusal", "cover_kept"),
    [
        (BackendError("the store refused the job"), False),
        (LimitExceeded("chapters", "too many unfinished jobs"), False),
        (StoreUnavailable("connection dropped: the job may exist"), True),
    ],
)
async def test_a_cover_goes_when_the_store_refuses_its_job(
    queue: Queue, monkeypatch: pytest.MonkeyPatch, refusal: Exception, cover_kept: bool
) -> None:
    async def enqueue(specs: object) -> None:
        raise refusal

    monkeypatch.setattr(queue.backend, "enqueue", enqueue)
    for add in (
        lambda: queue.add_job(ALICE, book(cover=PNG)),
        lambda: queue.add_jobs(ALICE, [book(cover=PNG), book()]),
    ):
        with pytest.raises(type(refusal)):
            await add()
    covers = list(queue.storage.root.glob("*/cover.png"))
    assert len(covers) == (2 if cover_kept else 0)  # unknown outcome: left to gc


@pytest.mark.parametrize("cover", [b"GIF89a not allowed", b"\xff\xd8\xff" + b"\x00" * (11 << 20)])
async def test_a_cover_must_be_a_reasonable_jpeg_or_png(queue: Queue, cover: bytes) -> None:
    with pytest.raises(QueueError) as caught:
        await queue.add_job(ALICE, book(cover=cover))
    assert caught.value.field == "cover"
    assert not queue.storage.root.exists() or not any(queue.storage.root.iterdir())


@pytest.mark.parametrize("speed", [0.1, 5.0, float("nan")])
async def test_speed_outside_the_engines_range_names_the_field(queue: Queue, speed: float) -> None:
    with pytest.raises(QueueError) as caught:
        await queue.add_job(ALICE, book(voice=Voice(speed=speed)))
    assert caught.value.field == "voice.speed"


async def test_a_batch_past_the_cap_adds_nothing_and_keeps_no_cover(queue: Queue) -> None:
    queue.settings.max_active_jobs = 2
    await queue.add_job(ALICE, book())
    with pytest.raises(LimitExceeded) as caught:
        await queue.add_jobs(ALICE, [book(cover=PNG), book(cover=PNG)])
    assert caught.value.status_code == 429 and caught.value.field == "max_active_jobs"
    assert await queue.active_jobs(ALICE) == 1
    assert not queue.storage.root.exists() or not any(queue.storage.root.iterdir())
    assert len(await queue.add_jobs(ALICE, [book()])) == 1
    with pytest.raises(LimitExceeded):
        await queue.check_room(ALICE)
    await queue.check_room(User("root", admin=True))
    assert len(await queue.add_jobs(User("alice", admin=True), [book(), book()])) == 2


async def test_a_job_refused_by_the_store_keeps_no_cover(queue: Queue) -> None:
    """The early check passes (a stale count), the store refuses: no cover is left."""
    queue.settings.max_active_jobs = 1
    await queue.add_job(ALICE, book())

    async def room(user: User) -> None:
        return None

    queue.check_room = room  # type: ignore[method-assign]
    with pytest.raises(LimitExceeded):
        await queue.add_job(ALICE, book(cover=PNG))
    jobs = [p.name for p in queue.storage.root.iterdir()] if queue.storage.root.exists() else []
    assert jobs == []


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (book(title="a\x00"), "title"),
        (book(metadata={"job_type": "\ud800"}), "metadata.job_type"),
        (book(metadata={"k\x07": "v"}), "metadata.k\x07"),
        (BookRequest(chapters=[Chapter("One", "ok"), Chapter("Two\t", "ok")]), "chapters.1.title"),
        (BookRequest(chapters=[Chapter("One", "Line\x00")]), "chapters.0.text"),
        (book(voice=Voice(name="en\x1b")), "voice.name"),
        (book(run_at=1e20), "run_at"),
    ],
)
async def test_every_string_of_a_book_follows_the_rule(
    queue: Queue, request_: BookRequest, field: str
) -> None:
    with pytest.raises(QueueError) as caught:
        await queue.add_job(ALICE, request_)
    assert caught.value.field == field
    assert await queue.active_jobs(ALICE) == 0


@pytest.mark.parametrize("user_id", ["", "alice\x00bob", "alice\nbob", "tab\there", "x" * 201])
async def test_a_user_id_must_be_printable_at_every_entry_point(queue: Queue, user_id: str) -> None:
    from ttsqueue.api.keys import issue_api_key

    with pytest.raises(QueueError) as caught:
        await queue.add_job(User(user_id), book())
    assert caught.value.field == "user"
    with pytest.raises(QueueError):
        await queue.add_jobs(User(user_id), [book()])
    with pytest.raises(ValueError, match="printable"):
        await issue_api_key(queue.backend, User(user_id))
    assert (await queue.backend.stats()).users == 0
