"""The dashboard's pause button, in headless Chromium against a real server."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.browser.test_dashboard import CHROMIUM, CHROMIUM_ARGS, Server, need, server, submit

__all__ = ["server"]  # the fixture, used by name


def _pauses(server: Server, token: str) -> list[object]:
    r = httpx.get(
        f"{server.url}/v1/admin/pauses", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert r.status_code == 200, r.text
    return [p["engine"] for p in r.json()]


def test_the_dashboard_pauses_and_resumes_claiming(server: Server) -> None:
    need(Path(CHROMIUM).exists(), f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    admin = server.token("ops", "--admin")
    reader = server.token("reader")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server.url}/dashboard")
            page.fill("#token", admin)
            page.click("#login-form button")
            expect(page.locator("#app")).to_be_visible()
            expect(page.locator("#pause-state")).to_have_text("claiming", timeout=15_000)

            page.click("#pause-button")
            expect(page.locator("#pause-state")).to_have_attribute("data-paused", "all")
            assert _pauses(server, admin) == [None]
            page.fill("#pause-engine", "espeak")
            page.click("#pause-button")
            expect(page.locator('#pause-list li[data-engine="espeak"]')).to_have_count(1)
            assert _pauses(server, admin) == [None, "espeak"]

            # paused: a job queues, a worker claims nothing
            job_id = submit(server, reader, "The Waiting Book")
            page.fill("#pause-engine", "")
            page.click("#resume-button")
            expect(page.locator("#pause-state")).to_have_text("claiming")
            assert _pauses(server, admin) == ["espeak"]
            page.fill("#pause-engine", "espeak")
            page.click("#resume-button")
            expect(page.locator("#pause-list li")).to_have_count(0)
            assert _pauses(server, admin) == []
            r = httpx.get(
                f"{server.url}/v1/jobs/{job_id}",
                headers={"Authorization": f"Bearer {reader}"},
                timeout=30,
            )
            assert r.json()["status"] == "queued"
            assert errors == []
        finally:
            browser.close()
