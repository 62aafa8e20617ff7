from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ttsqueue.backends import open_backend
from ttsqueue.models import Chapter, User, Voice
from ttsqueue.queue import BookRequest, Queue, QueueError
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
