"""The user's own path with the real CLI: a core install (no extra's module importable)
reads the sample book and every output format; local keys, listing, revoking, gc and
file modes as an operator meets them."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
from mutagen import mp4

from tests.acceptance.conftest import Cli, free_port, wait_until
from ttsqueue.models import OUTPUT_FORMATS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "sample-book.md"
# Modules only an extra brings; each is replaced by one that refuses to import.
EXTRAS_ONLY = ("numpy", "onnxruntime", "onnx", "psycopg", "psycopg_pool", "redis", "hiredis")
READY = re.compile(r"The sample book is ready: (?P<path>.+?) \(")


@pytest.fixture
def core_only(cli: Cli, tmp_path: Path) -> Cli:
    """Every process of ``cli`` (and its pool workers) sees a core install."""
    blocked = tmp_path / "core-only"
    for name in EXTRAS_ONLY:
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text(
            f"raise ImportError('{name} is not in the core install')\n"
        )
    cli.extra_env["PYTHONPATH"] = os.pathsep.join([str(blocked), str(ROOT)])
    return cli


def decoded_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(f.samples for f in container.decode(stream)) / stream.codec_context.sample_rate


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_up_exit_when_done_reads_the_sample_book_on_a_core_install(core_only: Cli) -> None:
    cli = core_only
    cli.extra_env["TTSQUEUE_PORT"] = str(free_port())
    up = cli.start("up", "--exit-when-done")
    assert up.wait(300) == 0, cli.log_of(up)

    found = READY.search(cli.log_of(up))
    assert found, cli.log_of(up)
    book = cli.root / found["path"]
    chapters = sorted(book.parent.glob("chapter-*.m4a"))
    titles = re.findall(r"^## (.+)$", SAMPLE.read_text(encoding="utf-8"), re.MULTILINE)
    assert len(chapters) == len(titles) == 4
    markers = mp4.MP4(str(book)).chapters
    assert markers is not None and [c.title for c in markers] == titles
    parts = sum(decoded_seconds(c) for c in chapters)
    assert decoded_seconds(book) == pytest.approx(parts, rel=0.01)

    # what it wrote is the owner's alone
    assert mode(cli.data_dir) == 0o700 and mode(book.parent) == 0o700
    assert mode(cli.root / "queue.db") == 0o600
    for path in [book, *chapters, cli.data_dir / "local-admin-token"]:
        assert mode(path) == 0o600, path


def test_exit_when_done_exits_non_zero_when_the_book_fails(cli: Cli) -> None:
    cli.extra_env.update({"TTSQUEUE_PORT": str(free_port()), "TTSQUEUE_MAX_ATTEMPTS": "1"})
    cli.data_dir.mkdir()
    (cli.data_dir / "audio").write_text("a file where the audio directory should be")
    up = cli.start("up", "--exit-when-done")
    assert up.wait(300) == 1, cli.log_of(up)
    assert "The sample book ended failed" in cli.log_of(up)


def test_a_core_install_reads_every_output_format(core_only: Cli) -> None:
    cli = core_only
    book = cli.root / "book.md"
    book.write_text("# Formats\n\n## One\n\nA short line.\n\n## Two\n\nAnother one.\n")
    jobs = {fmt: cli.run("submit", "book.md", "--format", fmt).strip() for fmt in OUTPUT_FORMATS}
    worker = cli.start("worker", "--concurrency", "2")

    def all_done() -> bool:
        listed = cli.run("jobs", "--limit", "50")
        assert " failed " not in listed, listed + cli.log_of(worker)
        return listed.count(" completed ") == len(jobs)

    wait_until(all_done, 240, "every format to be read")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0, cli.log_of(worker)
    for fmt, job in jobs.items():
        files = sorted(p.name for p in (cli.data_dir / "audio" / job).iterdir())
        assert f"book.{fmt}" in files, (fmt, files)
        assert decoded_seconds(cli.data_dir / "audio" / job / f"book.{fmt}") > 0.5


def start_up_and_read_token(cli: Cli) -> str:
    up = cli.start("up")
    token = re.compile(r"^\s+Token\s+(\S+)$", re.MULTILINE)
    wait_until(lambda: token.search(cli.log_of(up)) is not None, 60, "the banner")
    found = token.search(cli.log_of(up))
    assert found is not None
    up.send_signal(signal.SIGTERM)
    assert up.wait(30) == 0, cli.log_of(up)
    return found[1]


def test_ten_restarts_of_up_leave_one_local_admin_key(cli: Cli) -> None:
    cli.extra_env["TTSQUEUE_PORT"] = str(free_port())
    tokens = {start_up_and_read_token(cli) for _ in range(10)}
    assert len(tokens) == 1
    listed = cli.run("token", "list").splitlines()[1:]
    assert len(listed) == 1 and "admin" in listed[0] and "ttsqueue up" in listed[0]

    # revoked behind its back: the next start mints one and still leaves one
    (token,) = tokens
    cli.run("token", "revoke", token)
    fresh = start_up_and_read_token(cli)
    assert fresh != token
    assert len(cli.run("token", "list").splitlines()[1:]) == 1


def test_token_list_and_revoke_never_show_a_secret(cli: Cli) -> None:
    alice = cli.run("token", "create", "--user", "alice", "--label", "laptop").strip()
    bob = cli.run("token", "create", "--user", "bob", "--admin").strip()
    secrets = [t.split("_", 2)[2] for t in (alice, bob)]
    alice_id, bob_id = (t.split("_", 2)[1] for t in (alice, bob))

    listed = cli.run("token", "list")
    assert alice_id in listed and bob_id in listed and "laptop" in listed
    assert not any(s in listed for s in secrets)

    revoked = cli.run("token", "revoke", alice)  # by the full token
    assert revoked.strip() == f"revoked {alice_id}"
    assert cli.run("token", "revoke", bob_id).strip() == f"revoked {bob_id}"
    assert cli.run("token", "list").splitlines()[1:] == []

    for bad in (alice, f"ttsq_not-a-key_{secrets[0]}"):
        done = subprocess.run(
            [sys.executable, "-m", "ttsqueue", "token", "revoke", bad],
            env=cli.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2
        assert secrets[0] not in done.stdout + done.stderr


def test_gc_removes_audio_of_no_job_and_leaves_the_rest(cli: Cli) -> None:
    book = cli.root / "book.md"
    book.write_text("# Kept\n\n## One\n\nStill queued.\n")
    kept = cli.run("submit", "book.md").strip()
    (cli.data_dir / "audio" / kept).mkdir(parents=True)
    (cli.data_dir / "audio" / kept / "cover.png").write_bytes(b"png")
    orphan = cli.data_dir / "audio" / "job-of-no-store"
    orphan.mkdir()
    (orphan / "chapter-001.m4a").write_bytes(b"aac")
    (orphan / ".chapter-002.0123abcd.tmp.m4a").write_bytes(b"half")
    old = time.time() - 7200
    for path in (orphan, orphan / "chapter-001.m4a", orphan / ".chapter-002.0123abcd.tmp.m4a"):
        os.utime(path, (old, old))

    out = cli.run("gc")
    assert "removed 1 audio directories" in out, out
    assert sorted(p.name for p in (cli.data_dir / "audio").iterdir()) == [kept]
    stats = json.loads(cli.run("stats"))
    assert stats["jobs"]["queued"] == 1


# Holds a temporary file the way a worker writing a chapter does, until killed.
WRITER = """
import sys, time
from pathlib import Path
from ttsqueue.storage import write_atomic

def write(tmp: Path) -> None:
    tmp.write_bytes(b"half a chapter")
    print(tmp, flush=True)
    time.sleep(600)

write_atomic(Path(sys.argv[1]), write)
"""


def test_a_starting_worker_sweeps_killed_writers_temp_files_only(cli: Cli) -> None:
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(cli.data_dir / "audio" / job / "chapter-001.m4a")],
            env=cli.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for job in ("job-killed", "job-alive")
    ]
    try:
        killed, alive = (Path(w.stdout.readline().strip()) for w in writers if w.stdout)
        writers[0].send_signal(signal.SIGKILL)
        writers[0].wait(30)
        old = time.time() - 3600
        for path in (killed, alive):
            os.utime(path, (old, old))  # past any age guard: only the lock tells them apart

        worker = cli.start("worker", "--concurrency", "1")
        wait_until(lambda: not killed.exists(), 60, "the killed writer's file to be swept")
        assert alive.exists() and writers[1].poll() is None
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0, cli.log_of(worker)
        assert alive.exists()
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
            w.wait(30)
            if w.stdout:
                w.stdout.close()
