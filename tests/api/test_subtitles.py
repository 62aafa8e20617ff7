"""Read-along subtitles through the real worker: one cue per sentence, and every cue's
start and end within 100 ms of where the voice starts and stops in the decoded audio
(PyAV), per chapter and on the assembled book."""

from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.api.conftest import ALICE, BOB, submit
from ttsqueue.backends import Backend
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage
from ttsqueue.worker import Worker

SENTENCES = [
    ["The lighthouse stood alone on the rock.", "Waves broke against it all night."],
    ["In the morning the keeper climbed down.", "He found a boat.", "It was empty."],
]
STAMP = r"(\d\d):(\d\d):(\d\d)[.,](\d\d\d)"
WINDOW_S = 0.01


def chapters() -> list[dict[str, str]]:
    return [{"title": f"Part {i + 1}", "text": " ".join(s)} for i, s in enumerate(SENTENCES)]


async def run_worker(backend: Backend, settings: Settings, job_id: str) -> Any:
    settings.heartbeat_s = 0.2
    with ThreadPoolExecutor(2) as pool:
        worker = Worker(backend, settings, concurrency=2, pool=pool, worker_id="subs-w")
        running = asyncio.create_task(worker.run())
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            job = await backend.get(job_id)
            assert job is not None
            if job.status.terminal:
                break
            await asyncio.sleep(0.1)
        worker.stop()
        await running
    assert job.status.value == "completed", job.error
    return job


def parse(text: str) -> list[tuple[float, float, str]]:
    cues = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        for i, line in enumerate(lines):
            times = re.fullmatch(f"{STAMP} --> {STAMP}", line)
            if times:
                g = [int(x) for x in times.groups()]
                start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
                end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
                cues.append((start, end, " ".join(lines[i + 1 :])))
    return cues


def voiced_regions(path: Path, gap_s: float = 0.35) -> list[tuple[float, float]]:
    """Where the decoded audio is louder than silence, gaps shorter than ``gap_s``
    (between words) closed."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        samples: list[float] = []
        for frame in container.decode(stream):
            samples.extend(abs(float(x)) for x in frame.to_ndarray().reshape(-1))
    scale = 32768.0 if max(samples) > 2 else 1.0
    step = int(rate * WINDOW_S)
    loud = [max(samples[i : i + step]) / scale > 0.02 for i in range(0, len(samples), step)]
    regions: list[list[float]] = []
    for n, on in enumerate(loud):
        if not on:
            continue
        t = n * WINDOW_S
        if regions and t - regions[-1][1] <= gap_s:
            regions[-1][1] = t + WINDOW_S
        else:
            regions.append([t, t + WINDOW_S])
    return [(a, b) for a, b in regions]


def check_timing(cues: list[tuple[float, float, str]], regions: list[tuple[float, float]]) -> None:
    assert len(regions) == len(cues), (regions, cues)
    for (start, end, _), (a, b) in zip(cues, regions, strict=True):
        assert start == pytest.approx(a, abs=0.1)
        assert end == pytest.approx(b, abs=0.1)


@pytest.mark.slow
async def test_subtitles_follow_the_voice(
    client: httpx.AsyncClient, backend: Backend, settings: Settings, storage: Storage
) -> None:
    voice = {"engine": "espeak", "name": "en-us", "sentence_pause_ms": 800}
    voice |= {"paragraph_pause_ms": 800, "chapter_start_ms": 600, "chapter_end_ms": 900}
    job_id = await submit(client, ALICE, chapters=chapters(), output_format="m4b", voice=voice)
    r = await client.get(f"/v1/jobs/{job_id}/subtitles", headers=ALICE)
    assert r.status_code == 404  # not before the book is done
    job = await run_worker(backend, settings, job_id)

    for n, sentences in enumerate(SENTENCES, 1):
        r = await client.get(f"/v1/jobs/{job_id}/chapters/{n}/subtitles", headers=ALICE)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/vtt")
        assert r.text.startswith("WEBVTT\n")
        cues = parse(r.text)
        assert [text for _, _, text in cues] == sentences
        assert cues[0][0] >= 0.6  # after the silence that opens the chapter
        task = next(t for t in job.tasks if t.index == n - 1)
        check_timing(cues, voiced_regions(storage.resolve_for_job(job_id, task.result["path"])))

    r = await client.get(f"/v1/jobs/{job_id}/subtitles", params={"format": "srt"}, headers=ALICE)
    assert r.status_code == 200
    assert "," in r.text.splitlines()[1] and not r.text.startswith("WEBVTT")
    book = parse(r.text)
    assert [text for _, _, text in book] == [s for part in SENTENCES for s in part]
    check_timing(book, voiced_regions(storage.resolve_for_job(job_id, job.result["path"])))


async def test_subtitles_are_the_owners_and_stay_in_the_job_directory(
    client: httpx.AsyncClient, backend: Backend, settings: Settings, storage: Storage
) -> None:
    alice = await submit(client, ALICE, n=1, output_format="wav")
    bob = await submit(client, BOB, chapters=[{"title": "B", "text": "Bob's secret."}])
    for job_id in (alice, bob):
        await run_worker(backend, settings, job_id)
    url = f"/v1/jobs/{alice}/chapters/1/subtitles"
    assert (await client.get(url, headers=ALICE)).status_code == 200
    assert (await client.get(f"/v1/jobs/{alice}/subtitles", headers=ALICE)).status_code == 200
    assert (await client.get(url, headers=BOB)).status_code == 404
    r = await client.get(url, params={"format": "ass"}, headers=ALICE)
    assert r.status_code == 422 and "format" in r.text
    assert (
        await client.get(f"/v1/jobs/{alice}/chapters/9/subtitles", headers=ALICE)
    ).status_code == 404
    row: Any = backend._jobs[alice]  # type: ignore[attr-defined]
    for target in (f"{bob}/cues-001.json", f"{alice}/../{bob}/cues-001.json"):
        row.tasks[0].result = {**row.tasks[0].result, "cues": target}
        for path in (url, f"/v1/jobs/{alice}/subtitles"):
            r = await client.get(path, headers=ALICE)
            assert r.status_code == 404, (target, path)
            assert "secret" not in r.text
