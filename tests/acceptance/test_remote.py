"""The CLI and the Python client against a real `ttsqueue up` over HTTP: the job commands
with `--server`/`--token` (or their environment variables) never open the store."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.acceptance.conftest import Cli, free_port, wait_until
from ttsqueue.audio.assemble import read_chapters
from ttsqueue.client import Client, ClientError, JobStatus

pytestmark = pytest.mark.slow

BOOK = """# Two Short Chapters

## Morning

The sun rose over the quiet harbour. Gulls called.

## Evening

The lamp was lit at dusk, nine minutes late.
"""


@dataclass
class Remote:
    cli: Cli
    url: str
    alice: str
    bob: str

    def run(
        self,
        *args: str,
        token: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """The CLI with no store at all: only the server's address and a token."""
        full_env = {**self.cli.env, "TTSQUEUE_DATABASE_URL": "sqlite:////nonexistent/no.db"}
        full_env.update(env or {})
        flags = ["--server", self.url, "--token", token or self.alice] if env is None else []
        return subprocess.run(
            [sys.executable, "-m", "ttsqueue", *args, *flags],
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.cli.root,
        )

    def ok(self, *args: str, **kw: object) -> str:
        done = self.run(*args, **kw)  # type: ignore[arg-type]
        assert done.returncode == 0, f"ttsqueue {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        assert "HTTP Request" not in done.stderr, "no log line per request"
        return done.stdout


@pytest.fixture
def remote(cli: Cli) -> Iterator[Remote]:
    port = free_port()
    cli.extra_env["TTSQUEUE_PORT"] = str(port)
    alice = cli.run("token", "create", "--user", "alice").strip()
    bob = cli.run("token", "create", "--user", "bob").strip()
    server = cli.start("up", "--concurrency", "2")
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, 60, "the API to answer")
    yield Remote(cli, url, alice, bob)
    server.send_signal(signal.SIGTERM)
    assert server.wait(30) == 0, cli.log_of(server)


def test_cli_commands_over_http(remote: Remote) -> None:
    book = remote.cli.root / "book.md"
    book.write_text(BOOK)
    out = remote.ok("submit", str(book), "--format", "m4b", "--wait")
    lines = out.splitlines()
    job_id = lines[0]
    assert "completed" in lines[-2] and "100.0%" in lines[-2], out
    assert lines[-1] == f"audio: {remote.url}/v1/jobs/{job_id}/audio"

    listed = remote.ok("jobs")
    assert job_id in listed and "alice" in listed and "completed" in listed
    assert "100.0%" in remote.ok("status", job_id, "--once")
    stats = json.loads(remote.ok("stats"))
    assert stats["scope"] == "user" and stats["jobs"]["completed"] == 1

    saved = remote.cli.root / "saved.m4b"
    assert remote.ok("download", job_id, "-o", str(saved)).startswith(str(saved))
    assert [title for title, _ in read_chapters(saved)] == ["Morning", "Evening"]
    chapter = remote.cli.root / "one.m4a"
    remote.ok("download", job_id, "--chapter", "1", "-o", str(chapter))
    assert chapter.stat().st_size > 1000

    # a book read from stdin, far in the future: cancel it, then retry it
    later = subprocess.run(
        [sys.executable, "-m", "ttsqueue", "submit", "-", "--delay", "3600", "--title", "Later"],
        input=BOOK,
        env={**remote.cli.env, "TTSQUEUE_SERVER_URL": remote.url, "TTSQUEUE_TOKEN": remote.alice},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=remote.cli.root,
    )
    assert later.returncode == 0, later.stderr
    later_id = later.stdout.strip()
    assert remote.ok("cancel", later_id).split() == [later_id, "cancelled"]
    assert remote.ok("retry", later_id).split() == [later_id, "queued"]  # runs now

    # the environment instead of flags
    env = {"TTSQUEUE_SERVER_URL": remote.url, "TTSQUEUE_TOKEN": remote.alice}
    assert "Later" in remote.ok("jobs", env=env)

    # someone else's job is not found, and says so
    hidden = remote.run("status", job_id, "--once", token=remote.bob)
    assert hidden.returncode == 2
    assert "404" in hidden.stderr and remote.url in hidden.stderr
    assert job_id not in remote.ok("jobs", token=remote.bob)

    # the store stays out of it: submitting as another user needs the local store
    refused = remote.run("submit", str(book), "--user", "carol")
    assert refused.returncode == 2 and "--user" in refused.stderr
    no_token = remote.run("jobs", env={"TTSQUEUE_SERVER_URL": remote.url})
    assert no_token.returncode == 2 and "token" in no_token.stderr


def test_python_client_against_the_server(remote: Remote) -> None:
    with Client(remote.url, remote.alice) as alice, Client(remote.url, remote.bob) as bob:
        job = alice.add_job_from_text(BOOK, output_format="mp3")
        types = []
        done = alice.wait_for_job(job.id, on_event=lambda e: types.append(e.type))
        assert done.status is JobStatus.COMPLETED, done.error
        assert types[-1] == "job.completed" and types.count("chapter.completed") == 2
        audio = alice.get_audio(job.id)
        assert audio[:3] == b"ID3" or audio[0] == 0xFF  # an MP3 stream
        with pytest.raises(ClientError) as hidden:
            bob.get_job(job.id)
        assert hidden.value.status_code == 404


def test_cancel_retry_and_download_on_the_local_store(cli: Cli) -> None:
    book = cli.root / "book.md"
    book.write_text(BOOK)
    job_id = cli.run("submit", str(book), "--delay", "3600").strip()
    assert cli.run("cancel", job_id).split() == [job_id, "cancelled"]
    assert cli.run("retry", job_id).split() == [job_id, "queued"]
    not_ready = subprocess.run(
        [sys.executable, "-m", "ttsqueue", "download", job_id],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cli.root,
    )
    assert not_ready.returncode == 2 and "not ready" in not_ready.stderr
    stray_token = subprocess.run(
        [sys.executable, "-m", "ttsqueue", "jobs", "--token", "tq_x"],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cli.root,
    )
    assert stray_token.returncode == 2 and "--server" in stray_token.stderr
