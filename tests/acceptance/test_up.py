"""`ttsqueue up` as a user with curl would find it: submit over HTTP, follow the SSE
stream to the end, download the audiobook; another user sees a 404."""

from __future__ import annotations

import json
import signal

import httpx
import pytest

from tests.acceptance.conftest import Cli, free_port, wait_until
from ttsqueue.audio.assemble import read_chapters

pytestmark = pytest.mark.slow


def test_up_serves_a_book_end_to_end(cli: Cli) -> None:
    port = free_port()
    cli.extra_env["TTSQUEUE_PORT"] = str(port)
    alice = cli.run("token", "create", "--user", "alice").strip()
    bob = cli.run("token", "create", "--user", "bob").strip()
    server = cli.start("up", "--concurrency", "2")
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{base}/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, 60, "the API to answer")
    auth = {"Authorization": f"Bearer {alice}"}
    book = {
        "title": "Two Short Chapters",
        "author": "Test Author",
        "output_format": "m4b",
        "chapters": [
            {"title": "Morning", "text": "The sun rose over the quiet harbour. Gulls called."},
            {"title": "Evening", "text": "The lamp was lit at dusk, nine minutes late."},
        ],
    }
    created = httpx.post(f"{base}/v1/jobs", json=book, headers=auth, timeout=10)
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]

    seen: list[tuple[int, str]] = []
    with httpx.stream(
        "GET", f"{base}/v1/jobs/{job_id}/events", headers=auth, timeout=120
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        event_id, event_type = 0, ""
        for line in stream.iter_lines():
            if line.startswith("id:"):
                event_id = int(line[3:].strip())
            elif line.startswith("event:"):
                event_type = line[6:].strip()
            elif line.startswith("data:"):
                json.loads(line[5:])
            elif line == "" and event_type:
                seen.append((event_id, event_type))
                event_type = ""
    # the stream ended by itself after the terminal event, ids in order without gaps
    assert seen[-1][1] == "job.completed"
    assert [i for i, _ in seen] == list(range(1, len(seen) + 1))
    assert [t for _, t in seen].count("chapter.completed") == 2

    job = httpx.get(f"{base}/v1/jobs/{job_id}", headers=auth, timeout=10).json()
    assert job["status"] == "completed"
    assert job["progress_percent"] == 100

    audio = httpx.get(f"{base}/v1/jobs/{job_id}/audio", headers=auth, timeout=30)
    assert audio.status_code == 200
    assert audio.headers["content-type"] == "audio/mp4"
    book_file = cli.root / "book.m4b"
    book_file.write_bytes(audio.content)
    assert [title for title, _ in read_chapters(book_file)] == ["Morning", "Evening"]

    partial = httpx.get(
        f"{base}/v1/jobs/{job_id}/audio", headers={**auth, "Range": "bytes=0-99"}, timeout=10
    )
    assert partial.status_code == 206
    assert partial.content == audio.content[:100]

    other = {"Authorization": f"Bearer {bob}"}
    for method, path in [
        ("GET", f"/v1/jobs/{job_id}"),
        ("GET", f"/v1/jobs/{job_id}/audio"),
        ("GET", f"/v1/jobs/{job_id}/events"),
        ("DELETE", f"/v1/jobs/{job_id}"),
    ]:
        r = httpx.request(method, base + path, headers=other, timeout=10)
        assert r.status_code == 404, (method, path, r.status_code)

    server.send_signal(signal.SIGTERM)
    assert server.wait(30) == 0, cli.log_of(server)
