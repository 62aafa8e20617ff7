"""Loudness and chapter silence chosen per job (and by the server's settings) reach the
worker: the chapter files measure as asked with an independent meter (pyloudnorm)."""

from __future__ import annotations

from typing import Any

import av
import httpx
import pytest

from tests.api.conftest import ALICE, submit
from tests.api.test_subtitles import run_worker
from tests.skips import need_module
from ttsqueue.backends import Backend
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage

np = need_module("numpy")
pyln = need_module("pyloudnorm")

TEXT = (
    "The lighthouse keeper climbed the stairs every evening to light the lamp. "
    "Ships passed in the night, and none of them ever knew his name. "
) * 3


def measured(path: Any) -> tuple[float, float, Any]:
    """(integrated LUFS, seconds, samples) of an audio file."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        data = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(stream)])
    samples = data.astype(np.float64) / (32768.0 if np.abs(data).max() > 2 else 1.0)
    return float(pyln.Meter(rate).integrated_loudness(samples)), len(samples) / rate, samples


async def chapter_file(
    client: httpx.AsyncClient, backend: Backend, settings: Settings, storage: Storage, **voice: Any
) -> Any:
    chapters = [{"title": "One", "text": TEXT}]
    voice = {"engine": "espeak", "name": "en-us", **voice}
    job_id = await submit(client, ALICE, chapters=chapters, output_format="wav", voice=voice)
    job = await run_worker(backend, settings, job_id)
    task = next(t for t in job.tasks if t.index == 0)
    return storage.resolve_for_job(job_id, task.result["path"])


async def test_a_jobs_own_loudness_and_silence(
    client: httpx.AsyncClient, backend: Backend, settings: Settings, storage: Storage
) -> None:
    quiet = await chapter_file(
        client,
        backend,
        settings,
        storage,
        loudness_lufs=-26,
        true_peak_db=-8,
        chapter_start_ms=2000,
        chapter_end_ms=0,
    )
    lufs, _, samples = measured(quiet)
    assert lufs == pytest.approx(-26.0, abs=1.0)
    assert np.abs(samples).max() <= 10 ** (-8 / 20)
    assert np.abs(samples[: int(1.9 * 22050)]).max() < 0.001  # two seconds of silence first
    assert np.abs(samples[-int(0.06 * 22050) :]).max() > 0  # and none after (40 ms at most)


async def test_the_servers_settings_are_the_default(
    client: httpx.AsyncClient, backend: Backend, settings: Settings, storage: Storage
) -> None:
    settings.loudness_lufs = -16.0
    lufs, _, samples = measured(await chapter_file(client, backend, settings, storage))
    assert lufs == pytest.approx(-16.0, abs=1.0)
    assert np.abs(samples[: int(0.45 * 22050)]).max() < 0.001  # 500 ms before the chapter
    assert np.abs(samples[-int(1.45 * 22050) :]).max() < 0.001  # 1500 ms after it
    settings.normalize_loudness = False
    raw, _, _ = measured(await chapter_file(client, backend, settings, storage))
    assert abs(raw - lufs) > 2  # espeak-ng's own level is well away from -16


@pytest.mark.parametrize(
    ("field", "value"),
    [("loudness_lufs", -5), ("loudness_lufs", -60), ("true_peak_db", 1), ("chapter_end_ms", -1)],
)
async def test_out_of_range_options_are_refused_naming_the_field(
    client: httpx.AsyncClient, field: str, value: float
) -> None:
    voice = {"engine": "espeak", "name": "en-us", field: value}
    r = await client.post(
        "/v1/jobs",
        json={"chapters": [{"title": "A", "text": "Hi."}], "voice": voice},
        headers=ALICE,
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == field


async def test_query_options_for_a_text_body(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/jobs?loudness_lufs=-20&chapter_start_ms=0",
        content=b"Hello there.",
        headers={**ALICE, "Content-Type": "text/plain"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["voice"]["loudness_lufs"] == -20
    assert r.json()["voice"]["chapter_start_ms"] == 0
    bad = await client.post(
        "/v1/jobs?true_peak_db=3", content=b"Hi.", headers={**ALICE, "Content-Type": "text/plain"}
    )
    assert bad.status_code == 422 and "true_peak_db" in str(bad.json()["detail"][0]["loc"])
