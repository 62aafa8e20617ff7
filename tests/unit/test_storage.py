from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ttsqueue.storage import Storage, make_private_dir, write_atomic

# A writer that creates its temporary file, says so, and then takes its time.
SLOW_WRITER = """
import sys, time
from pathlib import Path
from ttsqueue.storage import write_atomic

def write(tmp: Path) -> None:
    tmp.write_bytes(b"half a chapter")
    print(tmp, flush=True)
    time.sleep(600)

write_atomic(Path(sys.argv[1]), write)
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_paths_round_trip_through_their_relative_form(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    path = storage.chapter_path("job-1", 0, ".m4a")
    assert path == tmp_path.resolve() / "job-1" / "chapter-001.m4a"
    assert storage.relative(path) == "job-1/chapter-001.m4a"
    assert storage.resolve("job-1/chapter-001.m4a") == path
    assert storage.book_path("job-1", ".m4b").name == "book.m4b"


@pytest.mark.parametrize("bad", ["../secret", "job/../../etc/passwd", "/etc/passwd"])
def test_resolve_refuses_paths_outside_the_root(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="outside storage"):
        Storage(tmp_path).resolve(bad)


@pytest.mark.parametrize("bad", ["", "../x", ".hidden", "a/b"])
def test_job_ids_cannot_escape(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        Storage(tmp_path).job_dir(bad)


def test_write_atomic_renames_into_place_and_cleans_up_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "d" / "out.wav"
    assert write_atomic(target, lambda tmp: tmp.write_bytes(b"abc")) == 3
    assert target.read_bytes() == b"abc"

    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise RuntimeError("encoder died")

    with pytest.raises(RuntimeError):
        write_atomic(target, broken)
    assert target.read_bytes() == b"abc"  # the old file is untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.wav"]


def test_directories_and_files_are_the_owners_alone(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a usual umask would leave them world-readable
    try:
        storage = Storage(tmp_path / "data" / "audio")
        target = storage.chapter_path("job-1", 0, ".m4a")
        write_atomic(target, lambda tmp: tmp.write_bytes(b"aac"))
        make_private_dir(tmp_path / "x" / "y")
    finally:
        os.umask(old)
    assert mode(target) == 0o600
    for d in (tmp_path / "data", tmp_path / "data" / "audio", target.parent, tmp_path / "x"):
        assert mode(d) == 0o700, d
    assert mode(tmp_path / "x" / "y") == 0o700


def start_writer(target: Path) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line, f"the writer died first (exit {proc.wait(10)})"
    return proc, Path(line)


def kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    if proc.stdout is not None:
        proc.stdout.close()


def test_sweep_removes_a_killed_writers_temp_file_never_a_live_ones(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    live, live_tmp = start_writer(storage.chapter_path("job-1", 0, ".m4a"))
    dead, dead_tmp = start_writer(storage.chapter_path("job-2", 3, ".m4a"))
    try:
        head = dead_tmp.with_name(dead_tmp.name + ".head")  # a file derived from it
        head.write_bytes(b"head")
        finished = storage.chapter_path("job-2", 0, ".m4a")
        write_atomic(finished, lambda tmp: tmp.write_bytes(b"done"))
        kill(dead)
        past = time.time() - 3600
        for p in (live_tmp, dead_tmp, head, finished):
            os.utime(p, (past, past))  # old enough for any age guard

        assert sorted(storage.sweep_temp(min_age_s=60)) == sorted([dead_tmp, head])

        assert live_tmp.exists() and live.poll() is None  # still being written
        assert finished.read_bytes() == b"done"
        assert storage.sweep_temp() == []
    finally:
        kill(live)
        kill(dead)
    assert storage.sweep_temp() == [live_tmp]


def test_sweep_leaves_young_files_to_their_age_guard(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    debris = storage.job_dir("job-1") / ".chapter-001.89abcdef.tmp.m4a"
    debris.parent.mkdir()
    debris.write_bytes(b"half")
    assert storage.sweep_temp(min_age_s=60) == []
    assert storage.sweep_temp(min_age_s=0) == [debris]
