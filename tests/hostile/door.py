"""The API in-process, driven from synchronous code (a hypothesis test), and a check
that an accepted book can be read: each chapter goes through the worker's own steps."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.api.conftest import SECRET, bearer, make_jwt
from ttsqueue import tts
from ttsqueue.api.app import create_app
from ttsqueue.backends import BackendOptions, open_backend
from ttsqueue.backends.base import Backend, Completion
from ttsqueue.models import ClaimedTask, TaskKind
from ttsqueue.queue import Queue
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage
from ttsqueue.worker_jobs import (
    Span,
    chapter_cues,
    encode_chapter,
    plan_chapter,
    synthesize_batch,
)

HANG_S = 60.0  # no answer within this is a hang (generous: the machine may be loaded)
NOOP_VOICE = {"engine": "noop", "name": "silence", "speed": 1.0}


def door_settings(tmp: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="memory://",
        data_dir=tmp,
        jwt_secret=SECRET,
        default_format="mp3",
        max_body_bytes=256 * 1024,
        max_chapters=20,
        max_chapter_chars=20_000,
        max_book_chars=60_000,
        submissions_per_minute=1_000_000,
        max_active_jobs=1_000_000,
    )


def read_chapter(task: ClaimedTask, storage: Storage) -> dict[str, Any]:
    """The worker's steps for one chapter: plan (normalise, split or cut the SSML into
    chunks for the chapter's own engine), synthesize every chunk (with the silent engine,
    through the same chunk reader), encode, write the read-along cues."""
    plan = plan_chapter(task, storage)
    sample_rate = plan.sample_rate
    pcm: list[bytes] = []
    spans: list[Span] = []
    for batch in plan.batches:
        at = sum(len(p) for p in pcm) // 2
        piece, sample_rate, found = synthesize_batch("noop", batch.items, NOOP_VOICE, sample_rate)
        pcm.append(piece)
        spans.extend((text, at + a, at + b) for text, a, b in found)
    duration = encode_chapter(*plan.encode_args(b"".join(pcm), sample_rate))
    plan.cues_path.write_text(chapter_cues(spans, sample_rate, plan.finish), encoding="utf-8")
    return plan.result(duration)


class Door:
    def __init__(self, tmp: Path) -> None:
        self.settings = door_settings(tmp)
        self.storage = Storage(self.settings.audio_dir)
        self.runner = asyncio.Runner()
        self.accepted = 0
        self.refused: dict[int, int] = {}

    def __enter__(self) -> Door:
        self.runner.__enter__()
        self.runner.run(self._open())
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.runner.run(self._close())
        finally:
            self.runner.__exit__(kind, exc, tb)

    async def _open(self) -> None:
        self.backend: Backend = open_backend("memory://", BackendOptions(event_poll_s=0.05))
        await self.backend.open()
        queue = Queue(
            self.backend, self.settings, check_voice=tts.check_voice, check_text=tts.check_text
        )
        app = create_app(self.settings, queue=queue)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        )

    async def _close(self) -> None:
        await self.client.aclose()
        await self.backend.close()

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST as a fresh user (no cap or rate limit carries over between examples)."""
        headers = {**bearer(make_jwt(f"u-{uuid.uuid4().hex[:12]}")), **kwargs.pop("headers", {})}
        start = time.monotonic()
        request = self.client.post(path, headers=headers, **kwargs)
        try:
            response = self.runner.run(asyncio.wait_for(request, HANG_S))
        except TimeoutError:
            raise AssertionError(f"no answer within {HANG_S} s: a hang") from None
        assert time.monotonic() - start < HANG_S
        return response

    def expect_sane(self, response: httpx.Response, *, id_field: str = "id") -> None:
        """201/200 and the book reads, or a 4xx whose body names what is wrong."""
        status = response.status_code
        assert status < 500, f"{status}: {response.text[:1000]}"
        if status in (200, 201):
            self.accepted += 1
            self.runner.run(self._read_aloud(str(response.json()[id_field])))
            return
        self.refused[status] = self.refused.get(status, 0) + 1
        assert 400 <= status < 500, status
        body = response.json()
        detail = body["detail"]
        assert detail and all(item["msg"] for item in detail), body
        if status in (400, 413, 415, 422):
            assert all(item["loc"] for item in detail), f"no field named: {body}"

    async def _read_aloud(self, job_id: str) -> None:
        job = await self.backend.get(job_id)
        assert job is not None
        while tasks := await self.backend.claim(worker_id="fuzz", limit=50, lease_s=600):
            for task in tasks:
                if task.kind is TaskKind.SYNTHESIZE:
                    try:
                        result = read_chapter(task, self.storage)
                    except Exception as exc:
                        text = json.dumps(task.payload.get("text"))[:2000]
                        raise AssertionError(
                            f"accepted, then the worker failed on chapter {task.index}: "
                            f"{type(exc).__name__}: {exc}\ntext: {text}"
                        ) from exc
                else:
                    result = {"path": "", "duration_s": 0.0, "format": "mp3"}
                assert await self.backend.complete([Completion(task.lease, result)]) == [True]
