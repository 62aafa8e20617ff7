"""Client (blocking) against the app served over HTTP by uvicorn in a thread."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import run_job
from tests.clients.conftest import LiveServer
from ttsqueue.client import Client, ClientError, EventPublic, JobStatus
from ttsqueue.storage import Storage

BOOK = {
    "title": "Sync Tales",
    "chapters": [{"title": "One", "text": "First part."}, {"title": "Two", "text": "Second."}],
}


def test_submit_follow_live_and_download(
    live_server: LiveServer, storage: Storage, tmp_path: Path
) -> None:
    with live_server.client("alice") as alice:
        job = alice.add_job(BOOK)
        assert job.status is JobStatus.QUEUED
        seen: list[EventPublic] = []
        first_event = threading.Event()

        def record(event: EventPublic) -> None:
            seen.append(event)
            first_event.set()

        result: list[object] = []
        follower = threading.Thread(
            target=lambda: result.append(alice.wait_for_job(job.id, on_event=record))
        )
        follower.start()
        assert first_event.wait(30), "the stream delivered the history"
        live_server.call(run_job(live_server.backend, storage, job.id))
        follower.join(30)
        assert not follower.is_alive()
        done = result[0]
        assert getattr(done, "status", None) is JobStatus.COMPLETED
        assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
        assert seen[0].type == "job.queued" and seen[-1].type == "job.completed"

        target = tmp_path / "book.mp3"
        assert alice.download_audio(job.id, target) == len(alice.get_audio(job.id)) > 0
        assert alice.get_audio(job.id, chapter=1).startswith(b"chapter 0 audio")
        assert alice.audio_url(job.id) == f"{live_server.url}/v1/jobs/{job.id}/audio"


def test_the_same_calls_as_the_async_client(live_server: LiveServer) -> None:
    with live_server.client("alice") as alice, live_server.client("bob") as bob:
        job = alice.add_job(BOOK, idempotency_key="once")
        assert alice.add_job(BOOK, idempotency_key="once").id == job.id
        assert alice.get_job(job.id).title == "Sync Tales"
        assert alice.cancel_job(job.id).status is JobStatus.CANCELLED
        assert [e.type for e in alice.events(job.id)][-1] == "job.cancelled"
        assert alice.retry_job(job.id).status is JobStatus.QUEUED
        text = alice.add_job_from_text("# T\n\n## A\n\nOne.\n\n## B\n\nTwo.\n", title="Text")
        assert text.total_chapters == 2
        assert [j.id for j in alice.iter_user_jobs(limit=1)] == [text.id, job.id]
        assert alice.get_user_jobs(status="cancelled").items == []
        assert alice.get_queue_stats().jobs.get("queued") == 2
        assert alice.health().status == "ok"
        assert alice.get_voices()
        assert len(alice.get_voice_preview("espeak:en-us", "Hi.")) > 500
        with pytest.raises(ClientError) as early:
            alice.get_subtitles(job.id, chapter=1, format="srt")
        assert early.value.status_code == 404

        with pytest.raises(ClientError) as hidden:
            bob.get_job(job.id)
        assert hidden.value.status_code == 404
        with pytest.raises(ClientError) as hidden_events:
            list(bob.events(job.id))
        assert hidden_events.value.status_code == 404
        with pytest.raises(ClientError) as invalid:
            alice.add_job({"chapters": [{"text": ""}]})
        assert invalid.value.status_code == 422
        assert invalid.value.detail[0]["loc"][:2] == ["body", "chapters"]


def test_an_unreachable_server_is_an_httpx_error() -> None:
    with Client("http://127.0.0.1:9", "t", timeout=5) as nowhere:
        with pytest.raises(httpx.ConnectError):
            nowhere.get_job("x")
        with pytest.raises(httpx.ConnectError):
            list(nowhere.events("x", max_retries=1, retry_s=0.01))
