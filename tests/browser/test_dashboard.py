"""The dashboard in headless Chromium against a real server (the CLI in subprocesses).

Chromium is Debian's (/usr/bin/chromium), driven by the ``playwright`` package; a missing
browser skips the test locally and fails it under CI.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.skips import need

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    root: Path
    port: int = field(default_factory=free_port)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "TTSQUEUE_DATABASE_URL": f"sqlite:///{self.root / 'queue.db'}",
                "TTSQUEUE_DATA_DIR": str(self.root / "data"),
                "TTSQUEUE_HOST": "127.0.0.1",
                "TTSQUEUE_PORT": str(self.port),
                "TTSQUEUE_HEARTBEAT_S": "0.5",
                "TTSQUEUE_POLL_INTERVAL_S": "0.2",
                "TTSQUEUE_LEASE_S": "5",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "ttsqueue", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=self.root,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, *args: str) -> None:
        with open(self.root / f"{args[0]}.log", "wb") as log:  # the child keeps its own copy
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "ttsqueue", *args],
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.root,
                )
            )

    def token(self, user: str, *flags: str) -> str:
        return self.run("token", "create", "--user", user, *flags).strip().splitlines()[-1]

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError((self.root / "api.log").read_text())

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path)
    s.run("migrate")
    s.start("api")
    try:
        s.wait_healthy()
        yield s
    finally:
        s.stop()


LIVE_MS = 5_000  # a live update reaches the page this soon, or it is not live
NO_BACKSTOP_POLLING = """
window.backstopPollsBlocked = 0;
const realSetInterval = window.setInterval;
window.setInterval = (fn, ms, ...args) => {
  if (ms >= 10000) { window.backstopPollsBlocked += 1; return 0; }
  return realSetInterval(fn, ms, ...args);
};
"""


def wait_for_status(server: Server, token: str, job_id: str, status: str, timeout: float) -> float:
    """Poll the API (not the page) until the job has ``status``; when it was first seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(
            f"{server.url}/v1/jobs/{job_id}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        if r.json()["status"] == status:
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not reach {status} in {timeout}s")


def submit(server: Server, token: str, title: str) -> str:
    body: dict[str, Any] = {
        "title": title,
        "author": "Test Author",
        "output_format": "wav",
        "chapters": [{"title": "One", "text": "A short chapter, read aloud."}],
    }
    r = httpx.post(
        f"{server.url}/v1/jobs", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_dashboard_follows_jobs_live_and_cancels(server: Server) -> None:
    need(Path(CHROMIUM).exists(), f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:  # pragma: no cover - the dev extra installs it
        need(False, "the playwright package is not installed")
        raise

    admin = server.token("ops", "--admin")
    reader = server.token("reader")
    keep = submit(server, reader, "The Quick Book")
    doomed = submit(server, reader, "The Doomed Book")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            # Polling out of the picture: the page's periodic backstop refresh never
            # runs, so whatever changes on screen came by the WebSocket.
            page.add_init_script(NO_BACKSTOP_POLLING)
            frames: list[dict[str, Any]] = []

            def on_socket(ws: Any) -> None:
                if "/v1/ws" in ws.url:
                    ws.on("framereceived", lambda payload: frames.append(json.loads(payload)))

            page.on("websocket", on_socket)
            page.goto(f"{server.url}/dashboard")

            # a non-admin token is refused at the door
            page.fill("#token", reader)
            page.click("#login-form button")
            expect(page.locator("#login-error")).to_contain_text("not an admin")

            page.fill("#token", admin)
            page.click("#login-form button")
            expect(page.locator("#app")).to_be_visible()
            expect(page.locator("#live")).to_have_class("live on", timeout=10_000)
            row = page.locator(f'tr[data-job-id="{keep}"]')
            other = page.locator(f'tr[data-job-id="{doomed}"]')
            expect(row).to_have_attribute("data-status", "queued")
            expect(other).to_have_attribute("data-status", "queued")
            expect(page.locator('.tile[data-status="queued"] b')).to_have_text("2")

            # cancel one from its job page
            other.click()
            expect(page.locator("#job")).to_be_visible()
            expect(page.locator("#job-title")).to_contain_text("The Doomed Book")
            page.click("#job-cancel")
            expect(other).to_have_attribute("data-status", "cancelled", timeout=10_000)
            expect(page.locator("#job-cancel")).to_be_disabled()
            expect(page.locator("#timeline")).to_contain_text("job.cancelled")

            # a worker starts: the other job goes to completed with no reload, within
            # seconds of the store recording it, and its events came over the WebSocket
            server.start("worker", "--concurrency", "1")
            completed_at = wait_for_status(server, reader, keep, "completed", timeout=90)
            expect(row).to_have_attribute("data-status", "completed", timeout=LIVE_MS)
            assert time.monotonic() - completed_at < LIVE_MS / 1000
            received = [(f["job_id"], f["type"]) for f in frames]
            assert (keep, "job.completed") in received
            assert (doomed, "job.cancelled") in received
            assert page.evaluate("window.backstopPollsBlocked") >= 1
            expect(page.locator("#workers-count")).to_have_text("1", timeout=15_000)
            expect(page.locator('.tile[data-status="completed"] b')).to_have_text("1")

            row.click()
            expect(page.locator("#job-title")).to_contain_text("The Quick Book")
            expect(page.locator("#timeline")).to_contain_text("job.completed")
            page.locator("#chapters-table button").first.click()
            expect(page.locator("#chapters-table audio")).to_have_count(1, timeout=10_000)
            # the reports catch up after a job finishes: usage, cost and throughput
            expect(page.locator("#throughput-chart rect.ok")).to_have_count(1, timeout=15_000)
            expect(page.locator("#users-table tbody tr")).to_have_count(1)
            expect(page.locator('#sla-table tr[data-tier="free"]')).to_contain_text("ok")

            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
