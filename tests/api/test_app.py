"""The app opening its own store (``ttsqueue api``) rather than sharing one."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.api.conftest import ALICE, SECRET, book
from ttsqueue.api.app import create_app
from ttsqueue.api.ratelimit import SlidingWindow
from ttsqueue.settings import Settings


async def test_lifespan_opens_and_closes_the_store(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'q.db'}",
        data_dir=tmp_path,
        jwt_secret=SECRET,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/v1/health")
        assert r.status_code == 503  # not started: no store yet
        async with app.router.lifespan_context(app):
            assert (await client.get("/v1/health")).status_code == 200
            r = await client.post("/v1/jobs", json=book(1), headers=ALICE)
            assert r.status_code == 201, r.text
            assert r.json()["output_format"] == "m4b"  # the settings' default
            r = await client.post("/v1/jobs", json=book(1, voice={"name": "zz"}), headers=ALICE)
            assert r.status_code == 422  # voices are checked against the engines
        assert (await client.get("/v1/stats", headers=ALICE)).status_code == 503
    assert (tmp_path / "q.db").exists()


def test_sliding_window_forgets_old_submissions() -> None:
    now = [1000.0]
    window = SlidingWindow(2, 60.0, clock=lambda: now[0])
    assert window.hit("a") == 0
    now[0] += 30
    assert window.hit("a") == 0
    assert window.hit("a") == 30.0  # the first one leaves the window in 30 s
    assert window.hit("b") == 0
    now[0] += 30.5
    assert window.hit("a") == 0
    assert SlidingWindow.retry_after(0.2) == "1"
