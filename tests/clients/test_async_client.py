"""AsyncClient against the in-process app; a test worker finishes the jobs."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.api.conftest import run_job
from tests.clients.conftest import BASE, async_client
from ttsqueue.backends import Backend
from ttsqueue.client import (
    AsyncClient,
    ClientError,
    EventPublic,
    JobCreate,
    JobStatus,
)
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage

BOOK = {
    "title": "The Test Book",
    "author": "A. Writer",
    "chapters": [{"title": "One", "text": "First part."}, {"title": "Two", "text": "Second."}],
}


async def test_submit_follow_and_download(
    alice: AsyncClient, backend: Backend, storage: Storage, tmp_path: Path
) -> None:
    job = await alice.add_job(BOOK)
    assert job.user_id == "alice"
    assert job.status is JobStatus.QUEUED
    assert [c.title for c in job.chapters] == ["One", "Two"]

    seen: list[EventPublic] = []
    follow = asyncio.create_task(alice.wait_for_job(job.id, on_event=seen.append))
    await run_job(backend, storage, job.id)
    done = await asyncio.wait_for(follow, 30)
    assert done.status is JobStatus.COMPLETED
    assert done.progress_percent == 100
    assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
    assert seen[-1].type == "job.completed"
    assert [e.type for e in seen].count("chapter.completed") == 2

    book = await alice.get_audio(job.id)
    assert book == bytes(range(256)) * 8  # what the test worker wrote
    assert await alice.get_audio(job.id, byte_range="bytes=0-3") == bytes([0, 1, 2, 3])
    chapter = await alice.get_audio(job.id, chapter=2)
    assert chapter.startswith(b"chapter 1 audio")
    target = tmp_path / "out" / "book.mp3"
    target.parent.mkdir()
    assert await alice.download_audio(job.id, target) == len(book)
    assert target.read_bytes() == book
    assert [p.name for p in target.parent.iterdir()] == ["book.mp3"]
    buffer = io.BytesIO()
    assert await alice.download_audio(job.id, buffer, chapter=1) > 0
    assert alice.audio_url(job.id, 2) == f"{BASE}/v1/jobs/{job.id}/chapters/2/audio"

    with pytest.raises(ClientError) as missing:
        await alice.get_audio(job.id, chapter=3)
    assert missing.value.status_code == 404
    with pytest.raises(ClientError) as not_saved:
        await alice.download_audio(job.id, tmp_path / "out" / "nothing.mp3", chapter=9)
    assert not_saved.value.status_code == 404
    assert [p.name for p in target.parent.iterdir()] == ["book.mp3"]


async def test_events_resume_and_end_for_a_finished_job(
    alice: AsyncClient, backend: Backend, storage: Storage
) -> None:
    job = await alice.add_job(JobCreate.model_validate(BOOK))
    await run_job(backend, storage, job.id)
    everything = [e async for e in alice.events(job.id)]
    resumed = [e async for e in alice.events(job.id, last_event_id=2)]
    assert resumed == everything[2:]
    assert [e async for e in alice.events(job.id, last_event_id=everything[-1].seq)] == []


async def test_cancel_retry_stats_and_listing(alice: AsyncClient, bob: AsyncClient) -> None:
    first = await alice.add_job(BOOK)
    second = await alice.add_job({**BOOK, "run_at": 4_000_000_000})
    assert second.status is JobStatus.SCHEDULED
    cancelled = await alice.cancel_job(second.id)
    assert cancelled.status is JobStatus.CANCELLED
    with pytest.raises(ClientError) as twice:
        await alice.cancel_job(second.id)
    assert twice.value.status_code == 409
    events = [e.type async for e in alice.events(second.id)]
    assert events[-1] == "job.cancelled"
    retried = await alice.retry_job(second.id)
    assert retried.status is JobStatus.QUEUED  # a retry runs now
    with pytest.raises(ClientError) as not_failed:
        await alice.retry_job(first.id)
    assert not_failed.value.status_code == 409

    stats = await alice.get_queue_stats()
    assert stats.scope == "user"
    assert stats.jobs.get("queued") == 2 and not stats.jobs.get("cancelled")
    assert stats.workers is None

    page = await alice.get_user_jobs(limit=1)
    assert [j.id for j in page.items] == [second.id] and page.next_cursor
    assert [j.id async for j in alice.iter_user_jobs(limit=1)] == [second.id, first.id]
    await alice.cancel_job(first.id)
    cancelled_page = await alice.get_user_jobs(status=JobStatus.CANCELLED)
    assert [j.id for j in cancelled_page.items] == [first.id]
    assert (await bob.get_user_jobs()).items == []


async def test_another_users_job_is_not_found(alice: AsyncClient, bob: AsyncClient) -> None:
    job = await alice.add_job(BOOK)
    for call in (
        bob.get_job(job.id),
        bob.cancel_job(job.id),
        bob.retry_job(job.id),
        bob.get_audio(job.id),
    ):
        with pytest.raises(ClientError) as err:
            await call
        assert err.value.status_code == 404
        assert err.value.type == "notfound"
    with pytest.raises(ClientError) as streaming:
        _ = [e async for e in bob.events(job.id)]
    assert streaming.value.status_code == 404
    assert (await alice.get_job(job.id)).status is JobStatus.QUEUED


async def test_errors_name_the_field(alice: AsyncClient, app: FastAPI) -> None:
    with pytest.raises(ClientError) as empty:
        await alice.add_job({"chapters": []})
    assert empty.value.status_code == 422
    assert any("chapters" in d["loc"] for d in empty.value.detail), empty.value.detail
    assert "chapters" in str(empty.value)
    with pytest.raises(ClientError) as bad_voice:
        await alice.add_job({**BOOK, "voice": {"speed": 99}})
    assert bad_voice.value.detail[0]["loc"][:3] == ["body", "voice", "speed"]
    with pytest.raises(ValueError):
        alice.audio_url("x", 0)
    async with async_client(app, "mallory", exp_in=-10) as expired:
        with pytest.raises(ClientError) as unauthorized:
            await expired.get_user_jobs()
    assert unauthorized.value.status_code == 401
    nobody = AsyncClient(BASE, None, transport=httpx.ASGITransport(app=app))
    async with nobody:
        assert (await nobody.health()).status == "ok"
        with pytest.raises(ClientError) as anonymous:
            await nobody.get_queue_stats()
    assert anonymous.value.status_code == 401


async def test_text_file_and_idempotent_submissions(alice: AsyncClient, tmp_path: Path) -> None:
    text = "# Tales\n\n## First\n\nOne sentence.\n\n## Second\n\nAnother sentence.\n"
    job = await alice.add_job_from_text(text, output_format="mp3", idempotency_key="k-1")
    assert [c.title for c in job.chapters] == ["First", "Second"]
    assert job.output_format == "mp3"
    again = await alice.add_job_from_text(text, idempotency_key="k-1")
    assert again.id == job.id
    plain = await alice.add_job_from_text("Just one line.", markdown=False, title="Plain")
    assert plain.title == "Plain" and plain.total_chapters == 1
    path = tmp_path / "tales.md"
    path.write_text(text)
    from_file = await alice.add_job_from_file(path, voice="en-us", speed=1.2)
    assert from_file.total_chapters == 2 and from_file.voice.speed == 1.2
    from_bytes = await alice.add_job_from_file(text.encode(), filename="t.md", title="Bytes")
    assert from_bytes.title == "Bytes"
    voices = await alice.get_voices()
    assert any(v.engine == "espeak" for v in voices)


async def test_with_token_shares_the_connection_pool(alice: AsyncClient) -> None:
    from tests.api.conftest import make_jwt

    carol = alice.with_token(make_jwt("carol"))
    job = await carol.add_job(BOOK)
    assert job.user_id == "carol"
    with pytest.raises(ClientError):
        await alice.get_job(job.id)
    await carol.aclose()  # not its pool: alice still works
    assert (await alice.get_user_jobs()).items == []


async def test_subtitles_and_a_voice_preview(
    alice: AsyncClient, backend: Backend, settings: Settings
) -> None:
    import av

    from tests.api.test_subtitles import run_worker

    clip = await alice.get_voice_preview("espeak:en-us", "Hello there.", speed=1.2)
    with av.open(io.BytesIO(clip)) as container:
        assert container.format.name == "mp3"
    with pytest.raises(ClientError) as unknown:
        await alice.get_voice_preview("espeak:nobody")
    assert unknown.value.status_code == 404

    job = await alice.add_job(BOOK)
    with pytest.raises(ClientError) as early:
        await alice.get_subtitles(job.id)
    assert early.value.status_code == 404
    await run_worker(backend, settings, job.id)
    vtt = await alice.get_subtitles(job.id)
    assert vtt.startswith("WEBVTT") and "First part." in vtt and "Second." in vtt
    srt = await alice.get_subtitles(job.id, chapter=2, format="srt")
    assert srt.startswith("1\n00:00:00,") and "Second." in srt and "First" not in srt
    with pytest.raises(ValueError, match="format"):
        await alice.get_subtitles(job.id, format="ass")
